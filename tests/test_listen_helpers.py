"""Shared helpers of the integration tests (no tests here): real series, storescu, a stand-in annotator.

The stand-in annotator returns a table shaped like ``radclass.pipeline.annotate.annotate_paths`` (the
contract columns, ``p_<CLASS>`` included) from the headers alone, so that the listener's mechanics are tested
without the models; the tests that need real annotations import the pipeline and skip without it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pydicom
import pytest

from radclass.config import data_root
from radclass.taxonomy import SEQUENCES

#: Real series used by the integration tests (12 instances each unless noted).
SERIES = {
    "canon_a": "mri/dicom/dcm_qa_canon_61/3000_DTI_PA-ortho",
    "canon_b": "mri/dicom/dcm_qa_canon_61/4000_DTI_AP-ortho",
    "canon_c": "mri/dicom/dcm_qa_canon_61/5000_DTI_PA-SAG_20d",
    "toshiba_a": "mri/dicom/dcm_qa_toshiba/7006_DTI_ortho",
    "toshiba_b": "mri/dicom/dcm_qa_toshiba/8006_DTI_AX_30d",
    "jpegls": "mri/dicom/dicom2nifti/generic_compressed_jpegls_001",  # 1 instance, JPEG-LS
    "j2k": "mri/dicom/dcm_qa/AxInt36mb",  # 1 instance, JPEG 2000 mosaic
}


def series_dir(name: str) -> Path:
    """Folder of a named real series; skips the test when the data pool is absent."""
    path = data_root() / SERIES[name]
    if not path.is_dir():
        pytest.skip(f"shared data not found: {path}")
    return path


def series_files(name: str) -> list[Path]:
    """Instance files of a named real series, sorted."""
    return sorted(p for p in series_dir(name).iterdir() if p.is_file())


def free_port() -> int:
    """A TCP port on loopback nobody is using right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def need_binary(name: str) -> str:
    """Path of a Debian binary; skips the test with a clear reason when it is not installed."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not installed (Debian package needed for this test)")
    return path


#: storescu proposes one compressed transfer syntax per run: the option matching the files' syntax.
_PROPOSE = {
    "1.2.840.10008.1.2.4.80": "-xt",  # JPEG-LS lossless
    "1.2.840.10008.1.2.4.90": "-xv",  # JPEG 2000 lossless
    "1.2.840.10008.1.2.4.70": "-xs",  # JPEG lossless SV1
    "1.2.840.10008.1.2.5": "-xr",  # RLE lossless
}


def storescu(port: int, files: Sequence[Path], *, calling: str = "SENDER", called: str = "RADCLASS",
             wait: bool = True) -> subprocess.Popen | subprocess.CompletedProcess:
    """Send files with dcmtk's storescu, proposing the compressed transfer syntax of the first file."""
    syntax = pydicom.dcmread(files[0], stop_before_pixels=True).file_meta.TransferSyntaxUID
    cmd = [need_binary("storescu"), "-aet", calling, "-aec", called, _PROPOSE.get(syntax, "-x="), "-R", "-nh",
           "127.0.0.1", str(port), *map(str, files)]
    if wait:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def fake_annotate(paths: Sequence[Path]) -> pd.DataFrame:
    """Contract-shaped annotation from headers only: one row per series folder."""
    rows = []
    for folder in map(Path, paths):
        files = sorted(p for p in folder.glob("*.dcm"))
        ds = pydicom.dcmread(files[0], stop_before_pixels=True)
        probs = {f"p_{c}": (0.9 if c == "DWI" else 0.1 / (len(SEQUENCES) - 1)) for c in SEQUENCES}
        rows.append({
            "path": str(folder), "series_uid": ds.SeriesInstanceUID, "sub_series": "", "n_files": len(files),
            "modality": ds.get("Modality", ""), "manufacturer": ds.get("Manufacturer", ""),
            "series_description": ds.get("SeriesDescription", ""), "sequence": "DWI", "orientation": "AX",
            "contrast": "none", "confidence": 0.9, "status": "ok", "reason": "", "flags": "",
            "bids_suffix": "dwi", "model_version": "fake-1", **probs,
            "study_uid": ds.StudyInstanceUID, "files": ";".join(str(f.resolve()) for f in files),
        })
    return pd.DataFrame(rows)
