"""The one epoch loop and seeding: selection of the best weights, early stopping, time box, plateau, hooks; the
MRI CNN and the diagnostic classifier and U-Net all train through :class:`radclass.learning.loop.EpochLoop`."""

from __future__ import annotations

import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from radclass.learning.loop import BestWeights, EpochLoop, Goal, LoopResult  # noqa: E402
from radclass.learning.seeding import seed_everything  # noqa: E402


def test_seed_everything_repeats_every_draw():
    rng, gen = seed_everything(3, 1)
    first = (rng.integers(1000, size=5), torch.rand(3, generator=gen), torch.rand(2))
    rng, gen = seed_everything(3, 1)
    assert np.array_equal(first[0], rng.integers(1000, size=5))
    assert torch.equal(first[1], torch.rand(3, generator=gen)) and torch.equal(first[2], torch.rand(2))
    with pytest.raises(ValueError, match="at least 1"):
        seed_everything(0, 0)


def test_best_weights_minimise_maximise_and_margin():
    model = torch.nn.Linear(2, 1)
    best = BestWeights(Goal.MINIMISE, min_delta=0.1)
    assert best.offer(model, 1.0, 1) and not best.offer(model, 0.95, 2) and best.offer(model, 0.5, 3)
    kept = model.weight.detach().clone()
    with torch.no_grad():
        model.weight.fill_(9.0)
    assert best.restore(model) and torch.equal(model.weight, kept) and best.epoch == 3
    up = BestWeights("max")
    assert up.goal is Goal.MAXIMISE and up.offer(model, 0.0, 1) and not up.offer(model, 0.0, 2)
    assert not BestWeights().restore(model)
    with pytest.raises(ValueError, match="min_delta"):
        BestWeights(min_delta=-1)


def _toy_loop(scores: list[float], **kwargs) -> tuple[EpochLoop, list[int]]:
    """A linear model on fixed data whose 'validation score' per epoch is read from ``scores``."""
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2)
    x, y = torch.randn(16, 4), torch.arange(16) % 2
    calls: list[int] = []

    def loss(batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, int]:
        return torch.nn.functional.cross_entropy(model(batch[0]), batch[1]), len(batch[1])

    def evaluate(_net: torch.nn.Module) -> dict[str, float]:
        calls.append(1)
        return {"score": scores[len(calls) - 1]}

    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loop = EpochLoop(model, opt, len(scores), lambda _k: [(x[:8], y[:8]), (x[8:], y[8:])], loss,
                     evaluate=evaluate, monitor="score", **kwargs)
    return loop, calls


def test_early_stopping_after_patience_stale_epochs_and_selection():
    loop, _ = _toy_loop([0.5, 0.7, 0.6, 0.65, 0.9, 0.95], best=BestWeights(Goal.MAXIMISE), patience=2)
    result = loop.run()
    assert isinstance(result, LoopResult) and result.stopped == "early stopping"
    assert [r["epoch"] for r in result.history] == [1, 2, 3, 4]
    assert loop.best is not None and loop.best.epoch == 2 and loop.best.score == 0.7
    assert all(r["loss"] > 0 and r["lr"] == 0.1 for r in result.history)


def test_first_candidate_and_start_epoch():
    loop, _ = _toy_loop([0.1, 0.2, 0.3, 0.35], best=BestWeights(Goal.MINIMISE), first_candidate=3, patience=1,
                        start_epoch=5, tags={"phase": "unfrozen"})
    result = loop.run()
    # epochs 1-2 score lower but are no candidates; epoch 3 is selected, epoch 4 does not improve: stop
    assert loop.best is not None and loop.best.epoch == 8
    assert [r["epoch"] for r in result.history] == [6, 7, 8, 9] and result.history[0]["phase"] == "unfrozen"


def test_time_box_and_hooks():
    seen: list[dict] = []
    steps: list[int] = []
    epochs: list[int] = []
    loop, _ = _toy_loop([0.1] * 5, deadline=time.monotonic() - 1, on_epoch=seen.append,
                        after_step=lambda: steps.append(1), before_epoch=epochs.append)
    result = loop.run()
    assert result.stopped == "time limit" and len(result.history) == 1 and seen[0]["stopped"] == "time limit"
    assert len(steps) == 1 and epochs == [0]  # one step even past the deadline, then nothing more


def test_plateau_reduces_the_rate():
    loop, _ = _toy_loop([0.5, 0.5, 0.5, 0.5])
    loop.plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(loop.optimizer, mode="max", factor=0.1, patience=1)
    result = loop.run()
    assert result.history[0]["lr"] == pytest.approx(0.1) and result.history[-1]["lr"] == pytest.approx(0.01)
    with pytest.raises(ValueError, match="epochs must not be negative"):
        EpochLoop(loop.model, loop.optimizer, -1, loop.batches, loop.loss)


@pytest.fixture
def loop_runs(monkeypatch) -> list[EpochLoop]:
    """Every EpochLoop that runs, recorded (the real run still happens)."""
    runs: list[EpochLoop] = []
    real = EpochLoop.run

    def recording(self: EpochLoop) -> LoopResult:
        runs.append(self)
        return real(self)

    monkeypatch.setattr(EpochLoop, "run", recording)
    return runs


def test_mri_cnn_trains_through_the_one_loop(loop_runs):
    from radclass.training.cnn import CnnConfig, train_cnn
    from radclass.training.slice_data import SliceSet

    rng = np.random.default_rng(0)
    n = 16
    data = SliceSet(rng.random((n, 1, 32, 32), dtype=np.float32), np.repeat([0, 1], n // 2), np.full(n, -1),
                    np.full(n, "g", object), np.array([f"s{i}" for i in range(n)], object))
    cfg = CnnConfig(network="multitask", epochs=2, steps_per_epoch=1, batch_size=8, threads=1)
    _, history = train_cnn(data, data, cfg)
    _, again = train_cnn(data, data, cfg)
    assert len(loop_runs) == 2 and loop_runs[0].monitor == "val_bal_acc" and loop_runs[0].plateau is not None
    assert [r["loss"] for r in history] == [r["loss"] for r in again]  # one seed, the same run


def test_diagnostic_classifier_and_unet_train_through_the_one_loop(loop_runs):
    pytest.importorskip("torchvision")
    from radclass.diagnostic.datasets import ImageArrays
    from radclass.diagnostic.finetune import FitConfig
    from radclass.diagnostic.preprocess import Preprocess
    from radclass.diagnostic.segmentation import SegConfig, train_unet
    from radclass.diagnostic.training import TrainSpec, train_classifier

    rng = np.random.default_rng(0)
    y = np.arange(16) % 2
    x = np.clip(rng.normal(0.3, 0.05, (16, 1, 32, 32)) + 0.5 * y[:, None, None, None], 0, 1).astype(np.float32)
    spec = TrainSpec(arch="ranjbar_vgg", preprocess=Preprocess(input_size=32, load_size=32), val_fraction=0.25,
                     fit=FitConfig(epochs=2, batch_size=8, patience=0))
    result = train_classifier(ImageArrays(x, y.astype(np.int64), "display", ["A", "B"]), spec)
    assert len(loop_runs) == 1 and loop_runs[0].monitor == "val_loss"
    assert [h["epoch"] for h in result.history] == [1, 2] and all("val_loss" in h for h in result.history)
    masks = x[:4, 0] > 0.5
    _, seg_history = train_unet(x[:4, 0], masks, SegConfig(epochs=1, batch_size=4, decoder_channels=(16, 8, 8, 8, 8)))
    assert len(loop_runs) == 2 and loop_runs[1].monitor is None and [h["epoch"] for h in seg_history] == [1]
