"""``radclass annotate`` end to end on real data: accounting, labels, non-MR series, no torch, fuzzed input,
leave-one-dataset-out on a small scale, and a tiny bundle trained from scratch."""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radclass.config import BUNDLED_DIR
from radclass.taxonomy import SEQUENCES, UNKNOWN

BUNDLE_READY = (BUNDLED_DIR / "mri-series" / "bundle.json").exists()
needs_bundle = pytest.mark.skipif(not BUNDLE_READY, reason="bundled mri-series model not built")
VALID_STATUS = {"ok", "unknown", "skipped", "error"}


def _files_under(*roots: Path) -> int:
    return sum(1 for r in roots for p in r.rglob("*") if p.is_file() or p.is_symlink())


@pytest.fixture(scope="module")
def dicom_annotations(data_root, tmp_path_factory, run_cli) -> pd.DataFrame:
    out = tmp_path_factory.mktemp("ann") / "ann.csv"
    result = run_cli("annotate", data_root / "mri" / "dicom", "--out", out, "-q")
    assert result.exit_code == 0, result.output
    return pd.read_csv(out, keep_default_na=False)


@needs_bundle
def test_annotate_accounts_for_every_file(dicom_annotations, data_root):
    df = dicom_annotations
    assert set(df["status"]) <= VALID_STATUS
    assert df["n_files"].astype(int).sum() == _files_under(data_root / "mri" / "dicom")
    series = df[df["series_uid"] != ""]
    for col in ("sequence", "orientation", "contrast", "confidence", "bids_suffix", "model_version", "flags"):
        assert col in df.columns
    assert all(f"p_{c}" in df.columns for c in SEQUENCES)
    mr = series[series["status"].isin(["ok", "unknown"])]
    assert set(mr["sequence"]) <= set(SEQUENCES) | {UNKNOWN}
    probs = mr[[f"p_{c}" for c in SEQUENCES]].astype(float).sum(axis=1)
    assert np.allclose(probs, 1.0, atol=0.01)


@needs_bundle
def test_annotate_matches_manifest_on_dicom(dicom_annotations, data_root, manifest):
    """Training data, so this is a floor, not the generalisation figure (see the LODO test and model card)."""
    truth = {str((data_root / r).resolve()): s for r, s in zip(manifest["relpath"], manifest["sequence"])}
    df = dicom_annotations
    df = df[df["status"].isin(["ok", "unknown"])]
    df = df.assign(truth=df["path"].map(truth)).dropna(subset=["truth"])
    df = df[df["truth"].isin(SEQUENCES)]
    decided = df[df["sequence"] != UNKNOWN]
    assert len(df) > 100
    assert (decided["sequence"] == decided["truth"]).mean() >= 0.9
    assert len(decided) / len(df) >= 0.7  # abstains on a minority only


@needs_bundle
def test_a_t1_the_gadolinium_test_did_not_measure_is_flagged(dicom_annotations):
    rows = dicom_annotations.set_index("path")
    short = rows.loc[rows.index.str.endswith("dcm_qa_cs_dl/201_T1W_TSE_Sno_CSno_CSAIno")].iloc[0]  # 12 slices
    assert short["sequence"] == "T1" and "contrast_unchecked:12 slices, fewer than 16" in short["flags"]
    coil = rows.loc[rows.index.str.endswith("dcm_qa_xa30/5_anat-T1w_acq-tfl")].iloc[0]  # refused after measuring
    assert (
        coil["sequence"] == "T1" and "contrast_unchecked:enhancement not measured (the brain's outer" in coil["flags"]
    )
    measured = rows.loc[rows.index.str.endswith("dcm_qa_xa30/6_anat-T1w_acq-tfl")].iloc[0]  # measured: not enhanced
    assert measured["sequence"] == "T1" and "contrast_unchecked" not in measured["flags"]
    # only T1 answers carry it
    assert rows[rows["flags"].str.contains("contrast_unchecked")]["sequence"].eq("T1").all()


@needs_bundle
def test_non_mr_series_are_not_forced_into_mr_classes(data_root, tmp_path, run_cli):
    ct = data_root / "liver" / "totalseg" / "example_ct_dicom"
    out = tmp_path / "ct.json"
    assert run_cli("annotate", ct, "--out", out, "-q").exit_code == 0
    df = pd.read_json(out)
    assert (df["status"] == "skipped").all()
    assert df["reason"].str.contains("modality CT").all()


