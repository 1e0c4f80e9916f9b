"""Synthetic DICOM studies: valid files, consistent UIDs and geometry, truth orientations, dcm2niix conversion."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest

from radclass.simulate import write_series, write_study
from radclass.simulate.geometry import plane_label

SPECS = [("T1", "SAG"), ("T2", "AX"), ("FLAIR", "COR"), ("DWI", "AX"), ("ADC", "OBL"), ("SWI", "AX"),
         ("MRA", "COR"), ("T1C", "OBL"), ("BOLD", "AX"), ("SCOUT", "SAG")]


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    out = tmp_path_factory.mktemp("study")
    truth = write_study(out, SPECS, seed=7, max_slices=5, max_matrix=64)
    return out, truth


def _read(folder: str) -> list[pydicom.Dataset]:
    return [pydicom.dcmread(f) for f in sorted(Path(folder).glob("*.dcm"))]


def test_truth_table(study: tuple[Path, pd.DataFrame]) -> None:
    out, truth = study
    assert list(truth.columns[:4]) == ["path", "sequence", "orientation", "contrast"]
    assert (out / "truth.csv").is_file()
    assert [tuple(x) for x in truth[["sequence", "orientation"]].values] == SPECS
    assert set(truth.loc[truth.sequence == "T1C", "contrast"]) == {"post"}
    assert truth.series_uid.is_unique and all(Path(p).is_dir() for p in truth.path)


def test_files_are_mr_images_with_consistent_uids(study: tuple[Path, pd.DataFrame]) -> None:
    _, truth = study
    study_uids = set()
    for row in truth.itertuples():
        files = _read(row.path)
        assert len(files) == row.n_files
        for ds in files:
            assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.4"
            assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
            assert ds.SeriesInstanceUID == row.series_uid
            assert ds.pixel_array.shape == (ds.Rows, ds.Columns)
            study_uids.add(ds.StudyInstanceUID)
        assert len({ds.SOPInstanceUID for ds in files}) == len(files)
        assert files[0].get("MagneticFieldStrength") in (1.2, 1.5, 3.0)
        if row.sequence == "T1C":
            assert files[0].ContrastBolusAgent
    assert len(study_uids) == 1


def test_orientation_and_positions_follow_the_truth(study: tuple[Path, pd.DataFrame]) -> None:
    _, truth = study
    for row in truth.itertuples():
        files = _read(row.path)
        iop = np.array(files[0].ImageOrientationPatient, dtype=float)
        assert plane_label(iop[:3], iop[3:]) == row.orientation
        normal = np.cross(iop[:3], iop[3:])
        first_volume = [ds for ds in files if int(ds.AcquisitionNumber) == 1]
        positions = sorted(float(np.dot(ds.ImagePositionPatient, normal)) for ds in first_volume)
        if len(positions) > 1:
            gaps = np.diff(positions)
            assert np.allclose(gaps, float(files[0].SpacingBetweenSlices), atol=1e-2)
            ipp = np.array([ds.ImagePositionPatient for ds in first_volume], dtype=float)
            offsets = ipp - ipp[0]
            in_plane = offsets - np.outer(offsets @ normal, normal)
            assert np.abs(in_plane).max() < 1e-2  # slices stacked exactly along the normal


def test_pixels_carry_signal(study: tuple[Path, pd.DataFrame]) -> None:
    _, truth = study
    for row in truth.itertuples():
        ds = _read(row.path)[0]
        values = ds.pixel_array.astype(float) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        assert values.std() > 0 and np.isfinite(values).all()


def test_dcm2niix_converts_every_series(study: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    exe = shutil.which("dcm2niix")
    if exe is None:
        pytest.skip("dcm2niix not installed (Debian package dcm2niix)")
    _, truth = study
    for row in truth.itertuples():
        out = tmp_path / Path(row.path).name
        out.mkdir()
        run = subprocess.run([exe, "-z", "n", "-f", "%s", "-o", str(out), row.path], capture_output=True, text=True,
                             timeout=60)
        assert run.returncode == 0, run.stdout + run.stderr
        assert list(out.glob("*.nii")), f"no NIfTI for {row.path}: {run.stdout}"


def test_write_series_alone(tmp_path: Path) -> None:
    written = write_series(tmp_path, "PD", "COR", np.random.default_rng(1), max_slices=3, max_matrix=48)
    files = _read(str(written.path))
    assert written.n_files == len(files) == 3
    assert files[0].Rows <= 48 and files[0].Columns <= 48
