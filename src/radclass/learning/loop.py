"""The one epoch loop of every recipe: train steps over the batches of an epoch, an evaluation after it, the
choice of the best weights on a monitored score, early stopping, a learning-rate plateau, a time box and a
per-epoch callback.

A recipe supplies what differs: its batches and loss (:class:`EpochLoop` ``batches`` and ``loss``), its
evaluation (a dict of measures per epoch), and optional hooks (per-step scheduler, per-epoch learning-rate
decay, its own train mode, e.g. frozen batch-norm layers). Several phases (e.g. frozen then unfrozen fine-tuning)
share one :class:`BestWeights` and continue the epoch numbering with ``start_epoch``.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

import torch
from torch import nn

__all__ = ["BestWeights", "EpochLoop", "Goal", "LoopResult", "Stop", "one_cycle_step", "past"]

Batch = TypeVar("Batch")


class Goal(StrEnum):
    """Direction in which a monitored score improves (as ``mode`` of ``torch.optim.lr_scheduler.ReduceLROnPlateau``)."""

    MINIMISE = "min"
    """Lower is better (a loss)."""
    MAXIMISE = "max"
    """Higher is better (an accuracy)."""


class Stop(StrEnum):
    """Why a loop ended before its last epoch (the value is what the records and reports say)."""

    EARLY_STOPPING = "early stopping"
    """``patience`` candidate epochs in a row without improvement of the monitored score."""
    TIME_LIMIT = "time limit"
    """The ``deadline`` passed."""


def past(deadline: float | None) -> bool:
    """Whether the ``time.monotonic()`` deadline (None: none) has passed."""
    return deadline is not None and time.monotonic() >= deadline


def one_cycle_step(scheduler: torch.optim.lr_scheduler.OneCycleLR) -> None:
    """Advance a one-cycle schedule by one step, never past its last step (an ``after_step`` hook)."""
    if scheduler.last_epoch < scheduler.total_steps - 1:
        scheduler.step()


@dataclass
class BestWeights:
    """The weights of the best monitored score seen so far, and its epoch.

    Parameters
    ----------
    goal
        Whether the score is minimised or maximised.
    min_delta
        An epoch improves only by more than this margin.
    """

    goal: Goal = Goal.MAXIMISE
    min_delta: float = 0.0
    score: float = field(init=False)
    epoch: int = field(default=0, init=False)
    state: dict[str, Any] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.goal = Goal(self.goal)
        if self.min_delta < 0:
            raise ValueError(f"The improvement margin min_delta must not be negative; got {self.min_delta}.")
        self.score = math.inf if self.goal is Goal.MINIMISE else -math.inf

    def offer(self, model: nn.Module, score: float, epoch: int) -> bool:
        """Keep a copy of ``model``'s weights when ``score`` improves on the best; returns whether it did."""
        better = (
            score < self.score - self.min_delta if self.goal is Goal.MINIMISE else score > self.score + self.min_delta
        )
        if better:
            self.score, self.epoch, self.state = score, epoch, copy.deepcopy(model.state_dict())
        return better

    def restore(self, model: nn.Module) -> bool:
        """Load the kept weights into ``model``; False when none were kept."""
        if self.state is None:
            return False
        model.load_state_dict(self.state)
        return True


@dataclass
class LoopResult:
    """Per-epoch records (``epoch``, ``loss``, ``lr``, the evaluation's measures; ``stopped`` on the last record
    when the time limit ended the loop) and why the loop ended early (None: it ran all its epochs)."""

    history: list[dict[str, Any]] = field(default_factory=list)
    stopped: Stop | None = None


