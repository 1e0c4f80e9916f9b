"""The gadolinium test's training (radclass.training.enhancement): thresholds and choices on hand-made ratios,
nested folds that never see the held-out dataset, and the test measured on real pool volumes, written into a
copy of the bundle and applied by ``radclass annotate`` to NIfTI volumes whose sidecar names no contrast agent."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radclass.evaluate.metrics import balanced_accuracy
from radclass.models.bundle import BUNDLED_DIR, ModelBundle
from radclass.training.enhancement import (
    EnhancementExample,
    add_contrast_enhancement,
    choose,
    fit_threshold,
    measure_pool,
    nested_lodo,
)
from radclass.training.pool import labelled_pool


def _examples(seed: int = 0) -> list[EnhancementExample]:
    """Four datasets; ``flat8`` separates T1 (about 1.3) from T1C (about 1.9), ``raw`` is noise."""
    rng = np.random.default_rng(seed)
    out = []
    for d in ("a", "b", "c", "d"):
        for i in range(6):
            post = i % 2 == 1
            flat = (1.9 if post else 1.3) + rng.normal(0, 0.05)
            out.append(EnhancementExample(f"{d}{i}", d, post, {"raw": rng.uniform(1, 2), "flat8": flat, "flat16": 1.0}))
    return out


def test_threshold_lies_between_the_classes():
    x = np.array([1.2, 1.3, 1.4, 1.8, 1.9])
    y = np.array([False, False, False, True, True])
    assert fit_threshold(x, y) == pytest.approx(1.6)
    assert balanced_accuracy(y, x >= 1.6) == 1.0
    assert balanced_accuracy(y, np.zeros(5, bool)) == 0.5


def test_the_separating_variant_is_chosen():
    choice = choose(_examples(), variants=("raw", "flat8", "flat16"))
    assert choice.variant == "flat8" and 1.4 < choice.threshold < 1.8 and choice.inner_balanced == 1.0


def test_nested_calls_of_a_dataset_ignore_its_own_labels():
    examples = _examples()
    variants = ("raw", "flat8", "flat16")
    nested = nested_lodo(examples, log=lambda _: None, variants=variants)
    flipped = [replace(e, post=not e.post) if e.dataset == "b" else e for e in examples]
    again = nested_lodo(flipped, log=lambda _: None, variants=variants)
    b = [i for i, e in enumerate(examples) if e.dataset == "b"]
    assert (nested.called[b] == again.called[b]).all()
    assert nested.choices["b"] == again.choices["b"]
    assert nested.counts() == {"tp": 12, "fn": 0, "tn": 12, "fp": 0}


def test_a_fold_without_both_classes_is_refused():
    only_t1 = [e for e in _examples() if not e.post or e.dataset == "a"]
    with pytest.raises(ValueError, match="Without a, the development set lacks T1 or T1C"):
        nested_lodo(only_t1, log=lambda _: None)


DATASETS = ("brats_case", "niivue", "open_ms_data", "msd_brats")


@pytest.fixture(scope="module")
def gadolinium_bundle(tmp_path_factory, data_root) -> tuple[Path, dict]:
    pool = [p for p in labelled_pool(data_root) if p.dataset in DATASETS]
    shipped = ModelBundle.load(threads=1)
    measured = measure_pool(pool, shipped.brain_mask_proba, log=lambda _: None)
    assert {e.dataset for e in measured.examples} == set(DATASETS) and any(e.post for e in measured.examples)
    folder = tmp_path_factory.mktemp("bundle") / "mri-series"
    shutil.copytree(BUNDLED_DIR / "mri-series", folder)
    meta = json.loads((folder / "bundle.json").read_text())
    meta.pop("contrast_enhancement", None)
    (folder / "bundle.json").write_text(json.dumps(meta))
    record = add_contrast_enhancement(folder, measured.examples, [], log=lambda _: None)
    return folder, record


def test_training_writes_a_typed_test(gadolinium_bundle):
    folder, record = gadolinium_bundle
    test = ModelBundle.load(folder).metadata.contrast_enhancement
    assert test is not None and test.threshold > 1.0 and test.min_slices == 16
    outer = record["outer_lodo"]
    assert outer["t1c_sensitivity"]["n"] >= 4 and outer["t1_specificity"]["n"] >= 6
    assert set(record["outer_choices"]) == set(DATASETS)


def _with_sidecar(source: Path, target: Path) -> None:
    """``source`` copied as ``target`` with a sidecar of a T1 spin echo that says nothing of a contrast agent."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target)
    sidecar = {
        "Modality": "MR",
        "RepetitionTime": 0.55,
        "EchoTime": 0.012,
        "ScanningSequence": "SE",
        "MRAcquisitionType": "2D",
        "SeriesDescription": "AX T1",
    }
    target.with_name(target.name.replace(".nii.gz", ".json")).write_text(json.dumps(sidecar))


def test_annotate_calls_an_enhancing_t1_t1c(gadolinium_bundle, data_root, tmp_path, run_cli):
    folder, _ = gadolinium_bundle
    src = data_root / "mri/nifti"
    _with_sidecar(
        src / "brain_tumor_progression" / _first(data_root, "brain_tumor_progression", "T1C"),
        tmp_path / "in/post.nii.gz",
    )
    _with_sidecar(src / "open_ms_data" / _first(data_root, "open_ms_data", "T1"), tmp_path / "in/pre.nii.gz")
    out = tmp_path / "x.csv"
    result = run_cli("annotate", tmp_path / "in", "--out", out, "--model", folder)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out).set_index(pd.read_csv(out)["path"].map(lambda p: Path(p).name))
    assert table.loc["post.nii.gz", "sequence"] == "T1C" and table.loc["post.nii.gz", "contrast"] == "post"
    assert "contrast_from_pixels:enhancement" in table.loc["post.nii.gz", "flags"]
    assert table.loc["pre.nii.gz", "sequence"] == "T1" and table.loc["pre.nii.gz", "contrast"] == "pre"


def _first(data_root: Path, dataset: str, sequence: str) -> str:
    manifest = pd.read_csv(data_root / "MANIFEST.csv")
    rows = manifest[
        (manifest.dataset == dataset) & (manifest.sequence == sequence) & manifest.relpath.str.endswith(".nii.gz")
    ]
    return str(Path(rows.relpath.iloc[0]).relative_to(f"mri/nifti/{dataset}"))
