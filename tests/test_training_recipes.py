"""The published recipes as configurable parts: Ranjbar et al.'s 4-class training from TOML (a short run on real
pool series), the augmentation's fill mode, the per-epoch learning-rate decay and central-half slice sampling."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_augment_fill_mode_and_validation():
    torch = pytest.importorskip("torch")
    from radclass.training.augment import Augment

    x = torch.full((8, 1, 32, 32), 0.5)
    common = dict(rotation_deg=40.0, shift=0.2, shear=0.0, zoom=0.0, hflip=False, gamma=0.0, noise=0.0, blur_p=0.0)
    gen = torch.Generator().manual_seed(0)
    nearest = Augment(fill="nearest", **common)(x, gen)
    zeros = Augment(fill="zeros", **common)(x, torch.Generator().manual_seed(0))
    assert torch.allclose(nearest, x, atol=1e-5)  # nearest fill repeats the edge: a flat image stays flat
    assert (zeros < 0.4).any()  # zero fill brings black corners in
    with pytest.raises(ValueError, match="fill mode"):
        Augment(fill="wrap")
    with pytest.raises(ValueError, match="must not be negative"):
        Augment(rotation_deg=-1)


def test_lr_decays_every_epoch_and_plateau_maximises():
    pytest.importorskip("torch")
    from radclass.training.cnn import CnnConfig, train_cnn
    from radclass.training.slice_data import SliceSet

    rng = np.random.default_rng(0)
    n = 32
    data = SliceSet(rng.random((n, 1, 32, 32), dtype=np.float32), np.repeat([0, 1], n // 2), np.full(n, -1),
                    np.full(n, "g", object), np.array([f"s{i}" for i in range(n)], object))
    cfg = CnnConfig(network="multitask", epochs=4, steps_per_epoch=1, batch_size=8, lr=1e-3, lr_decay=0.5,
                    patience=100)
    _, history = train_cnn(data, data, cfg)
    for rec in history:
        assert rec["lr"] == pytest.approx(1e-3 / (1 + 0.5 * (rec["epoch"] - 1)))
        assert "val_bal_acc" in rec


def test_central_slices():
    from radclass.training.slice_data import _central

    slices = [np.full((2, 2), i, np.float32) for i in range(8)]  # 8 evenly spaced, central half -> 4 middle
    assert [int(s[0, 0]) for s in _central(slices, 4)] == [2, 3, 4, 5]
    assert len(_central(slices[:3], 4)) == 3


def test_recipe_rejects_unknown_settings(tmp_path):
    from radclass.training.mri_bundle import MriBundleConfig

    bad = tmp_path / "bad.toml"
    bad.write_text("[mri_series]\nepochs = 3\n")
    with pytest.raises(ValueError, match="unknown setting"):
        MriBundleConfig.from_toml(bad)
    with pytest.raises(ValueError, match=r"unknown setting\(s\) \['epoch'\] in \[mri_series.cnn\]"):
        MriBundleConfig(cnn={"epoch": 3})
    with pytest.raises(ValueError, match="fill mode"):
        MriBundleConfig(augment={"fill": "wrap"})
    with pytest.raises(ValueError, match="not classes of the taxonomy"):
        MriBundleConfig(classes=("T1", "T3"))


@pytest.mark.slow
def test_ranjbar_recipe_trains_briefly(data_root, tmp_path):
    """configs/ranjbar-4class.toml as published, shortened (1 epoch, 2 steps) on three NIfTI datasets."""
    pytest.importorskip("torch")
    from radclass.training.mri_bundle import MriBundleConfig, build_mri_bundle

    cfg = MriBundleConfig.from_toml(ROOT / "configs" / "ranjbar-4class.toml")
    assert cfg.cnn["network"] == "ranjbar_vgg" and cfg.augment["fill"] == "nearest" and cfg.central_fraction == 0.5
    cfg = replace(cfg, datasets=("msd_brats", "brats_case", "deepmedic_brats2013"),
                  cnn={**cfg.cnn, "epochs": 1, "steps_per_epoch": 2, "batch_size": 8}, cnn_fold_epochs=1,
                  cnn_folds=2, synthetic_headers_per_class=10)
    out = tmp_path / "ranjbar"
    report = build_mri_bundle(cfg, out, log=lambda m: None)
    meta = json.loads((out / "bundle.json").read_text())
    assert meta["network"] == "ranjbar_vgg" and meta["slices_per_series"] == 4
    truths = {p["truth"] for p in report["predictions"]} | {p["truth"] for p in report.get("test", {}).get(
        "predictions", [])}
    assert truths <= {"T1", "T1C", "T2", "FLAIR"}
    assert meta["config"]["classes"] == ["T1", "T1C", "T2", "FLAIR"] and meta["test_groups"]
    assert (out / "cnn.onnx").exists() and "## Test split" in (out / "model_card.md").read_text()