@dataclass
class EpochLoop(Generic[Batch]):
    """Train ``model`` for up to ``epochs`` epochs.

    Parameters
    ----------
    model, optimizer
        The network and its optimizer.
    epochs
        Epochs of this loop (records are numbered from ``start_epoch + 1``).
    batches
        ``batches(epoch)`` yields the batches of an epoch (0-based index within this loop).
    loss
        ``loss(batch)`` runs the forward pass and returns ``(loss, n_samples)``; the loop does the backward pass
        and the optimizer step; the record's ``loss`` is the sample-weighted mean.
    evaluate
        ``evaluate(model)`` after each epoch: measures added to the record (e.g. ``val_loss``, ``val_acc``).
    monitor, best
        The record key that selects the best weights, and where they are kept (shared across phases); epochs
        without the key (no validation data) neither select nor count towards ``patience``.
    first_candidate
        First epoch (1-based within this loop) whose weights may be selected; earlier ones never count as stale.
    patience
        Stop after this many candidate epochs without improvement (0: never).
    plateau
        A ``ReduceLROnPlateau`` stepped with the monitored score after each evaluated epoch.
    deadline
        A ``time.monotonic()`` time box: no further step once passed (after at least one), no further epoch.
    after_step, before_epoch, train_mode, on_epoch
        Hooks: after every optimizer step (a per-step scheduler); before every epoch with its 0-based index
        (a per-epoch learning-rate decay); instead of ``model.train()``; with every finished record.
    lr_group, tags, start_epoch
        The optimizer group whose rate is recorded; constant entries of every record (e.g. the phase); epochs
        already run by earlier phases.
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer
    epochs: int
    batches: Callable[[int], Iterable[Batch]]
    loss: Callable[[Batch], tuple[torch.Tensor, int]]
    evaluate: Callable[[nn.Module], dict[str, float]] | None = None
    monitor: str | None = None
    best: BestWeights | None = None
    first_candidate: int = 1
    patience: int = 0
    plateau: torch.optim.lr_scheduler.ReduceLROnPlateau | None = None
    deadline: float | None = None
    after_step: Callable[[], None] | None = None
    before_epoch: Callable[[int], None] | None = None
    train_mode: Callable[[], None] | None = None
    on_epoch: Callable[[dict[str, Any]], None] | None = None
    lr_group: int = 0
    tags: dict[str, Any] = field(default_factory=dict)
    start_epoch: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 0:
            raise ValueError(f"The number of epochs must not be negative; got {self.epochs}.")
        if self.patience < 0:
            raise ValueError(f"The early-stopping patience must not be negative; got {self.patience}.")
        if self.monitor is not None and self.best is None:
            self.best = BestWeights()

    def run(self) -> LoopResult:
        """Run the epochs; the model is left with its last weights (restore ``best`` to select)."""
        result = LoopResult()
        stale = 0
        for k in range(self.epochs):
            if self.before_epoch is not None:
                self.before_epoch(k)
            if self.train_mode is not None:
                self.train_mode()
            else:
                self.model.train()
            total, seen, steps = 0.0, 0, 0
            for batch in self.batches(k):
                if steps and past(self.deadline):
                    break
                loss, n = self.loss(batch)
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                if self.after_step is not None:
                    self.after_step()
                total, seen, steps = total + float(loss.detach()) * n, seen + n, steps + 1
            epoch = self.start_epoch + k + 1
            record: dict[str, Any] = {"epoch": epoch, **self.tags, "loss": total / max(seen, 1)}
            record["lr"] = self.optimizer.param_groups[self.lr_group]["lr"]
            if self.evaluate is not None:
                record.update(self.evaluate(self.model))
            if self.monitor is not None and self.monitor in record:
                score = float(record[self.monitor])
                if self.plateau is not None:
                    self.plateau.step(score)
                if k + 1 >= self.first_candidate:
                    assert self.best is not None  # set in __post_init__
                    stale = 0 if self.best.offer(self.model, score, epoch) else stale + 1
            if self.patience and stale >= self.patience:
                result.stopped = Stop.EARLY_STOPPING
            elif past(self.deadline):
                result.stopped = record["stopped"] = Stop.TIME_LIMIT
            result.history.append(record)
            if self.on_epoch is not None:
                self.on_epoch(record)
            if result.stopped:
                break
        return result
