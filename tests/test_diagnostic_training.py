"""Architectures, local weights files (ImageNet-like state dicts and checkpoints created here), two-phase
fine-tuning with layer-wise learning rates, class weights, and patient-grouped cross-validation folds."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from radclass.diagnostic.architectures import ARCHITECTURES, build_classifier, head_modules  # noqa: E402
from radclass.diagnostic.crossval import cross_validate, fold_indices  # noqa: E402
from radclass.diagnostic.datasets import ImageArrays  # noqa: E402
from radclass.diagnostic.finetune import FitConfig, class_weights, fit, parameter_groups  # noqa: E402
from radclass.diagnostic.preprocess import Preprocess  # noqa: E402
from radclass.diagnostic.training import TrainSpec, inner_split, train_classifier  # noqa: E402
from radclass.diagnostic.transforms import TrainTransform  # noqa: E402
from radclass.diagnostic.weights import load_weights, read_state_dict  # noqa: E402

torch.set_num_threads(1)


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_every_architecture_gives_logits(arch):
    size = 64
    model = build_classifier(arch, 3, input_size=size).eval()
    with torch.no_grad():
        assert model(torch.zeros(2, 3, size, size)).shape == (2, 3)
    assert head_modules(model, arch)


def test_alexnet_refuses_too_small_inputs():
    with pytest.raises(ValueError, match="at least 63"):
        build_classifier("alexnet", 2, input_size=48)


def test_imagenet_like_weights_file_loads_and_head_is_reinitialised(tmp_path):
    import torchvision

    imagenet = torchvision.models.resnet18(weights=None, num_classes=1000)  # stands in for ImageNet weights
    path = tmp_path / "resnet18-imagenet.pth"
    torch.save(imagenet.state_dict(), path)
    model = build_classifier("resnet18", 2)
    fresh_fc = model.fc.weight.detach().clone()
    report = load_weights(model, path)
    assert "fc.weight" in report.reinitialised and "fc.bias" in report.reinitialised
    assert "conv1.weight" in report.loaded and not report.missing
    assert torch.equal(model.conv1.weight, imagenet.conv1.weight)
    assert torch.equal(model.layer4[1].bn2.running_mean, imagenet.layer4[1].bn2.running_mean)
    assert torch.equal(model.fc.weight, fresh_fc)


def test_checkpoint_wrappers_and_prefixes(tmp_path):
    source = build_classifier("googlenet", 4, input_size=64)
    path = tmp_path / "ckpt.pt"
    torch.save({"epoch": 3, "state_dict": {f"module.{k}": v for k, v in source.state_dict().items()}}, path)
    assert "conv1.conv.weight" in read_state_dict(path)
    model = build_classifier("googlenet", 2, input_size=64)
    report = load_weights(model, path)
    assert torch.equal(model.conv1.conv.weight, source.conv1.conv.weight)
    assert report.reinitialised == ["fc.weight", "fc.bias"]


def test_three_channel_stem_into_one_channel_network(tmp_path):
    import torchvision

    src = torchvision.models.resnet18(weights=None)
    torch.save(src.state_dict(), tmp_path / "w.pth")
    one = build_classifier("resnet18", 2, in_channels=1)
    load_weights(one, tmp_path / "w.pth")
    assert torch.allclose(one.conv1.weight, src.conv1.weight.sum(1, keepdim=True))


def test_unrelated_weights_are_refused(tmp_path):
    torch.save({"something.else": torch.zeros(3)}, tmp_path / "w.pt")
    with pytest.raises(ValueError, match="no tensor matches"):
        load_weights(build_classifier("resnet18", 2), tmp_path / "w.pt")


def test_parameter_groups_decay_towards_the_input():
    model = build_classifier("resnet18", 2)
    groups = parameter_groups(model, "resnet18", 1e-3, 0.5, 3)
    lrs = [g["lr"] for g in groups]
    assert lrs == pytest.approx([1.25e-4, 2.5e-4, 5e-4, 1e-3])
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    assert groups[-1]["params"][0] is model.fc.weight


def test_class_weights_balance():
    w = class_weights(np.array([0, 0, 0, 1]), 2)
    assert w.tolist() == pytest.approx([4 / 6, 2.0])


def _toy(n: int = 24, size: int = 32, seed: int = 0) -> ImageArrays:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    x = rng.normal(0.3, 0.05, (n, 1, size, size)).astype(np.float32)
    x[y == 1, :, 8:24, 8:24] += 0.5
    return ImageArrays(np.clip(x, 0, 1), y.astype(np.int64), "display", ["A", "B"])


def test_frozen_phase_trains_only_the_head():
    data = _toy()
    model = build_classifier("resnet18", 2, input_size=32)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    t = TrainTransform(Preprocess(input_size=32, load_size=32), "display", data.classes, augment=False)
    cfg = FitConfig(epochs=0, frozen_epochs=1, batch_size=8, patience=0)
    result = fit(model, "resnet18", data.x, data.y, t, cfg, n_classes=2, pretrained=True)
    after = model.state_dict()
    assert [h["phase"] for h in result.history] == ["frozen"]
    assert not torch.equal(before["fc.weight"], after["fc.weight"])
    assert torch.equal(before["conv1.weight"], after["conv1.weight"])
    assert torch.equal(before["bn1.running_mean"], after["bn1.running_mean"])  # batch-norm statistics frozen too
    assert all(p.requires_grad for p in model.parameters())  # unfrozen again afterwards


def test_two_phases_then_early_stopping_keeps_best_weights():
    data = _toy(32)
    spec = TrainSpec(arch="ranjbar_vgg", preprocess=Preprocess(input_size=32, load_size=32), augment=False,
                     weights=build_classifier("ranjbar_vgg", 5, input_size=32).state_dict(), val_fraction=0.25,
                     fit=FitConfig(epochs=3, frozen_epochs=1, batch_size=8, patience=1, max_lr=1e-3))
    result = train_classifier(data, spec)
    phases = [h["phase"] for h in result.history]
    assert phases[0] == "frozen" and "unfrozen" in phases
    assert all("val_loss" in h for h in result.history)
    # candidates: unfrozen epochs from the second half of the one-cycle phase on (select_after = 0.5)
    unfrozen = [h for h in result.history if h["phase"] == "unfrozen"]
    best = min(unfrozen[1:], key=lambda h: h["val_loss"])
    assert result.best_epoch == best["epoch"]


def test_warm_up_epochs_are_never_selected():
    data = _toy(32)
    spec = TrainSpec(arch="ranjbar_vgg", preprocess=Preprocess(input_size=32, load_size=32), augment=False,
                     val_fraction=0.25, fit=FitConfig(epochs=4, batch_size=8, patience=1, select_after=0.5))
    result = train_classifier(data, spec)
    assert result.best_epoch >= 3


def test_folds_keep_patients_together_and_stratify():
    y = np.array([0, 1] * 20)
    patients = np.repeat(np.arange(10), 4)
    folds = fold_indices(y, patients, 5, seed=0)
    seen = np.concatenate([test for _, test in folds])
    assert sorted(seen.tolist()) == list(range(40))
    for train, test in folds:
        assert not set(patients[train]) & set(patients[test])
        assert set(y[test]) == {0, 1}
    train, val = inner_split(y, patients, 0.25, 0)
    assert not set(patients[train]) & set(patients[val])


def test_cross_validation_predicts_every_image_once():
    data = _toy(16)
    spec = TrainSpec(arch="multitask", preprocess=Preprocess(input_size=32, load_size=32), augment=True,
                     val_fraction=0.0, fit=FitConfig(epochs=1, batch_size=8, patience=0))
    cv = cross_validate(data, spec, k=2, groups=np.repeat(np.arange(8), 2))
    assert np.isfinite(cv.probabilities).all()
    np.testing.assert_allclose(cv.probabilities.sum(1), 1, atol=1e-5)
    assert sorted(set(cv.fold.tolist())) == [0, 1]
    assert [f["n_test"] for f in cv.folds] == [8, 8]
