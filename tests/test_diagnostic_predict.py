"""``radclass predict --task ct-hemorrhage``: the bundled model on real head-CT slices (onnxruntime only, also
with torch blocked), the output columns, unreadable inputs, and a missing bundle."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from radclass.config import BUNDLED_DIR

BUNDLE = BUNDLED_DIR / "ct-hemorrhage"


def test_bundle_is_complete():
    meta = json.loads((BUNDLE / "bundle.json").read_text())
    assert meta["classes"] == ["NORMAL", "HEMORRHAGE"] and meta["positive"] == "HEMORRHAGE"
    assert (BUNDLE / meta["onnx"]).is_file()
    card = (BUNDLE / "model_card.md").read_text()
    assert "already windowed" in card and "DeLong" in card


def test_predict_bundled_ct_hemorrhage(data_root, run_cli, tmp_path):
    labels = pd.read_csv(data_root / "ct-head" / "labels.csv")
    chosen = pd.concat([labels[labels["hemorrhage"] == 1].head(6), labels[labels["hemorrhage"] == 0].head(6)])
    images = [data_root / "ct-head" / "images" / f"{i:03d}.png" for i in chosen["id"]]
    out = tmp_path / "preds.csv"
    result = run_cli("predict", "--task", "ct-hemorrhage", *images, "--out", out)
    assert result.exit_code == 0, result.output
    preds = pd.read_csv(out, keep_default_na=False)
    assert list(preds.columns[:3]) == ["path", "label", "probability"]
    assert len(preds) == 12 and set(preds["label"]) <= {"HEMORRHAGE", "NORMAL"}
    p = preds["probability"].astype(float)
    assert p.between(0, 1).all()
    assert ((p >= 0.5) == (preds["label"] == "HEMORRHAGE")).all()
    # these slices were in the bundled model's training set: it must at least rank them the right way round
    truth = chosen["hemorrhage"].to_numpy() == 1
    assert p[truth].mean() > p[~truth].mean()


def test_predict_folder_and_unreadable_files(data_root, run_cli, tmp_path):
    (tmp_path / "notes.txt").write_text("not an image")
    dicom = data_root / "liver" / "totalseg" / "example_ct_dicom"
    out = tmp_path / "preds.csv"
    result = run_cli("predict", dicom, tmp_path / "notes.txt", "--out", out)
    assert result.exit_code == 0, result.output
    preds = pd.read_csv(out, keep_default_na=False)
    assert len(preds) == 21
    bad = preds[preds["path"].str.endswith("notes.txt")]
    assert bad["label"].tolist() == [""] and "not an image" in bad["reason"].iloc[0]
    assert (preds.drop(bad.index)["reason"] == "").all()  # CT DICOM in HU through the brain window


def test_predict_runs_without_torch(data_root, tmp_path):
    image = data_root / "ct-head" / "images" / "000.png"
    out = tmp_path / "preds.csv"
    code = ("import sys; sys.modules['torch'] = None; sys.modules['torchvision'] = None\n"
            "from radclass.cli import main\n"
            f"sys.argv = ['radclass', 'predict', '--task', 'ct-hemorrhage', {str(image)!r}, '--out', {str(out)!r}]\n"
            "main()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert pd.read_csv(out)["label"].iloc[0] in {"HEMORRHAGE", "NORMAL"}


def test_missing_bundle_is_a_clear_error(run_cli, tmp_path):
    (tmp_path / "x.png").write_bytes(b"")
    result = run_cli("predict", "--task", "no-such-model", tmp_path / "x.png", "--out", tmp_path / "p.csv")
    assert result.exit_code == 2
    assert "no bundle.json" in result.output and "ct-hemorrhage" in result.output
