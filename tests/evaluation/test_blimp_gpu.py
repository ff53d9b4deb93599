"""BLiMP on a GPU scores what it scores on the CPU: fp32, same model, same pairs (marked ``gpu``).

Run by ``benchmarks/gpu_suite.py`` (``pytest -m gpu``) on a lent GPU; skipped without CUDA. The models are the
tiny exports of ``conftest.py`` (a wide initialisation, so the scores are far from uniform); the pairs are the
bundled sample and, when present, the first 50 pairs of four real BLiMP paradigms.
"""

from __future__ import annotations

import pytest
import torch

from babylm.evaluation.blimp import SAMPLE_BLIMP_DIR, evaluate_blimp, load_blimp_dir
from babylm.models.export import load_exported

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]
MARGIN = 1e-3  # a pair whose good−bad gap is under this may be decided either way by rounding


def paradigms_to_score(shared: bool):
    from tests.conftest import SHARED_DATA

    found = [load_blimp_dir(SAMPLE_BLIMP_DIR)]
    blimp = SHARED_DATA / "blimp-dev"
    if shared and blimp.is_dir():
        names = sorted(p.stem for p in blimp.glob("*.jsonl"))[:4]
        found.append(load_blimp_dir(blimp, paradigms=names, limit=50))
    return [p for group in found for p in group]


@pytest.mark.parametrize("arch", ["llama", "gpt2", "gptj"])
def test_fp32_scores_on_the_gpu_equal_the_cpu_scores(arch, exported_models):
    model, tokenizer = load_exported(exported_models[arch])  # fp32, CPU
    paradigms = paradigms_to_score(shared=True)
    on_cpu = evaluate_blimp(model, tokenizer, paradigms, batch_size=16)
    on_gpu = evaluate_blimp(model.to("cuda"), tokenizer, paradigms, batch_size=64)

    assert next(model.parameters()).dtype == torch.float32
    for cpu, gpu in zip(on_cpu, on_gpu):
        cpu_scores, gpu_scores = cpu.good_logprobs + cpu.bad_logprobs, gpu.good_logprobs + gpu.bad_logprobs
        assert gpu_scores == pytest.approx(cpu_scores, abs=1e-3, rel=1e-5), cpu.uid
        pairs = zip(cpu.good_logprobs, cpu.bad_logprobs, gpu.good_logprobs, gpu.bad_logprobs)
        for good, bad, gpu_good, gpu_bad in pairs:
            if abs(good - bad) > MARGIN:
                assert (good > bad) == (gpu_good > gpu_bad), cpu.uid
    assert sum(r.correct for r in on_gpu) == pytest.approx(sum(r.correct for r in on_cpu), abs=sum(
        abs(g - b) <= MARGIN for r in on_cpu for g, b in zip(r.good_logprobs, r.bad_logprobs)))