@needs_bundle
def test_annotate_runs_without_torch(data_root, tmp_path):
    """Inference is onnxruntime only: block torch and annotate a real series."""
    out = tmp_path / "a.csv"
    code = (
        "import sys; sys.modules['torch'] = None; sys.modules['torchvision'] = None\n"
        "from radclass.cli import main; sys.argv = ['radclass', 'annotate', sys.argv[1], '--out', sys.argv[2], '-q']\n"
        "main()"
    )
    series = data_root / "mri" / "dicom" / "dcm_qa_xa30" / "5_anat-T1w_acq-tfl"
    proc = subprocess.run([sys.executable, "-c", code, str(series), str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert pd.read_csv(out)["status"].iloc[0] in ("ok", "unknown")


@needs_bundle
def test_annotate_survives_fuzzed_files(data_root, tmp_path, run_cli):
    rng = random.Random(7)
    sources = sorted((data_root / "mri" / "dicom").rglob("*"))
    sources = [p for p in sources if p.is_file()]
    work = tmp_path / "fuzz"
    for i, src in enumerate(rng.sample(sources, 25)):
        data = bytearray(src.read_bytes())
        mode = i % 3
        if mode == 0:
            data = data[: rng.randrange(1, len(data))]
        elif mode == 1:
            for _ in range(20):
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        else:
            pos = rng.randrange(len(data))
            data[pos:pos] = bytes(rng.randrange(256) for _ in range(64))
        dst = work / f"s{i % 5}" / f"f{i}.dcm"
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(bytes(data))
    out = tmp_path / "fuzz.csv"
    result = run_cli("annotate", work, "--out", out, "-q")
    assert result.exit_code == 0, result.output
    df = pd.read_csv(out, keep_default_na=False)
    assert df["n_files"].astype(int).sum() == 25
    assert set(df["status"]) <= VALID_STATUS
    assert (df.loc[df["status"].isin(["skipped", "error"]), "reason"] != "").all()


def test_leave_one_dataset_out_small_scale(data_root):
    """A forest that never saw a dataset still labels its headers (physics + synthetic rows generalise)."""
    from radclass.features.header import header_matrix
    from radclass.training.forest import fit_forest, full_proba
    from radclass.training.pool import labelled_pool
    from radclass.training.synthetic_headers import synthetic_rows

    pool = [p for p in labelled_pool(data_root) if p.series.format == "dicom"]
    held = {"dcm_qa_xa30", "dcm_qa_canon_61"}
    train = [p for p in pool if p.dataset not in held]
    test = [p for p in pool if p.dataset in held]
    syn_rows, syn_y = synthetic_rows(60, seed=1)
    X = np.concatenate([header_matrix([p.series.row() for p in train]), header_matrix(syn_rows)])
    y = np.array([p.sequence for p in train] + syn_y)
    model = fit_forest(X, y, {"n_estimators": 60})
    proba = full_proba(model, header_matrix([p.series.row() for p in test]))
    pred = np.asarray(SEQUENCES)[proba.argmax(1)]
    truth = np.array([p.sequence for p in test])
    assert len(test) >= 30
    assert (pred == truth).mean() >= 0.75


@pytest.mark.slow
def test_tiny_bundle_trains_and_annotates(data_root, tmp_path, run_cli):
    """``radclass train`` end to end with a tiny configuration, then annotate with the new bundle."""
    pytest.importorskip("torch")
    config = tmp_path / "tiny.toml"
    config.write_text(
        '[mri_series]\ndatasets = ["dcm_qa_xa30", "heudiconv", "niivue"]\nsynthetic_headers_per_class = 20\nsimulated_series_per_class = 1\n'
        "simulated_slices_per_series = 2\ntune_forest = false\ncnn_folds = 2\ncnn_fold_epochs = 1\n"
        'train_slices_per_series = 2\n[mri_series.cnn]\nnetwork = "multitask"\nepochs = 1\nbatch_size = 16\n'
    )
    bundle = tmp_path / "bundle"
    result = run_cli("train", config, "--out", bundle)
    assert result.exit_code == 0, result.output
    for name in ("bundle.json", "cnn.onnx", "forest.onnx", "model_card.md", "validation.json"):
        assert (bundle / name).exists()
    out = tmp_path / "a.csv"
    series = data_root / "mri" / "nifti" / "niivue"
    assert run_cli("annotate", series, "--out", out, "--model", bundle, "-q").exit_code == 0
    df = pd.read_csv(out, keep_default_na=False)
    assert len(df) == _files_under(series)
    assert (df["orientation"] != "").all()
    # explain: CNN overlays for a real series and SHAP for its header (the bundle ships the sklearn forest)
    expl = tmp_path / "explain"
    t1 = data_root / "mri" / "dicom" / "dcm_qa_xa30" / "5_anat-T1w_acq-tfl"
    from radclass.explain.run import explain_target

    written = {p.name for p in explain_target(t1, str(bundle), expl)}
    assert {
        "5_anat-T1w_acq-tfl_gradcam.png",
        "5_anat-T1w_acq-tfl_occlusion.png",
        "5_anat-T1w_acq-tfl_header_shap.png",
        "forest_importance.png",
    } <= written
    shap_table = pd.read_csv(expl / "5_anat-T1w_acq-tfl_header_shap.csv")
    assert {"feature", "value", "shap"} <= set(shap_table.columns) and len(shap_table) > 0
