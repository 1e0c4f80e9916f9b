"""The grey/white test's training (radclass.training.grey_white): the fluid gate, outer folds that ignore the
held-out labels, shipping only what the validation allows, the bundle table; and annotate end to end on real pool
volumes whose header was blanked (no sidecar, no description, no TR)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dcm2niix_like import blank_header
from radclass.models.bundle import BUNDLED_DIR, ModelBundle
from radclass.taxonomy import UNKNOWN
from radclass.training.fluid_contrast import FluidExample, add_fluid_contrast
from radclass.training.grey_white import (
    CARD_HEADING,
    add_grey_white,
    grey_white_class,
    pixel_only_calls,
    trainable,
)
from radclass.training.threshold_test import Choice, ClassPair


def _examples(rng: np.random.Generator, datasets: int = 5, voxel: float = 1.0) -> list[FluidExample]:
    """Per dataset: two T2s (bright fluid), two FLAIRs and two T1s (dark fluid; parenchyma above and below 0), a
    T1C (like a T1) and a PD (dark fluid, parenchyma like a T1)."""
    out = []
    for d in range(datasets):
        for i, (sequence, fluid, parenchyma) in enumerate(
            [("T2", 0.8, 0.2), ("T2", 0.9, 0.25), ("FLAIR", -1.0, 0.2), ("FLAIR", -1.2, 0.15)]
            + [("T1", -3.0, -0.2), ("T1", -3.5, -0.15), ("T1C", -2.5, -0.1), ("PD", -2.0, -0.12)]
        ):
            f = fluid + rng.normal(0, 0.1)
            g = parenchyma + rng.normal(0, 0.02)
            readings = {"fractions": f, "tails": f / 2, "deep_tails": -f, "deep4_skew": g, "deep6_skew": -g}
            out.append(FluidExample(f"d{d}/{i}", f"d{d}", sequence, readings, (voxel, voxel, voxel)))
    return out


def _bundle(tmp_path: Path, examples: list[FluidExample]) -> Path:
    target = tmp_path / "bundle"
    if not target.exists():
        shutil.copytree(BUNDLED_DIR / "mri-series", target)
    add_fluid_contrast(target, examples, [], log=lambda _m: None)
    return target


def test_classes_and_trainable_volumes():
    assert [grey_white_class(s) for s in ("T1", "T1C", "FLAIR", "PD")] == ["T1", "T1", "FLAIR", "PD"]
    rng = np.random.default_rng(0)
    every = _examples(rng, datasets=1)
    assert {e.sequence for e in trainable(every)} == {"T1", "T1C", "FLAIR"}
    with pytest.raises(ValueError, match="two classes"):
        ClassPair("T1", "T1")


def test_only_dark_fluid_in_scope_is_called_and_each_dataset_by_its_own_bounds():
    rng = np.random.default_rng(1)
    every = _examples(rng, datasets=2)
    choice = Choice("deep4_skew", 0.01, (-0.05, 0.05), 1.0, 0)
    gate = {"d0": ("fractions", 0.0, 0.3), "d1": ("fractions", -5.0, 0.3)}  # d1's gate lets no fluid through
    answer = pixel_only_calls(every, lambda d: gate[d], lambda _d: choice)
    by_name = dict(zip([e.name for e in every], answer))
    assert [by_name[f"d0/{i}"] for i in range(8)] == ["", "", "FLAIR", "FLAIR", "T1", "T1", "T1", "T1"]
    assert not any(by_name[f"d1/{i}"] for i in range(8))
    coarse = [FluidExample(e.name, e.dataset, e.sequence, e.readings, (2.0, 2.0, 2.0)) for e in every]
    assert not pixel_only_calls(coarse, lambda d: gate[d], lambda _d: choice).any()


def test_a_bundle_gains_the_table_its_validation_and_card_section(tmp_path: Path):
    rng = np.random.default_rng(2)
    development = _examples(rng)
    target = _bundle(tmp_path, development)
    record = add_grey_white(target, development, _examples(rng, datasets=1), log=lambda _m: None)
    table = ModelBundle.load(target).metadata.grey_white_contrast
    assert table is not None and table.measure == "deep4_skew"  # deep6_skew reads the wrong way round
    assert -0.1 < table.t1_below <= table.flair_from < 0.15  # between the synthetic T1s and FLAIRs
    outer = record["outer_lodo"]
    assert outer["precision"]["k"] == outer["precision"]["n"] == outer["answered"]["k"] > 0
    pixel_only = record["pixel_only"]["outer_lodo"]
    # the PDs read like T1s and are called T1: the validation counts them wrong, and ships only on its bound
    assert pixel_only["in_scope"]["PD"] == 5 and any("PD called T1" in w for w in pixel_only["wrong"])
    low = pixel_only["precision"]["ci95"][0]
    assert (table.pixel_only_voxel_mm is not None) == (low >= 0.5)
    assert CARD_HEADING in (target / "model_card.md").read_text()


def test_calls_are_shipped_only_when_their_precision_allows(tmp_path: Path):
    rng = np.random.default_rng(3)
    right = [e for e in _examples(rng, datasets=6) if e.sequence != "PD"]
    target = _bundle(tmp_path, right)
    add_grey_white(target, right, [], log=lambda _m: None)
    table = ModelBundle.load(target).metadata.grey_white_contrast
    assert table is not None and table.pixel_only_voxel_mm == 1.2 and 0.5 <= table.precision < 1.0
    coarse = [FluidExample(e.name, e.dataset, e.sequence, e.readings, (2.0, 2.0, 2.0)) for e in right]
    add_grey_white(target, coarse, [], log=lambda _m: None)  # nothing in scope: no calls to trust
    table = ModelBundle.load(target).metadata.grey_white_contrast
    assert table is not None and table.pixel_only_voxel_mm is None
    assert "Pixel-only T1/FLAIR calls are not shipped" in (target / "model_card.md").read_text()


def test_the_grey_white_test_needs_the_fluid_test(tmp_path: Path):
    target = tmp_path / "bundle"
    shutil.copytree(BUNDLED_DIR / "mri-series", target)
    meta = ModelBundle.load(target).meta
    meta.pop("fluid_contrast")
    meta.pop("grey_white_contrast", None)
    from radclass.models.bundle import write_bundle_json

    write_bundle_json(target, meta)
    with pytest.raises(ValueError, match="needs the bundle's fluid test"):
        add_grey_white(target, _examples(np.random.default_rng(4)), [], log=lambda _m: None)


def test_the_bundled_test_is_validated():
    table = ModelBundle.load().metadata.grey_white_contrast
    assert table is not None
    record = ModelBundle.load().meta["grey_white_contrast"]["validation"]["pixel_only"]["outer_lodo"]
    if table.pixel_only_voxel_mm is not None:  # shipped: its confidence is the lower bound that allowed it
        assert table.precision == pytest.approx(record["precision"]["ci95"][0], abs=1e-3) and table.precision >= 0.5


def test_annotate_names_headerless_t1_and_flair_with_the_bundled_model(data_root: Path, tmp_path: Path, run_cli):
    nifti = data_root / "mri/nifti"
    archive = tmp_path / "archive"
    archive.mkdir()
    blank_header(nifti / "open_ms_data/longitudinal/raw/patient01/study1_T1W.nii.gz", archive / "a.nii.gz")
    blank_header(nifti / "deepvoxnet2_brats2018/case_9/FLAIR.nii.gz", archive / "b.nii.gz")
    blank_header(nifti / "open_ms_data/longitudinal/raw/patient01/study1_T2W.nii.gz", archive / "c.nii.gz")
    blank_header(nifti / "nichart_demo/fl/Subj10_FL.nii.gz", archive / "d.nii.gz")  # 2 mm voxels: out of scope
    out = tmp_path / "x.csv"
    result = run_cli("annotate", archive, "--out", out)
    assert result.exit_code == 0, result.output
    rows = {Path(r["path"]).name: r for r in pd.read_csv(out, keep_default_na=False).to_dict("records")}
    table = ModelBundle.load().metadata.grey_white_contrast
    assert table is not None and table.pixel_only_voxel_mm is not None, "the bundled model ships these calls"
    t1, flair = rows["a.nii.gz"], rows["b.nii.gz"]
    assert t1["sequence"] == "T1" and t1["confidence"] == pytest.approx(table.precision), t1["reason"]
    assert "sequence_from_pixels" in t1["flags"] and "grey_white_from_pixels:fluid" in t1["flags"]
    assert "contrast_unchecked" not in t1["flags"]  # the gadolinium test measured it (and found no enhancement)
    assert flair["sequence"] == "FLAIR" and "grey_white_from_pixels" in flair["flags"], flair["reason"]
    # bright fluid: not a T1 or FLAIR call, and the bundle makes no pixel-only T2 call
    assert rows["c.nii.gz"]["sequence"] == UNKNOWN and "bright fluid" in rows["c.nii.gz"]["reason"]
    coarse = rows["d.nii.gz"]
    assert coarse["sequence"] == UNKNOWN and "no pixel-only call: its voxels (2 x 2 mm" in coarse["reason"]
