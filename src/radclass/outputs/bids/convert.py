"""Turn a conversion unit into images: ``dcm2niix`` (a subprocess) for DICOM, a copy for NIfTI.

dcm2niix is the real converter (Debian package ``dcm2niix`` or the PyPI wheel ``dcm2niix``, which installs the
same program next to the Python interpreter); nothing here decodes DICOM pixels. Each unit's files are linked
into a folder of their own so that dcm2niix sees exactly one series, and converted with
``dcm2niix -b y -ba y -z y -f image -o OUT IN``. When one series yields several images, dcm2niix appends a
postfix to ``image`` (``_e2`` echo, ``_ph`` phase, ``_real``, ``a`` for a repeated acquisition...): each
output becomes its own :class:`~radclass.outputs.bids.plan.Image`, named from the postfix (``echo-``,
``part-``, fieldmap ``magnitude1``/``magnitude2``/``phasediff``).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from radclass.outputs.bids.naming import ALLOWED, Datatype, Entity, Suffix
from radclass.outputs.bids.plan import Image, Skip, Unit
from radclass.outputs.bids.tasks import TaskRules
from radclass.programs import ProgramMissing, find_program
from radclass.values import as_number

DCM2NIIX_ARGS = ("-b", "y", "-ba", "y", "-z", "y")  # BIDS sidecar, anonymised, gzipped NIfTI
_TIMEOUT_S = 600
_NAME = "image"
_EXTS = (".nii.gz", ".json", ".bval", ".bvec")
# BIDS 1.11 REQUIRED sidecar fields per suffix (MRI section); radclass cannot invent them.
REQUIRED_METADATA: dict[Suffix, tuple[str, ...]] = {
    Suffix.BOLD: ("RepetitionTime", "TaskName"),
    Suffix.PHASEDIFF: ("EchoTime1", "EchoTime2"),
    Suffix.FIELDMAP: ("Units",),
}


class ConverterMissing(ProgramMissing):
    """dcm2niix is not installed."""


class ConversionError(RuntimeError):
    """dcm2niix wrote no image for a series; the message says why, for a person."""


def find_dcm2niix() -> Path:
    """The dcm2niix program: the one beside this Python (PyPI wheel) first, else the first on PATH."""
    return find_program(
        "dcm2niix",
        "install the Debian package dcm2niix or `pip install radclass[bids]` (the PyPI dcm2niix wheel)",
        ConverterMissing,
    )


@cache
def dcm2niix_version(program: Path) -> str:
    """The version dcm2niix reports (``v1.0.20260724``)."""
    out = subprocess.run([str(program), "--version"], capture_output=True, text=True, timeout=60)
    found = re.search(r"v\d+\.\d+\.\d+\S*", out.stdout + out.stderr)
    return found.group(0) if found else "unknown"


@dataclass
class Output:
    """What dcm2niix wrote for one image of a unit."""

    postfix: str
    files: dict[str, Path]
    sidecar: dict[str, Any]


def _work_name(unit: Unit) -> str:
    return "u" + hashlib.sha1(unit.key.encode()).hexdigest()[:16]


def run_dcm2niix(unit: Unit, staging: Path, program: Path) -> list[Output]:
    """Convert the unit's DICOM files into ``staging/<n>/``; raises :class:`ConversionError` on no output."""
    work = Path(staging) / _work_name(unit)
    src, dst = work / "in", work / "out"
    shutil.rmtree(work, ignore_errors=True)
    src.mkdir(parents=True)
    dst.mkdir()
    for i, f in enumerate(unit.files):
        os.symlink(os.path.abspath(f), src / f"{i:05d}_{Path(f).name}")
    cmd = [str(program), *DCM2NIIX_ARGS, "-f", _NAME, "-o", str(dst), str(src)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise ConversionError(f"dcm2niix did not finish within {_TIMEOUT_S} s") from None
    outputs = collect_outputs(dst)
    if not outputs:
        lines = [
            ln.strip()
            for ln in (done.stdout + done.stderr).splitlines()
            if ln.strip() and not ln.startswith(("Chris Rorden", "Found ", "Compress", "Conversion required"))
        ]
        why = "; ".join(lines[-3:]) or f"exit status {done.returncode}"
        raise ConversionError(f"dcm2niix wrote no image (exit {done.returncode}): {why}")
    return outputs


def collect_outputs(folder: Path) -> list[Output]:
    """The images in a dcm2niix output folder, by postfix (sorted, so the order is the same every run)."""
    by: dict[str, dict[str, Path]] = {}
    for p in sorted(Path(folder).iterdir()):
        ext = next((e for e in _EXTS if p.name.endswith(e)), None)
        if ext is None or not p.name.startswith(_NAME):
            continue
        by.setdefault(p.name[len(_NAME) : -len(ext)], {})[ext] = p
    return [
        Output(postfix, files, json.loads(files[".json"].read_text()) if ".json" in files else {})
        for postfix, files in sorted(by.items())
        if ".nii.gz" in files
    ]


def stage_nifti(unit: Unit, staging: Path) -> list[Output]:
    """Copy a NIfTI unit (gzipped when it was not; a NIfTI pair written as one file) and its sidecar/bval/bvec, if
    any, into staging."""
    work = Path(staging) / _work_name(unit)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    nii = Path(next(f for f in unit.files if not f.endswith(".json")))
    stem = nii.name[:-7] if nii.name.endswith(".nii.gz") else nii.name[:-4]
    files = {".nii.gz": work / f"{_NAME}.nii.gz"}
    if nii.name.lower().endswith(".hdr"):  # a NIfTI pair (.hdr + .img): BIDS holds single-file NIfTI
        import nibabel as nib

        nib.save(nib.Nifti1Image.from_image(nib.load(str(nii))), str(files[".nii.gz"]))
    elif nii.name.endswith(".gz"):
        shutil.copyfile(nii, files[".nii.gz"])
    else:
        with nii.open("rb") as fin, gzip.open(files[".nii.gz"], "wb", compresslevel=6) as fout:
            shutil.copyfileobj(fin, fout)
    sidecar: dict[str, Any] = {}
    for ext in (".json", ".bval", ".bvec"):
        side = nii.with_name(stem + ext)
        if side.is_file():
            files[ext] = work / f"{_NAME}{ext}"
            shutil.copyfile(side, files[ext])
    if ".json" in files:
        try:
            sidecar = json.loads(files[".json"].read_text())
        except json.JSONDecodeError:
            sidecar = {}
    if "RepetitionTime" not in sidecar:
        tr = _nifti_tr(files[".nii.gz"])
        if tr:
            sidecar["RepetitionTime"] = tr
    files[".json"] = work / f"{_NAME}.json"
    return [Output("", files, sidecar)]


def _nifti_tr(path: Path) -> float | None:
    """The volume repetition time (s) of a 4D NIfTI header, when it states one."""
    import nibabel as nib

    img: Any = nib.load(str(path))  # a NIfTI SpatialImage; nibabel types load() as FileBasedImage
    if len(img.shape) < 4:
        return None
    tr = float(img.header.get_zooms()[3])
    unit = img.header.get_xyzt_units()[1]
    tr = tr / 1000.0 if unit == "msec" else tr
    return tr if tr > 0 else None


def _volumes(path: Path) -> int:
    """Number of volumes (4th dimension) of a NIfTI file; 1 for a 3D image."""
    import nibabel as nib

    img: Any = nib.load(str(path))  # a NIfTI SpatialImage
    shape = img.shape
    return int(shape[3]) if len(shape) > 3 else 1


def phase_direction(output: Output) -> str:
    """The phase-encoding direction as BIDS ``dir-`` labels usually read (AP, PA, LR, RL, IS, SI): the voxel
    axis of ``PhaseEncodingDirection`` mapped through the NIfTI affine into RAS+ world coordinates."""
    ped = str(output.sidecar.get("PhaseEncodingDirection") or "")
    if not ped or ped[0] not in "ijk" or ped[1:] not in ("", "-"):
        return ""
    import nibabel as nib
    import numpy as np

    axis = "ijk".index(ped[0])
    img: Any = nib.load(str(output.files[".nii.gz"]))  # a NIfTI SpatialImage
    vec = np.asarray(img.affine)[:3, axis]
    if ped.endswith("-"):
        vec = -vec
    world = int(np.argmax(np.abs(vec)))
    towards = vec[world] > 0
    return (("LR", "RL"), ("PA", "AP"), ("IS", "SI"))[world][0 if towards else 1]


def _is_phase(out: Output) -> bool:
    image_type = [str(t).upper() for t in out.sidecar.get("ImageType", [])]
    return "_ph" in out.postfix or "P" in image_type or "PHASE" in image_type


def images_of(unit: Unit, outputs: list[Output], tasks: TaskRules) -> tuple[list[Image], list[Skip]]:
    """The images of a converted unit, and the outputs that BIDS cannot hold (with the reason)."""
    images: list[Image] = []
    skipped: list[Skip] = []
    target = unit.target
    has_phase = any(_is_phase(o) for o in outputs)
    for out in outputs:
        key = unit.key + out.postfix
        suffix = target.suffix
        entities: dict[Entity, str] = {}
        sidecar = dict(out.sidecar)
        echo = re.search(r"_e(\d+)", out.postfix)
        is_phase = _is_phase(out)
        if target.datatype is Datatype.FMAP:
            if is_phase and "EchoTime1" in sidecar and "EchoTime2" in sidecar:
                suffix = Suffix.PHASEDIFF
            elif not is_phase and "Units" in sidecar:
                suffix = Suffix.FIELDMAP
            elif not is_phase and as_number(sidecar.get("EchoNumber")) in (1.0, 2.0):
                suffix = Suffix.MAGNITUDE1 if as_number(sidecar.get("EchoNumber")) == 1.0 else Suffix.MAGNITUDE2
            else:
                skipped.append(
                    Skip(
                        key,
                        unit.source,
                        "field-map image that is neither a magnitude (echo 1/2), "
                        "a phase difference with EchoTime1/EchoTime2, nor a B0 map with Units",
                        unit.rows,
                        unit.sequence,
                    )
                )
                continue
        else:
            if echo and Entity.ECHO in ALLOWED[suffix]:
                entities[Entity.ECHO] = echo.group(1)
            if Entity.PART in ALLOWED[suffix]:
                if is_phase:
                    entities[Entity.PART] = "phase"
                elif "_real" in out.postfix:
                    entities[Entity.PART] = "real"
                elif "_imaginary" in out.postfix:
                    entities[Entity.PART] = "imag"
                elif has_phase:
                    entities[Entity.PART] = "mag"
        if suffix is Suffix.BOLD:
            task = tasks.task(unit.first)
            entities[Entity.TASK] = task
            sidecar["TaskName"] = task
        if suffix is Suffix.ASL:
            skipped.append(
                Skip(
                    key,
                    unit.source,
                    "ASL: the label/control/M0 order of the volumes (aslcontext.tsv, "
                    "required by BIDS) is not in the DICOM headers; add it by hand",
                    unit.rows,
                    unit.sequence,
                )
            )
            continue
        if suffix is Suffix.BOLD and _volumes(out.files[".nii.gz"]) < 2:
            skipped.append(
                Skip(
                    key,
                    unit.source,
                    "a single BOLD volume: BIDS bold must be a 4D time series",
                    unit.rows,
                    unit.sequence,
                )
            )
            continue
        if suffix is Suffix.DWI and not (".bval" in out.files and ".bvec" in out.files):
            skipped.append(
                Skip(
                    key,
                    unit.source,
                    "diffusion image without b-values/b-vectors (from dcm2niix: a derived trace or single b0 "
                    "image; a NIfTI input: no .bval/.bvec beside it), which raw BIDS dwi cannot hold",
                    unit.rows,
                    unit.sequence,
                )
            )
            continue
        missing = [k for k in REQUIRED_METADATA.get(suffix, ()) if k not in sidecar]
        if missing:
            skipped.append(
                Skip(
                    key,
                    unit.source,
                    f"{suffix.value}: the sidecar lacks the BIDS-required {', '.join(missing)}",
                    unit.rows,
                    unit.sequence,
                )
            )
            continue
        images.append(
            Image(
                unit,
                out.postfix,
                out.files,
                sidecar,
                suffix,
                entities,
                direction=phase_direction(out) if Entity.DIR in ALLOWED[suffix] else "",
            )
        )
    return images, skipped


def place(image: Image, root: Path) -> list[Path]:
    """Move the image's staged files to their BIDS path under ``root`` (the sidecar rewritten)."""
    base = Path(root) / image.relpath()
    base.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for ext, src in sorted(image.staged.items()):
        dst = base.with_name(base.name + ext)
        if ext == ".json":
            tmp = dst.with_name(dst.name + ".tmp")
            tmp.write_text(json.dumps(image.sidecar, indent=2, sort_keys=False) + "\n")
            tmp.replace(dst)
        else:
            shutil.move(str(src), dst)
        written.append(dst)
    return written
