"""TokenizedDataModule: windows, seeded order, rank shards, workers, resume, accumulation, clear errors."""

from __future__ import annotations

import json
import shutil

import lightning as L
import numpy as np
import pytest
import torch

from babylm.data.tokens.datamodule import (
    DataConfigError,
    SubsetSampler,
    TokenizedDataModule,
    TrainWindowSampler,
    WindowDataset,
)
from babylm.data.tokens.encode import EncodeError
from babylm.data.tokens.tokenizer import TokenizerError, load_tokenizer, save_tokenizer, train_tokenizer
from tests.data.tokens.fixtures import make_tiny_encoding, tiny_encoding  # noqa: F401 (fixture)

SEQ = 32


def make_dm(enc, **kwargs) -> TokenizedDataModule:
    settings = dict(tokenizer_path=str(enc.tokenizer_path), tokenized_dir=str(enc.tokenized_dir),
                    seq_len=SEQ, batch_size=16, num_workers=0, eval_samples=8)
    settings.update(kwargs)
    return TokenizedDataModule(**settings)


def stream(enc, split="train") -> np.ndarray:
    return np.fromfile(enc.encoded_dir / f"{split}.bin", dtype=np.uint16)


def first_tokens(loader) -> list[list[int]]:
    return [batch["input_ids"][:, :4].tolist() for batch in loader]


def test_properties_available_after_init(tiny_encoding):
    dm = make_dm(tiny_encoding)
    meta = json.loads((tiny_encoding.encoded_dir / "meta.json").read_text())
    assert (dm.vocab_size == load_tokenizer(tiny_encoding.tokenizer_path).get_vocab_size()
            == meta["tokenizer"]["vocab_size"])
    assert dm.tokenizer_path == str(tiny_encoding.tokenizer_path)
    train = meta["splits"]["train"]
    assert dm.words_per_token == pytest.approx(train["words"] / train["tokens"])
    assert 0.5 < dm.words_per_token < 1.5


def test_windows_cover_the_stream_without_padding(tiny_encoding):
    tokens = stream(tiny_encoding)
    dataset = make_dm(tiny_encoding)._dataset("train")
    assert len(dataset) == len(tokens) // SEQ
    windows = np.stack([dataset[i]["input_ids"].numpy() for i in range(len(dataset))])  # (N, SEQ)
    assert windows.dtype == np.int64
    np.testing.assert_array_equal(windows.reshape(-1), tokens[: len(dataset) * SEQ])


def test_one_epoch_visits_each_window_once(tiny_encoding):
    dm = make_dm(tiny_encoding)
    batches = [batch["input_ids"] for batch in dm.train_dataloader()]
    assert all(batch.shape == (16, SEQ) for batch in batches)
    seen = torch.cat(batches)  # (steps*16, SEQ)
    windows = torch.from_numpy(stream(tiny_encoding)[: len(dm._dataset("train")) * SEQ].astype(np.int64)).view(-1, SEQ)
    assert len(seen) == len(windows) // 16 * 16  # whole effective batches only
    as_rows = {tuple(row) for row in windows.tolist()}
    assert len({tuple(row) for row in seen.tolist()}) == len(seen)  # no window twice
    assert all(tuple(row) in as_rows for row in seen.tolist())


def test_order_is_fixed_by_seed_and_changes_per_epoch(tiny_encoding):
    first = first_tokens(make_dm(tiny_encoding).train_dataloader())
    assert first == first_tokens(make_dm(tiny_encoding).train_dataloader())
    assert first != first_tokens(make_dm(tiny_encoding, seed=99).train_dataloader())
    loader = make_dm(tiny_encoding).train_dataloader()
    loader.sampler.set_epoch(1)
    epoch1 = first_tokens(loader)
    assert epoch1 != first
    assert sorted(map(str, epoch1)) != sorted(map(str, first)) or epoch1 != first


