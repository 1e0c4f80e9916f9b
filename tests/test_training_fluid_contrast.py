"""The fluid test's training (radclass.training.fluid_contrast): bounds, the inner-fold band, nested folds that
ignore the held-out labels, the bundle table; and annotate end to end on dcm2niix-like NIfTI volumes without a
sidecar (TE in ``descrip``, TR in pixdim[4]) holding a real T2 and FLAIR of the pool."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dcm2niix_like import blank_header, dcm2niix_like
from radclass.models.bundle import BUNDLED_DIR, ModelBundle
from radclass.taxonomy import UNKNOWN
from radclass.training.fluid_contrast import (
    CARD_HEADING,
    PIXEL_ONLY_VOXEL_MM,
    FluidExample,
    add_fluid_contrast,
    bounds_of,
    calls,
    choose,
    margin_for,
    nested_lodo,
    pixel_only_calls,
    pixel_only_figures,
)
from radclass.training.timing_model import timing_label


def _examples(rng: np.random.Generator, datasets: int = 5, overlap: bool = False) -> list[FluidExample]:
    out = []
    for d in range(datasets):
        for i in range(4):
            t2 = i % 2 == 0
            value = (0.8 if t2 else -1.0) + rng.normal(0, 0.2)
            if overlap and d == 0 and not t2:
                value = 0.9  # an oedema-filled FLAIR that reads like a T2
            readings = {"fractions": value, "tails": value / 2, "deep_tails": -value}  # deep_tails: useless
            out.append(FluidExample(f"d{d}/{i}", f"d{d}", "T2" if t2 else "FLAIR", readings))
    return out


def test_bounds_split_the_classes_and_the_band_covers_inner_errors():
    lo, hi = bounds_of(np.array([-1.0, -0.8, 0.6, 0.9]), np.array([False, False, True, True]), 0.1)
    assert lo == pytest.approx(-0.2) and hi == pytest.approx(0.0)
    assert list(calls(np.array([-0.5, -0.1, 0.5]), (lo, hi))) == ["FLAIR", "", "T2"]
    distance = np.array([-1.0, -0.3, 0.4, 1.0, 0.2])
    truth = np.array(["FLAIR", "FLAIR", "T2", "T2", "FLAIR"], dtype=object)  # the last is wrong at 0.2
    assert margin_for(distance, truth) == pytest.approx(0.2, abs=1e-5)
    assert margin_for(distance[:4], truth[:4]) == 0.0
    with pytest.raises(ValueError, match="T2 and FLAIR"):
        bounds_of(np.array([0.1, 0.2]), np.array([True, True]), 0.0)


def test_choice_prefers_the_reading_that_separates_and_abstains_where_inner_folds_erred():
    rng = np.random.default_rng(0)
    choice = choose(_examples(rng))
    assert choice.measure in ("fractions", "tails") and choice.inner_recall == 1.0
    with_overlap = choose(_examples(rng, overlap=True))
    assert with_overlap.margin > 0 and with_overlap.inner_wrong == 0


def test_nested_answers_of_a_dataset_ignore_its_own_labels():
    rng = np.random.default_rng(1)
    examples = _examples(rng)
    flipped = [
        FluidExample(e.name, e.dataset, {"T2": "FLAIR", "FLAIR": "T2"}[e.sequence], e.readings)
        if e.dataset == "d2"
        else e
        for e in examples
    ]
    a, b = nested_lodo(examples, log=lambda _m: None), nested_lodo(flipped, log=lambda _m: None)
    held = [i for i, e in enumerate(examples) if e.dataset == "d2"]
    assert list(a.answer[held]) == list(b.answer[held])


def test_a_bundle_gains_the_table_and_its_card_section(tmp_path: Path):
    target = tmp_path / "bundle"
    shutil.copytree(BUNDLED_DIR / "mri-series", target)
    rng = np.random.default_rng(2)
    record = add_fluid_contrast(target, _examples(rng), _examples(rng, datasets=1), log=lambda _m: None)
    test = ModelBundle.load(target).metadata.fluid_contrast
    assert test is not None and test.flair_below <= test.t2_from and 0 < test.precision <= 1
    assert record["outer_lodo"]["volumes"] == 20 and record["test_groups"]["volumes"] == 4
    assert CARD_HEADING in (target / "model_card.md").read_text()


def test_the_bundled_test_and_timing_family_are_validated():
    assert timing_label("FLAIR") == "T2" and timing_label("T1C") == "T1" and timing_label("DWI") == "DWI"
    meta = json.loads((BUNDLED_DIR / "mri-series" / "bundle.json").read_text())
    assert meta["timing_model"]["families"] == {"T2": ["T2", "FLAIR"]}
    outer = meta["fluid_contrast"]["validation"]["outer_lodo"]
    assert outer["precision"]["n"] > 0 and outer["volumes"] >= outer["answered"]["k"]


def test_annotate_tells_t2_from_flair_by_their_fluid(data_root: Path, tmp_path: Path, run_cli):
    folder = data_root / "mri/nifti/open_ms_data/longitudinal/raw/patient01"
    archive = tmp_path / "archive"
    archive.mkdir()
    dcm2niix_like(folder / "study1_T2W.nii.gz", archive / "a.nii.gz", te=95, tr_ms=5000)
    dcm2niix_like(folder / "study1_FLAIR.nii.gz", archive / "b.nii.gz", te=125, tr_ms=9000)
    dcm2niix_like(folder / "study1_FLAIR.nii.gz", archive / "slab.nii.gz", te=125, tr_ms=9000, slices=8)
    out = tmp_path / "x.csv"
    result = run_cli("annotate", archive, "--out", out)
    assert result.exit_code == 0, result.output
    rows = {Path(p).name: r for p, r in zip(pd.read_csv(out).path, pd.read_csv(out).to_dict("records"))}
    for name, label in (("a.nii.gz", "T2"), ("b.nii.gz", "FLAIR")):
        assert rows[name]["sequence"] == label, rows[name]["reason"]
        assert "fluid_from_pixels:fluid" in rows[name]["flags"] and "sequence_from_timing" in rows[name]["flags"]
    slab = rows["slab.nii.gz"]
    assert slab["sequence"] == UNKNOWN and "fewer than 16" in slab["reason"]


def _with_voxels(examples: list[FluidExample], voxel_mm=(1.0, 1.0, 1.0)) -> list[FluidExample]:
    return [FluidExample(e.name, e.dataset, e.sequence, e.readings, voxel_mm) for e in examples]


def test_pixel_only_calls_use_each_datasets_outer_bound_and_skip_coarse_voxels():
    rng = np.random.default_rng(2)
    examples = _with_voxels(_examples(rng))
    # a coarse DWI with bright fluid, and a T1 with dark fluid, in a dataset of their own
    others = [
        FluidExample("dwi", "d9", "DWI", dict.fromkeys(("fractions", "tails", "deep_tails"), 2.0), (2.0, 2.0, 3.0)),
        FluidExample("t1", "d9", "T1", dict.fromkeys(("fractions", "tails", "deep_tails"), -3.0), (1.0, 1.0, 1.0)),
    ]
    nested = nested_lodo(examples, log=lambda _m: None)
    choice = choose(examples)
    every = examples + others
    answer = pixel_only_calls(every, lambda d: nested.choices.get(d, choice))
    assert list(answer[-2:]) == ["", ""]
    record = pixel_only_figures(every, answer)
    assert record["out_of_scope"] == {"DWI": 1} and record["in_scope"]["T1"] == 1
    assert record["t2_found"]["n"] == 10 and record["precision"]["k"] == record["precision"]["n"] > 0
    # the held-out dataset's labels never move its calls
    flipped = [
        FluidExample(e.name, e.dataset, "FLAIR", e.readings, e.voxel_mm) if e.dataset == "d0" else e for e in every
    ]
    again = pixel_only_calls(flipped, lambda d: nested_lodo(flipped[:-2], log=lambda _m: None).choices.get(d, choice))
    held = [i for i, e in enumerate(every) if e.dataset == "d0"]
    assert list(again[held]) == list(answer[held])


def test_pixel_only_calls_are_shipped_only_when_their_precision_allows(tmp_path: Path):
    rng = np.random.default_rng(3)
    right = _with_voxels(_examples(rng, datasets=6))
    target = tmp_path / "bundle"
    shutil.copytree(BUNDLED_DIR / "mri-series", target)
    add_fluid_contrast(target, right, [], log=lambda _m: None)
    table = ModelBundle.load(target).metadata.fluid_contrast
    assert table is not None and table.pixel_only_voxel_mm == PIXEL_ONLY_VOXEL_MM
    assert 0.5 <= table.pixel_only_precision < 1.0
    coarse = _with_voxels(right, (2.0, 2.0, 2.0))  # nothing in scope: no calls to trust
    add_fluid_contrast(target, coarse, [], log=lambda _m: None)
    table = ModelBundle.load(target).metadata.fluid_contrast
    assert table is not None and table.pixel_only_voxel_mm is None
    assert "Pixel-only calls are not shipped" in (target / "model_card.md").read_text()


def test_annotate_names_a_headerless_t2_from_its_fluid_where_the_bundle_allows(data_root: Path, tmp_path, run_cli):
    bundle = tmp_path / "bundle"
    shutil.copytree(BUNDLED_DIR / "mri-series", bundle)
    meta = json.loads((bundle / "bundle.json").read_text())
    meta["fluid_contrast"].update(pixel_only_voxel_mm=1.2, pixel_only_precision=0.6)  # as a bundle that ships them
    (bundle / "bundle.json").write_text(json.dumps(meta))
    folder = data_root / "mri/nifti/open_ms_data/longitudinal/raw/patient01"
    archive = tmp_path / "archive"
    archive.mkdir()
    blank_header(folder / "study1_T2W.nii.gz", archive / "a.nii.gz")
    blank_header(folder / "study1_FLAIR.nii.gz", archive / "b.nii.gz")
    shutil.copy(data_root / "mri/nifti/niivue/register/dwi.nii.gz", archive / "dwi.nii.gz")  # 4D: never measured
    out = tmp_path / "x.csv"
    result = run_cli("annotate", archive, "--out", out, "--model", bundle)
    assert result.exit_code == 0, result.output
    rows = {Path(r["path"]).name: r for r in pd.read_csv(out, keep_default_na=False).to_dict("records")}
    t2 = rows["a.nii.gz"]
    assert t2["sequence"] == "T2" and t2["confidence"] == pytest.approx(0.6), t2["reason"]
    assert "sequence_from_pixels" in t2["flags"] and "fluid_from_pixels:fluid" in t2["flags"]
    # dark fluid: not a T2; this FLAIR's parenchyma lies in the grey/white test's band (test_training_grey_white.py)
    assert rows["b.nii.gz"]["sequence"] == UNKNOWN and "grey/white test's band" in rows["b.nii.gz"]["reason"]
    assert rows["dwi.nii.gz"]["sequence"] != "T2" and "fluid" not in rows["dwi.nii.gz"]["flags"]
    # the shipped bundle makes no such call (its out-of-fold precision does not allow it)
    shipped = tmp_path / "shipped.csv"
    assert run_cli("annotate", archive, "--out", shipped).exit_code == 0
    assert (
        pd.read_csv(shipped, keep_default_na=False).set_index("path").loc[str(archive / "a.nii.gz"), "sequence"]
        == UNKNOWN
    )
