"""The GPU suite's arithmetic and its Markdown summary (ready to paste into BENCHMARKS.md).

Part ``recipe`` (:func:`recipe_time`): the whole reference recipe's wall time on one GPU, by arithmetic from the
rates the ``throughput`` part measured and the token count of the prepared 10M-word corpus — each teacher for its
config's epochs, the teacher-cache build over every train window, the student for its epochs from the cache (and,
beside it, online) — against the goal of 15 minutes. Left out, and said so: validation passes, checkpoints and
exports, BLiMP at milestones, loading, and the CPU stages (prepare, tokenizer, encode).

:func:`markdown` turns the suite's JSON (``suite.json``) into the summary (``summary.md``). Pure functions:
no torch, no files.
"""

from __future__ import annotations

from typing import Optional

GOAL_MINUTES = 15.0


def recipe_time(rows: dict, train_tokens: int, epochs: dict, seq_len: int = 128) -> dict:
    """Minutes of each recipe stage from measured rates; returns ``{"stages", "totals", "missing", …}``.

    ``rows`` are the throughput rows (``tokens_per_s``; the cache build's ``windows_per_s``), ``train_tokens`` the
    train split's tokens, ``epochs`` ``{"teachers": [e1, e2], "student": e}`` from the configs. A stage whose row
    is missing is listed under ``missing`` and left out of the totals that need it (those totals are None).
    """
    def minutes(row: Optional[str], passes: float, key: str = "tokens_per_s", amount: float = train_tokens):
        speed = rows.get(row, {}).get(key) if row else None
        return passes * amount / speed / 60 if speed else None

    teacher_rows = [name for name in rows if name.startswith("teacher ")]
    stages = {name: minutes(name, e) for name, e in zip(teacher_rows, epochs["teachers"])}
    stages["teacher-cache build"] = minutes("teacher-cache build", 1, "windows_per_s", train_tokens // seq_len)
    stages["student from the cache"] = minutes("distillation from the cache", epochs["student"])
    stages["student online (2 teachers)"] = minutes("distillation online (2 teachers)", epochs["student"])
    stages["student alone (lower bound)"] = minutes("student alone", epochs["student"])
    missing = [name for name, value in stages.items() if value is None]
    teachers = [stages[name] for name in teacher_rows]
    known = len(teachers) == len(epochs["teachers"]) and None not in teachers

    def total(*parts) -> Optional[float]:
        return sum(parts) if known and None not in parts else None

    teacher_sum = sum(teachers) if known else None
    totals = {"teachers + cache build + cached student": total(teacher_sum or 0, stages["teacher-cache build"],
                                                               stages["student from the cache"]),
              "teachers + online student": total(teacher_sum or 0, stages["student online (2 teachers)"])}
    return {"train_tokens": train_tokens, "epochs": epochs, "stages_minutes": stages, "totals_minutes": totals,
            "goal_minutes": GOAL_MINUTES, "missing": missing,
            "meets_goal": {k: (v is not None and v < GOAL_MINUTES) for k, v in totals.items()}}


def _num(value, digits: int = 0, suffix: str = "") -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}{suffix}"


