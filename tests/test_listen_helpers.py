"""Shared helpers of the integration tests (no tests here): real series, storescu, a stand-in annotator.

The stand-in annotator returns a table shaped like ``radclass.pipeline.annotate.annotate_paths`` (the
contract columns, ``p_<CLASS>`` included) from the headers alone, so that the listener's mechanics are tested
without the models; the tests that need real annotations import the pipeline and skip without it.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
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
    "philips": "mri/dicom/dcm_qa_philips/Magdeburg_2014_fmri",  # 27 instances, Philips Achieva
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


#: Header damage seen in real archives, applied by :func:`corrupt_copies` (keyword -> (VR, raw value)).
BAD_HEADER = {
    "PatientSex": ("CS", b"0000"),
    "PatientBirthDate": ("DA", b"1961.02.30"),   # separators and a day February never has
    "StudyDate": ("DA", b"2006.03.14"),          # ACR-NEMA spelling of a real date
    "StudyTime": ("TM", b"09:11:56"),
    "PatientAge": ("LO", b"45 years"),           # wrong VR and no AS reading
    "StudyDescription": ("LO", b"BRAIN ROUTINE " * 8),  # 112 characters, LO allows 64
    "AccessionNumber": ("SH", b"ACC-2006-0001-XYZ-42"),  # 20 characters, SH allows 16: an identifier
    "PatientName": ("PN", "Müller^Jörg".encode("latin-1")),  # Latin-1 bytes, declared UTF-8 below
    "SpecificCharacterSet": ("CS", b"ISO_IR 192"),
    "PatientWeight": ("DS", b"72.123456789012345"),  # 18 characters, DS allows 16
    "InstitutionName": ("LO", b"Klinik\x00\x01 Nord"),  # control characters
}


def corrupt_copies(files: Sequence[Path], out_dir: Path, changes: dict | None = None) -> list[Path]:
    """Copies of ``files`` in ``out_dir`` with :data:`BAD_HEADER` (or ``changes``) written as raw bytes.

    A new SpecificCharacterSet is written first and the other values onto that file, so that pydicom keeps
    their bytes as given instead of re-encoding them in the new character set."""
    from pydicom.datadict import tag_for_keyword
    from pydicom.dataelem import RawDataElement

    changes = dict(BAD_HEADER if changes is None else changes)
    first = {k: changes.pop(k) for k in ["SpecificCharacterSet"] if k in changes}
    out_dir.mkdir(parents=True, exist_ok=True)
    out = []
    for f in files:
        target = out_dir / f.name
        source = f
        for batch in (first, changes):
            ds = pydicom.dcmread(source)
            for keyword, (vr, raw) in batch.items():
                tag = tag_for_keyword(keyword)
                if raw is None:
                    if tag in ds:
                        del ds[tag]
                    continue
                padded = raw + (b" " if len(raw) % 2 else b"")
                ds[tag] = RawDataElement(pydicom.tag.Tag(tag), vr, len(padded), padded, 0, False, True)
            ds.save_as(target)
            source = target
        out.append(target)
    return out


def dciodvfy_errors(path: Path) -> list[str]:
    """The "Error" lines dicom3tools' dciodvfy reports for one file (skips when it is not installed)."""
    run = subprocess.run([need_binary("dciodvfy"), str(path)], capture_output=True, text=True, timeout=60)
    return [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")]


def dsrdump_ok(path: Path) -> bool:
    """dcmtk's dsrdump reads the structured report and prints its TID 1500 content tree."""
    run = subprocess.run([need_binary("dsrdump"), str(path)], capture_output=True, text=True, timeout=60)
    return run.returncode == 0 and "Imaging Measurement Report" in run.stdout


def wait_for(predicate, timeout: float) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` seconds pass; its last answer."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.2)
    return bool(predicate())


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def start_listen_cli(store: Path, port: int, log: Path, extra: Sequence[str] = ()) -> subprocess.Popen:
    """``radclass listen`` as a real process on ``port`` (output appended to ``log``), once it accepts."""
    cmd = [sys.executable, "-m", "radclass", "listen", "--store", str(store), "--port", str(port),
           "--ae-title", "RADCLASS", "--quiet-seconds", "2", "--no-status", *extra]
    with log.open("a") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, text=True)
    assert wait_for(lambda: port_open(port) or proc.poll() is not None, 60), "listener did not start"
    assert proc.poll() is None, log.read_text()
    return proc


def stop_listen_cli(proc: subprocess.Popen, log: Path) -> str:
    """Stop the listener as a user would (Ctrl-C); its whole log."""
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    assert proc.returncode == 0, log.read_text()[-4000:]
    return log.read_text()
