"""The recipes end to end on tiny subsets (``--quick``: a few images, one epoch): ``ct-hemorrhage`` and
``liver-seg-first`` on the real pool (skipped without it), ``image-classifier`` on a labelled set and a
weights file both created here. The full runs are ``benchmarks/bench_recipes.py``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")
pytest.importorskip("torchvision")
pytestmark = pytest.mark.slow


def test_ct_hemorrhage_recipe_quick(data_root, run_cli, tmp_path):
    out = tmp_path / "ct"
    result = run_cli("recipe", "ct-hemorrhage", "--quick", "--out", out)
    assert result.exit_code == 0, result.output
    assert "best:" in result.stdout
    summary = json.loads((out / "summary.json").read_text())
    names = {f"{a}-{i}-{g}" for a in ("alexnet", "googlenet") for i in ("scratch", "pretrained")
             for g in ("aug", "noaug")}
    assert set(summary["configurations"]) == names
    for name in names:
        pred = pd.read_csv(out / "predictions" / f"{name}.csv")
        assert list(pred.columns[:3]) == ["path", "label", "probability"]
        assert len(pred) == summary["n_images"] and pred["probability"].between(0, 1).all()
        lo, hi = summary["configurations"][name]["auc_ci95"]
        assert 0 <= lo <= summary["configurations"][name]["auc"] <= hi <= 1
    metrics = json.loads((out / "report" / "metrics.json").read_text())
    assert metrics["roc_auc"]["method"] == "DeLong"
    assert len(metrics["comparison"]["pairwise"]) == 28 and all("delong" in p for p in metrics["comparison"]["pairwise"])
    assert (out / "report" / "report.html").is_file()
    # AlexNet (57 M parameters) is too large to bundle: a GoogLeNet configuration is bundled
    assert summary["bundled"].startswith("googlenet")
    for f in ("model.onnx", "bundle.json", "model_card.md"):
        assert (out / "bundle" / f).is_file()
    assert summary["bundle"]["onnx_max_abs_diff"] < 1e-4
    assert list((out / "gradcam").glob("*_gradcam.png"))
    assert (out / "pretrained" / "googlenet-rotation.pt").is_file()
    preds = tmp_path / "preds.csv"
    images = sorted((data_root / "ct-head" / "images").glob("*.png"))[:3]
    result = run_cli("predict", "--bundle", out / "bundle", *images, "--out", preds)
    assert result.exit_code == 0, result.output
    assert set(pd.read_csv(preds)["label"]) <= {"HEMORRHAGE", "NORMAL"}


def test_liver_seg_first_recipe_quick(data_root, run_cli, tmp_path):
    out = tmp_path / "liver"
    result = run_cli("recipe", "liver-seg-first", "--quick", "--out", out)
    assert result.exit_code == 0, result.output
    assert "Dice" in result.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert 0 <= summary["dice"]["all_held_out"] <= 1
    c = summary["classification"]
    assert c["n_train"] > 0 and c["n_test"] > 0 and "SUPERIOR" in c["task"]
    assert set(c["figures"]) >= {"unet_mask", "reference_mask"}
    assert (out / "classification" / "report" / "metrics.json").is_file()
    assert list((out / "gradcam").glob("*_gradcam.png")) and list((out / "segmentation").glob("*.png"))
    card = (out / "model_card.md").read_text()
    assert "SUPERIOR" in card and "Dice" in card


def _laterality_set(folder, n: int = 16, size: int = 48):
    """PNGs with a bright blob on the image's left or right half, labelled LEFT/RIGHT, 4 images per patient."""
    from PIL import Image

    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        side = "LEFT" if i % 2 == 0 else "RIGHT"
        img = rng.integers(0, 60, (size, size)).astype(np.uint8)
        c = size // 4 if side == "LEFT" else 3 * size // 4
        img[size // 2 - 5:size // 2 + 5, c - 5:c + 5] = 250
        Image.fromarray(img).save(folder / f"img{i:02d}.png")
        rows.append({"path": f"img{i:02d}.png", "label": side, "patient": f"p{i // 4}"})
    pd.DataFrame(rows).to_csv(folder / "labels.csv", index=False)
    return folder / "labels.csv"


def test_image_classifier_recipe_with_local_weights(run_cli, tmp_path):
    import torch
    import torchvision

    labels = _laterality_set(tmp_path)
    weights = tmp_path / "resnet18-imagenet-like.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), weights)
    out = tmp_path / "run"
    result = run_cli("recipe", "image-classifier", "--quick", "--labels", labels, "--arch", "resnet18",
                     "--weights", weights, "--out", out)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["classes"] == ["LEFT", "RIGHT"] and summary["n_images"] == 16
    assert summary["config"]["weights"] == str(weights)
    bundle = json.loads((out / "bundle" / "bundle.json").read_text())
    assert bundle["architecture"] == "resnet18" and bundle["trained"]["recipe"] == "image-classifier"
    preds = tmp_path / "preds.csv"
    assert run_cli("predict", "--bundle", out / "bundle", tmp_path, "--out", preds).exit_code == 0
    assert set(pd.read_csv(preds)["label"]) <= {"LEFT", "RIGHT"}


def test_recipe_rejects_unknown_names_and_missing_labels(run_cli, tmp_path):
    assert run_cli("recipe", "nonsense", "--out", tmp_path).exit_code != 0
    result = run_cli("recipe", "image-classifier", "--out", tmp_path)
    assert result.exit_code != 0 and "--labels" in result.output