def _throughput_table(throughput: dict) -> list[str]:
    lines = ["| row | micro × accumulation | tokens/s | s/step | MFU | peak GPU memory GiB | "
             "micro-batch search: tokens/s |",
             "|---|---|---:|---:|---:|---:|---|"]
    for name, row in throughput.get("rows", {}).items():
        if "windows_per_s" in row:  # the cache build
            lines.append(f"| {name} ({row['method']}-{row['k']}, {row['batch_windows']} windows per forward) | — | "
                         f"{_num(row['teacher_tokens_per_s'])} teacher tokens/s ({_num(row['windows_per_s'], 1)} "
                         f"windows/s) | — | {_num(100 * row['mfu'], 1, '%')} | — | — |")
            continue
        search = ", ".join(f"{m}: {_num(v)}" if v else f"{m}: OOM"
                           for m, v in row.get("search_tokens_per_s", {}).items())
        ratio = f" (ours ÷ HF {row['ours_over_hf']:.2f}×, single pair)" if "ours_over_hf" in row else ""
        accumulation = row.get("accumulation", row["batch"] // row["micro"])
        lines.append(f"| {name}{ratio} | {row['micro']} × {accumulation} | {_num(row['tokens_per_s'])} | "
                     f"{_num(row['seconds_per_step'], 3)} | {_num(100 * row['mfu'], 1, '%')} | "
                     f"{_num(row.get('peak_memory_gib'), 1)} | {search or '—'} |")
    for name, reason in throughput.get("skipped", {}).items():
        lines.append(f"| {name} | {reason} | | | | | |")
    for name, error in throughput.get("failed_rows", {}).items():
        lines.append(f"| {name} | **failed**: {error} | | | | | |")
    return lines


def markdown(suite: dict) -> str:
    """The Markdown summary of a suite run (``suite.json`` as a dict); parts that did not run say why."""
    parts = suite.get("parts", {})
    out = [f"## GPU suite on {suite.get('device', '?')} (`benchmarks/gpu_suite.py`)", "",
           f"{suite.get('machine', '')}", "", f"Command: `{suite.get('command', '')}`; "
           f"{suite.get('wall_seconds', 0):.0f} s in all. Peak for MFU: {suite.get('peak_tflops')} TFLOP/s dense bf16 "
           f"(measured on the H200: KINDS.md). Model FLOPs per token = 6 × (parameters − input embedding) + "
           f"12 × layers × hidden × 128 (Kaplan et al. 2020 §2.1; PaLM appendix B); a forward is a third of that.", ""]
    for name, part in parts.items():
        status = part.get("status")
        if status not in ("ok", "partial"):
            out += [f"### {name}: {status}", "", f"{part.get('error', part.get('reason', ''))}", ""]
            continue
        flag = ", some rows failed" if status == "partial" else ""
        out += [f"### {name} ({part.get('seconds', 0):.0f} s{flag})", ""] + _part_lines(name, part) + [""]
    return "\n".join(out).rstrip() + "\n"


def _part_lines(name: str, part: dict) -> list[str]:
    if name == "tests":
        return [f"`{part['command']}`: {part['passed']} passed, {part['failed']} failed, {part['skipped']} skipped, "
                f"{part['errors']} errors."] + [f"- failed: `{t}`" for t in part.get("failures", [])]
    if name == "throughput":
        return [f"{part.get('precision', 'bf16-mixed')}, sequence 128, the recipe's effective batch; "
                f"{part.get('seconds_per_row')} s timed per row after the warm-up (best micro-batch of the search); "
                "one run per row.", ""] + _throughput_table(part)
    if name == "blimp":
        speed = ", ".join(f"batch {b}: {_num(v['pairs_per_s'])} pairs/s" for b, v in part["speed"].items())
        agree = part["gpu_vs_cpu"]
        return [f"{part['pairs']} pairs ({len(part['paradigms'])} paradigms), fp32: {speed}.",
                f"GPU vs CPU on {agree['pairs']} pairs of `{agree['paradigm']}`: largest summed log-prob difference "
                f"{agree['max_abs_logprob_difference']:.2e}; correct pairs {agree['correct_here']} vs "
                f"{agree['correct_cpu']}."]
    if name == "realrun":
        curves, runs = part["curves"], part["runs"]
        verdict = "agree" if curves["agree"] else "do NOT agree"
        first, second = runs["bf16-mixed"], runs["32-true"]
        return [f"Student architecture as a plain LM on `{part['corpus']}`, batch {part['batch']}; "
                f"{first['precision']} {first['steps']} steps ({_num(first['tokens_per_s'])} tokens/s), "
                f"then {second['precision']} {second['steps']} steps ({_num(second['tokens_per_s'])} tokens/s).",
                f"The curves {verdict} (threshold {curves['agree_threshold_nats']} nats): mean |Δloss| "
                f"{curves['mean_abs_difference']:.4f}, largest smoothed |Δ| "
                f"{curves['max_abs_difference_smoothed']:.4f} "
                f"(mean of {curves['smoothing']} steps), final {curves['final_smoothed'][0]:.4f} vs "
                f"{curves['final_smoothed'][1]:.4f} ({100 * curves['final_relative_difference']:.2f}%); val loss (fp32 "
                f"eval) {runs['bf16-mixed']['val_loss_fp32']:.4f} vs {runs['32-true']['val_loss_fp32']:.4f}. "
                f"Figure: `{part.get('figure', '—')}`."]
    if name == "recipe":
        epochs = part["epochs"]
        lines = [f"The reference recipe on one GPU by arithmetic: {part['train_tokens']:,} train tokens "
                 f"(10M-word EB1911 corpus), teachers {' + '.join(map(str, epochs['teachers']))} epochs, student "
                 f"{epochs['student']}; goal < {part['goal_minutes']:.0f} min.", "",
                 "| stage | minutes |", "|---|---:|"]
        lines += [f"| {stage} | {_num(value, 1)} |" for stage, value in part["stages_minutes"].items()]
        lines += [f"| **{label}** | **{_num(value, 1)}** ({'meets' if part['meets_goal'][label] else 'misses'} the "
                  f"goal) |" for label, value in part["totals_minutes"].items()]
        return lines + ["", "Not counted: validation, checkpoints/exports, BLiMP milestones, loading, CPU data stages."]
    if name == "train10m":
        blimp = part.get("blimp", {})
        return [f"Student alone on `{part['corpus']}`: {part['steps']:,} steps, {part['words_seen'] / 1e6:.1f}M words "
                f"({part['epochs']:.2f} epochs) in {part['wall_seconds']:.0f} s, {_num(part['tokens_per_s'])} "
                f"tokens/s, "
                f"MFU {100 * part['mfu']:.1f}%; val loss {part.get('val_loss', float('nan')):.4f}; BLiMP "
                f"{100 * blimp.get('accuracy', float('nan')):.1f}% (mean of {blimp.get('paradigms')} paradigms, "
                f"{blimp.get('pairs')} pairs, {blimp.get('seconds', 0):.0f} s)."]
    return [f"`{part}`"]
