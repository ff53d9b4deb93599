"""What a training run shows besides the losses: the gradient norm, and a loss-curve PNG for offline users.

Used by :mod:`babylm.commands.fit`, which adds both callbacks to every ``fit`` (nothing to configure); nothing to
run on its own. :class:`GradNormLogger` logs ``train/grad_norm``; :class:`LossCurve` writes
``<checkpoint.dirpath>/loss_curve.png`` — ``train/loss`` and ``val/loss`` against the training tokens seen (bottom
axis) and the training words seen (top axis) — after every validation and at the end of ``fit``, so a run without
W&B (or offline) still has its curve beside its checkpoints. The points are kept in the checkpoint, so a resumed
run draws the whole curve.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import lightning as L
import torch

from babylm.core.atomic import atomic_output
from babylm.core.outputs import claim_files

LOSS_CURVE = "loss_curve.png"


class GradNormLogger(L.Callback):
    """Log ``train/grad_norm``: the global L2 norm of all gradients at each optimizer step, before clipping.

    Lightning calls ``on_before_optimizer_step`` after the gradients are accumulated (and unscaled under fp16
    AMP) and before ``gradient_clip_val`` clips them, so this is the norm the clipping compares with 1.0.
    """

    def on_before_optimizer_step(self, trainer: L.Trainer, pl_module: L.LightningModule, optimizer) -> None:
        """Compute and log the norm (a scalar tensor; no host sync here, Lightning reduces it when it logs)."""
        grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        if not grads:
            return
        if hasattr(torch.nn.utils, "get_total_norm"):  # torch >= 2.6
            norm = torch.nn.utils.get_total_norm(grads, norm_type=2.0)
        else:
            norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.detach(), 2.0) for g in grads]),
                                            2.0)
        pl_module.log("train/grad_norm", norm, on_step=True, on_epoch=False)


class LossCurve(L.Callback):
    """Draw ``loss_curve.png`` (train and validation loss against tokens and words seen) beside the checkpoints."""

    def __init__(self) -> None:
        self.train: list[tuple[int, float]] = []  # (tokens seen, mean train/loss of that optimizer step)
        self.val: list[tuple[int, float]] = []  # (tokens seen, val/loss)
        self._step_losses: list[float] = []
        self._last_step = -1

    def _directory(self, trainer: L.Trainer) -> Path:
        main = trainer.checkpoint_callback
        return (Path(main.dirpath) if main is not None and getattr(main, "dirpath", None)
                else Path(trainer.default_root_dir))

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Claim ``loss_curve.png`` in the checkpoint folder (refused in one line if a file we did not write is
        there)."""

        self._last_step = trainer.global_step
        if trainer.is_global_zero:
            claim_files(self._directory(trainer), [LOSS_CURVE], "fit", "checkpoint.dirpath")

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        """Collect the micro-batch losses; at each logging step keep their mean as one point."""
        loss = trainer.callback_metrics.get("train/loss")
        if loss is not None:
            self._step_losses.append(float(loss))
        if trainer.global_step == self._last_step:
            return  # still accumulating gradients
        self._last_step = trainer.global_step
        if self._step_losses and trainer.global_step % max(1, trainer.log_every_n_steps) == 0:
            self.train.append((int(pl_module.tokens_seen), sum(self._step_losses) / len(self._step_losses)))
        self._step_losses = []

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Keep the validation loss and redraw (rank 0; not during the sanity check)."""
        loss = trainer.callback_metrics.get("val/loss")
        if trainer.sanity_checking or loss is None or trainer.state.fn != "fit":
            return
        self.val.append((int(getattr(pl_module, "tokens_seen", 0)), float(loss)))
        self.draw(trainer)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Draw the final curve."""
        self.draw(trainer)

    def draw(self, trainer: L.Trainer) -> Optional[Path]:
        """Write the PNG (atomically, rank 0); returns its path, or None when there is nothing to draw yet."""
        if not trainer.is_global_zero or not (self.train or self.val):
            return None
        ratio = getattr(getattr(trainer, "datamodule", None), "words_per_token", None)
        path = self._directory(trainer) / LOSS_CURVE
        plot_loss_curve(self.train, self.val, path, float(ratio) if ratio else None, self._directory(trainer).name)
        return path

    def state_dict(self) -> dict[str, Any]:
        """The points so far (a resumed run draws the whole curve)."""
        return {"train": [list(p) for p in self.train], "val": [list(p) for p in self.val]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the points."""
        self.train = [(int(t), float(v)) for t, v in state_dict.get("train", [])]
        self.val = [(int(t), float(v)) for t, v in state_dict.get("val", [])]


def plot_loss_curve(train: list[tuple[int, float]], val: list[tuple[int, float]], path: str | Path,
                    words_per_token: Optional[float] = None, title: str = "") -> None:
    """Draw train/val loss (nats per token) against tokens seen, with words seen on the top axis; PNG at ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4.2), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    if train:
        axes.plot([t for t, _ in train], [v for _, v in train], color="#4c72b0", linewidth=1, label="train/loss")
    if val:
        axes.plot([t for t, _ in val], [v for _, v in val], color="#c44e52", marker="o", label="val/loss")
    axes.set_xlabel("training tokens seen")
    axes.set_ylabel("cross-entropy (nats/token)")
    if words_per_token:
        top = axes.secondary_xaxis("top", functions=(lambda t: t * words_per_token, lambda w: w / words_per_token))
        top.set_xlabel("training words seen")
    axes.set_title(f"loss: {title}" if title else "loss", fontsize=10, pad=26 if words_per_token else 6)
    axes.legend(fontsize=8, frameon=False)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    with atomic_output(path, "wb") as handle:
        figure.savefig(handle, format="png")