def test_rank_shards_are_disjoint_and_make_the_same_global_batches(tiny_encoding):
    dataset = WindowDataset(tiny_encoding.encoded_dir / "train.bin", len(stream(tiny_encoding)), SEQ)
    single = list(TrainWindowSampler(dataset, batch_size=16, micro_batch_size=4, seed=3))
    shards = [list(TrainWindowSampler(dataset, 16, 4, seed=3, rank=r, world_size=2)) for r in (0, 1)]
    assert not set(shards[0]) & set(shards[1])
    assert len(shards[0]) == len(shards[1]) == len(single) // 2
    # each optimizer step (16 windows = 2 micro-batches of 4 per rank) holds the same windows on 1 or 2 devices
    for step in range(len(single) // 16):
        one_device = set(single[step * 16 : (step + 1) * 16])
        two_devices = set(shards[0][step * 8 : (step + 1) * 8]) | set(shards[1][step * 8 : (step + 1) * 8])
        assert one_device == two_devices


def test_positions_fix_step_and_slot_whatever_the_devices_micro_batches_and_resume(tiny_encoding):
    """The hybrid objective masks the windows in a step's first slots: the same windows on any layout."""
    dataset = WindowDataset(tiny_encoding.encoded_dir / "train.bin", len(stream(tiny_encoding)), SEQ)

    def positions(micro: int, world: int, epoch: int = 1, resume: int = 0) -> dict[int, int]:
        samplers = [TrainWindowSampler(dataset, 16, micro, seed=3, rank=r, world_size=world, positions=True)
                    for r in range(world)]
        found = {}
        for sampler in samplers:
            sampler.set_epoch(epoch)
            if resume:
                sampler.resume(resume)
            found.update(dict(iter(sampler)))  # (window, position) pairs
        return found

    reference = positions(micro=16, world=1)
    per_epoch = len(reference)
    assert sorted(reference.values()) == list(range(per_epoch, 2 * per_epoch))  # epoch 1 follows epoch 0
    assert positions(micro=2, world=1) == positions(micro=4, world=2) == positions(micro=2, world=4) == reference
    resumed = positions(micro=4, world=2, resume=per_epoch + 32)  # after two steps of epoch 1
    assert resumed == {w: p for w, p in reference.items() if p >= per_epoch + 32}
    batch = dataset[(5, 37)]
    assert batch["position"].item() == 37 and torch.equal(batch["input_ids"], dataset[5]["input_ids"])


def test_validation_subset_is_fixed_seeded_and_sharded(tiny_encoding):
    dm = make_dm(tiny_encoding, eval_samples=10)
    indices = dm.validation_indices()
    assert len(indices) == 10 and len(set(indices.tolist())) == 10
    np.testing.assert_array_equal(indices, make_dm(tiny_encoding, eval_samples=10).validation_indices())
    assert not np.array_equal(indices, make_dm(tiny_encoding, eval_samples=10, seed=5).validation_indices())
    total = len(stream(tiny_encoding, "val")) // SEQ
    assert len(make_dm(tiny_encoding, eval_samples=10_000).validation_indices()) == total
    dataset = dm._dataset("val")
    shards = [list(SubsetSampler(dataset, indices, rank=r, world_size=3)) for r in range(3)]
    assert all(len(shard) == 3 for shard in shards)  # 10 → 9, equal shares so no rank waits for another
    assert len(set().union(*shards)) == 9
    assert sum(len(batch["input_ids"]) for batch in dm.val_dataloader()) == 10


def test_worker_processes_give_the_same_batches(tiny_encoding):
    """Workers are never forked from the training process: a forked worker keeps alive every page of a CPU
    model that the optimizer rewrites (GPT-J 705M on the 10M-word corpus: +2.9 GB per worker, 23 GB in all)."""
    dm0 = make_dm(tiny_encoding, num_workers=0)
    dm2 = make_dm(tiny_encoding, num_workers=2)
    for loader in (dm2.train_dataloader(), dm2.val_dataloader()):
        assert loader.multiprocessing_context.get_start_method() in ("forkserver", "spawn")
    assert dm0.train_dataloader().multiprocessing_context is None
    assert first_tokens(dm2.train_dataloader()) == first_tokens(dm0.train_dataloader())
    assert first_tokens(dm2.val_dataloader()) == first_tokens(dm0.val_dataloader())


class Recorder(L.LightningModule):
    """Records the first tokens of each micro-batch it trains on."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.seen: list[list[int]] = []

    def training_step(self, batch, batch_idx):
        self.seen.append(batch["input_ids"][:, 0].tolist())
        return self.weight.sum() * 0.0 + self.weight.square().sum()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def fit(enc, root, max_steps, ckpt_path=None):
    dm = make_dm(enc, batch_size=16, micro_batch_size=8)
    module = Recorder()
    checkpoint = L.pytorch.callbacks.ModelCheckpoint(dirpath=root, save_last=True, every_n_train_steps=1)
    trainer = L.Trainer(max_steps=max_steps, logger=False, enable_progress_bar=False, enable_model_summary=False,
                        callbacks=[checkpoint], limit_val_batches=0, num_sanity_val_steps=0)
    trainer.fit(module, dm, ckpt_path=ckpt_path)
    assert trainer.accumulate_grad_batches == 2  # 16 / (8 × 1 device)
    return module.seen


def test_resume_continues_with_the_next_batch(tiny_encoding, tmp_path):
    steps_per_epoch = (len(stream(tiny_encoding)) // SEQ) // 16
    total, stop = steps_per_epoch + 4, steps_per_epoch + 1  # stop just after the first epoch boundary
    uninterrupted = fit(tiny_encoding, tmp_path / "a", total)
    before = fit(tiny_encoding, tmp_path / "b", stop)
    after = fit(tiny_encoding, tmp_path / "b", total, ckpt_path=str(tmp_path / "b" / "last.ckpt"))
    assert len(uninterrupted) == 2 * total  # two micro-batches per optimizer step
    assert before + after == uninterrupted


def test_effective_batch_must_divide(tiny_encoding):
    dm = make_dm(tiny_encoding, batch_size=16, micro_batch_size=6)
    with pytest.raises(DataConfigError, match="batch_size 16 is not a multiple of data.micro_batch_size 6"):
        dm.accumulation(1)
    assert make_dm(tiny_encoding, batch_size=16, micro_batch_size=4).accumulation(2) == 2


def test_unset_micro_batch_shares_the_batch_across_devices(tiny_encoding):
    dm = make_dm(tiny_encoding, batch_size=16, micro_batch_size=None)
    assert dm.accumulation(1) == 1 and dm.micro_batch_size == 16
    assert dm.accumulation(2) == 1 and dm.micro_batch_size == 8  # same 16 windows per step on 2 devices
    with pytest.raises(DataConfigError, match="batch_size 16 cannot be shared equally by 3 device"):
        dm.accumulation(3)


def test_missing_encoding_names_the_encode_command(tiny_encoding, tmp_path):
    with pytest.raises(EncodeError, match="no encoding for tokenizer .*python -m babylm encode"):
        make_dm(tiny_encoding, tokenized_dir=str(tmp_path / "empty"))


def test_missing_tokenizer_is_a_clear_error(tiny_encoding, tmp_path):
    with pytest.raises(TokenizerError, match="tokenizer not found"):
        make_dm(tiny_encoding, tokenizer_path=str(tmp_path / "nope.json"))


def test_mismatched_tokenizer_is_a_clear_error(tiny_encoding, tmp_path):
    other = tmp_path / "other.json"
    save_tokenizer(train_tokenizer(texts=["a different corpus entirely"] * 5, vocab_size=300), other)
    with pytest.raises(EncodeError, match="found encodings for other tokenizers"):
        make_dm(tiny_encoding, tokenizer_path=str(other))
    with pytest.raises(EncodeError, match="encoded with tokenizer .* but .*other.json"):
        make_dm(tiny_encoding, tokenizer_path=str(other), tokenized_dir=str(tiny_encoding.encoded_dir))


def test_split_shorter_than_a_window_is_a_clear_error(tiny_encoding):
    with pytest.raises(EncodeError, match="val split has .* fewer than one window"):
        make_dm(tiny_encoding, seq_len=4096, batch_size=1)
    with pytest.raises(EncodeError, match="train split has .* fewer than 100000 windows"):
        make_dm(tiny_encoding, batch_size=100_000)


def test_truncated_token_file_is_a_clear_error(tmp_path):
    enc = make_tiny_encoding(tmp_path, train_articles=40, val_articles=5)
    shutil.copy(enc.encoded_dir / "val.bin", tmp_path / "val.bin")
    with open(enc.encoded_dir / "val.bin", "r+b") as handle:
        handle.truncate(10)
    with pytest.raises(EncodeError, match="val.bin: missing or truncated"):
        make_dm(enc, batch_size=4)


def test_token_ids_beyond_the_vocabulary_are_caught_when_the_file_is_opened(tmp_path):
    enc = make_tiny_encoding(tmp_path, train_articles=40, val_articles=5)
    ids = np.memmap(enc.encoded_dir / "train.bin", dtype=np.uint16, mode="r+")
    ids[123] = 65535
    ids.flush()
    del ids
    with pytest.raises(EncodeError) as error:
        make_dm(enc, batch_size=4)
    message = str(error.value)
    assert message.startswith(f"{enc.encoded_dir / 'train.bin'}: token id 65535 (first bad one at position 123)")
    assert "python -m babylm encode" in message and "--force" in message and "\n" not in message


@pytest.mark.parametrize("text", ['{"format_version": 1}', "[" * 100_000, "garbage", '{"format_version": 0}'])
def test_a_damaged_meta_json_is_named_with_the_fix(text, tmp_path):
    enc = make_tiny_encoding(tmp_path, train_articles=40, val_articles=5)
    (enc.encoded_dir / "meta.json").write_text(text)
    with pytest.raises(EncodeError) as error:
        make_dm(enc, batch_size=4)
    message = str(error.value)
    assert message.startswith(str(enc.encoded_dir / "meta.json")) and "encode --force" in message
    assert "other tokenizers" not in message and "\n" not in message
