"""Train a slice CNN (sequence head, optional orientation head) and export it to ONNX."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from radclass.learning.loop import BestWeights, EpochLoop, Goal
from radclass.learning.seeding import seed_everything
from radclass.networks import build_network
from radclass.taxonomy import SEQUENCES
from radclass.training.augment import Augment
from radclass.training.slice_data import ORIENT_HEAD, SliceSet


@dataclass
class CnnConfig:
    network: str = "multitask"
    epochs: int = 12
    steps_per_epoch: int = 0  # 0: one pass over the training slices per epoch
    batch_size: int = 32
    lr: float = 1e-3
    lr_decay: float = 0.0  # per-epoch inverse-time decay: lr of epoch e = lr / (1 + lr_decay * e) (Ranjbar)
    weight_decay: float = 1e-4
    class_weighted_loss: bool = False  # inverse-frequency weights in the sequence loss (Kasmanoff)
    balanced_sampling: bool = True  # class-balanced batches (radclass); False: uniform over the slices
    patience: int = 5  # epochs without validation improvement before lr /= 10 (Kasmanoff)
    early_stop: int = 8
    seed: int = 0
    augment: Augment = field(default_factory=Augment)
    threads: int = 2
    deadline: float | None = None  # time.monotonic() at which training stops (after at least one step)
    init_weights: str | None = None  # a torch state_dict (a bundle's cnn.pt) to start from: fine-tuning


def _balanced_weights(seq: np.ndarray, n_classes: int) -> np.ndarray:
    counts = np.bincount(seq, minlength=n_classes).astype(float)
    w = np.where(counts > 0, 1.0 / np.maximum(counts, 1), 0.0)
    return w[seq] / w[seq].sum()


def _outputs(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    out = model(x)
    return (out[0], out[1]) if isinstance(out, tuple) else (out, None)


def train_cnn(
    train: SliceSet,
    val: SliceSet | None,
    config: CnnConfig,
    progress: Callable[[int, int, dict], None] | None = None,
    monitor: SliceSet | None = None,
) -> tuple[nn.Module, list[dict]]:
    """Class-balanced sampling, sequence CE + masked orientation CE, Adam, lr/10 on plateau, early stop; the epochs
    run in :class:`radclass.learning.loop.EpochLoop`.

    Parameters
    ----------
    train, val
        Training slices; ``val`` (optional) drives the plateau schedule, early stopping and the choice of the
        best epoch (its balanced accuracy, maximised).
    config
        Network and schedule; ``config.deadline`` stops training when passed (the best epoch so far, or the
        last one without ``val``, is returned) and ``config.init_weights`` fine-tunes from saved weights.
    progress
        Called after every epoch with ``(epoch, epochs, record)``.
    monitor
        Slices only reported (``monitor_acc`` in the record, e.g. for a progress bar); never used for a choice.
    """
    rng, gen = seed_everything(config.seed, config.threads)
    kwargs = {"n_orientations": len(ORIENT_HEAD)} if config.network == "multitask" else {}
    model = build_network(config.network, len(SEQUENCES), **kwargs)
    if config.init_weights:
        model.load_state_dict(torch.load(config.init_weights, map_location="cpu", weights_only=True))
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.1, patience=config.patience)
    probs = _balanced_weights(train.seq, len(SEQUENCES)) if config.balanced_sampling else None
    counts = np.bincount(train.seq, minlength=len(SEQUENCES)).astype(np.float32)
    loss_w = (
        torch.from_numpy(
            np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / max((counts > 0).sum(), 1), 0.0).astype(
                np.float32
            )
        )
        if config.class_weighted_loss
        else None
    )
    steps = config.steps_per_epoch or max(1, len(train.x) // config.batch_size)

    def batches(_epoch: int) -> Iterator[np.ndarray]:
        for _ in range(steps):
            yield rng.choice(len(train.x), config.batch_size, p=probs)

    def loss(idx: np.ndarray) -> tuple[torch.Tensor, int]:
        x = config.augment(torch.from_numpy(train.x[idx]), gen)
        seq_logits, orient_logits = _outputs(model, x)
        value = F.cross_entropy(seq_logits, torch.from_numpy(train.seq[idx]), weight=loss_w)
        if orient_logits is not None:
            o = torch.from_numpy(train.orient[idx])
            if (o >= 0).any():
                value = value + F.cross_entropy(orient_logits, o, ignore_index=-1)
        return value, len(idx)

    def decay(epoch: int) -> None:  # lr_e = lr / (1 + d e), times any plateau reductions
        if config.lr_decay and epoch:
            for group in opt.param_groups:
                group["lr"] *= (1 + config.lr_decay * (epoch - 1)) / (1 + config.lr_decay * epoch)

    def evaluate(net: nn.Module) -> dict[str, float]:
        record: dict[str, float] = {}
        if monitor is not None and len(monitor.x):
            record["monitor_acc"] = float((predict_proba(net, monitor.x)[0].argmax(1) == monitor.seq).mean())
        if val is not None and len(val.x):
            from radclass.evaluate.metrics import balanced_accuracy  # the eval extra, only with validation slices

            pred = predict_proba(net, val.x)[0].argmax(1)
            record["val_acc"] = float((pred == val.seq).mean())
            record["val_bal_acc"] = balanced_accuracy(val.seq, pred, empty=0.0)
        return record

    best = BestWeights(Goal.MAXIMISE)
    result = EpochLoop(
        model,
        opt,
        config.epochs,
        batches,
        loss,
        evaluate=evaluate,
        monitor="val_bal_acc",
        best=best,
        patience=config.early_stop,
        plateau=sched,
        deadline=config.deadline,
        before_epoch=decay,
        on_epoch=(lambda record: progress(record["epoch"], config.epochs, record)) if progress else None,
    ).run()
    best.restore(model)
    model.eval()
    return model, result.history


@torch.no_grad()
def predict_proba(model: nn.Module, x: np.ndarray, batch: int = 128) -> tuple[np.ndarray, np.ndarray | None]:
    """Softmax probabilities of the sequence head (and orientation head when there is one)."""
    model.eval()
    seqs, orients = [], []
    for i in range(0, len(x), batch):
        s, o = _outputs(model, torch.from_numpy(x[i : i + batch]))
        seqs.append(F.softmax(s, 1).numpy())
        if o is not None:
            orients.append(F.softmax(o, 1).numpy())
    return np.concatenate(seqs), (np.concatenate(orients) if orients else None)


class _Softmaxed(nn.Module):
    """Export wrapper: probabilities for both heads (orientation all-zero for single-head networks)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s, o = _outputs(self.model, x)
        if o is None:
            o = torch.zeros(x.shape[0], len(ORIENT_HEAD))
        return F.softmax(s, 1), F.softmax(o, 1)


def export_cnn_onnx(model: nn.Module, size: int, path: Path) -> None:
    """ONNX with input ``slices`` (n,1,size,size) and outputs ``sequence`` and ``orientation`` probabilities."""
    model.eval()
    dummy = torch.zeros(2, 1, size, size)
    torch.onnx.export(
        _Softmaxed(model),
        (dummy,),
        str(path),
        input_names=["slices"],
        output_names=["sequence", "orientation"],
        opset_version=17,
        dynamo=False,
        dynamic_axes={"slices": {0: "n"}, "sequence": {0: "n"}, "orientation": {0: "n"}},
    )
