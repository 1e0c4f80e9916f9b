"""The diffusion test of a bundle (radclass.training.diffusion_test): measured on the real pool, written into a
bundle, and used by ``radclass annotate`` on header-less NIfTI time series converted from the pool by dcm2niix."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import nibabel as nib
import pandas as pd
import pytest

from dcm2niix_like import blank_header
from radclass.config import BUNDLED_DIR
from radclass.models.bundle import DiffusionTest, ModelBundle
from radclass.taxonomy import UNKNOWN
from radclass.training.diffusion_test import (
    ATTENUATED_BELOW,
    FREE_WATER_BELOW,
    add_diffusion_test,
    measure_pool,
    validate,
)
from radclass.training.pool import labelled_pool

needs_dcm2niix = pytest.mark.skipif(shutil.which("dcm2niix") is None, reason="dcm2niix (Debian package) is missing")


@pytest.fixture(scope="module")
def measured(data_root: Path):
    """The pool's time series of three datasets (DWIs of two vendors, ASL with and without an M0 frame)."""
    keep = {"dcm_qa_toshiba", "dcm_qa_asl", "dcm_qa_xa30", "niivue"}
    return measure_pool([p for p in labelled_pool(data_root) if p.dataset in keep], log=lambda _m: None)


@needs_dcm2niix
def test_the_pool_time_series_are_called_by_their_physics(measured):
    labels = {e.label for e in measured.examples}
    assert {"DWI", "PERFUSION", "BOLD"} <= labels
    record = validate(measured.examples, DiffusionTest(ATTENUATED_BELOW, FREE_WATER_BELOW))
    assert record["wrong"] == []  # no ASL (M0 frame first or not), BOLD or field map called DWI
    assert record["dwi_found"]["k"] == record["dwi_found"]["n"] >= 7
    assert record["margins"]["others_free_water_min"] > 1.0  # the ASL series with its M0 frame first


@needs_dcm2niix
def test_the_table_is_written_with_its_confidence(measured, tmp_path: Path):
    target = tmp_path / "bundle"
    shutil.copytree(BUNDLED_DIR / "mri-series", target)
    development = [e for e in measured.examples if e.dataset != "dcm_qa_asl"]
    held = [e for e in measured.examples if e.dataset == "dcm_qa_asl"]
    validation = add_diffusion_test(target, development, held, log=lambda _m: None)
    table = ModelBundle.load(target).metadata.diffusion_test
    assert table is not None
    assert table.precision == pytest.approx(validation["development"]["precision"]["ci95"][0], abs=1e-3)
    assert "## Diffusion test" in (target / "model_card.md").read_text()
    with pytest.raises(ValueError, match="calls nothing right|no time series"):
        add_diffusion_test(target, held, [], log=lambda _m: None)  # ASL alone: no DWI to call


@needs_dcm2niix
def test_annotate_names_a_headerless_dwi_with_the_bundled_model(data_root: Path, tmp_path: Path, run_cli):
    converted = tmp_path / "converted"
    converted.mkdir()
    folder = data_root / "mri/dicom/dcm_qa_philips_dwi"  # a test group of the bundle
    subprocess.run(["dcm2niix", "-b", "n", "-z", "y", "-o", str(converted), str(folder)], capture_output=True)
    dwis = [p for p in sorted(converted.glob("*.nii.gz")) if len(nib.load(p).shape) == 4]
    assert dwis, "dcm2niix made no time series of the Philips DWI folder"
    archive = tmp_path / "archive"
    archive.mkdir()
    blank_header(dwis[0], archive / "a.nii.gz")  # no description, no TR, no .bval beside it
    shutil.copy(data_root / "mri/nifti/niivue/pcasl.nii.gz", archive / "b.nii.gz")
    out = tmp_path / "x.csv"
    result = run_cli("annotate", archive, "--out", out)
    assert result.exit_code == 0, result.output
    rows = {Path(r["path"]).name: r for r in pd.read_csv(out, keep_default_na=False).to_dict("records")}
    table = ModelBundle.load().metadata.diffusion_test
    assert table is not None, "the bundled model ships the diffusion test"
    dwi, asl = rows["a.nii.gz"], rows["b.nii.gz"]
    assert dwi["sequence"] == "DWI" and dwi["confidence"] == pytest.approx(table.precision), dwi["reason"]
    assert "sequence_from_pixels" in dwi["flags"] and "diffusion_from_pixels:" in dwi["flags"]
    assert asl["sequence"] == UNKNOWN and "not diffusion-weighted" in asl["reason"]
