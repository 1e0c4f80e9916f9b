"""A pool NIfTI volume rewritten as dcm2niix writes a volume without its sidecar: TE in ``descrip``, TR (s) in
pixdim[4] (for the tests of the timing model's T2 family and the fluid test); or with no header information at all
(for the tests of the pixel-only calls)."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np


def dcm2niix_like(source: Path, target: Path, te: float, tr_ms: float, slices: int | None = None) -> None:
    """Write ``source`` to ``target`` with dcm2niix's timing fields (the first ``slices`` slices when given)."""
    img = nib.load(source)
    data = np.asanyarray(img.dataobj)
    if slices is not None:
        data = data[:, :, :slices]
    out = nib.Nifti1Image(data, img.affine, img.header.copy())
    out.header["descrip"] = f"TE={te:g};Time=120000.000".encode()
    out.header.set_xyzt_units("mm", "sec")
    out.header["pixdim"][4] = tr_ms / 1000
    nib.save(out, target)


def blank_header(source: Path, target: Path) -> None:
    """Write ``source`` to ``target`` with no header information at all: no description, no TR."""
    img = nib.load(source)
    out = nib.Nifti1Image(np.asanyarray(img.dataobj), img.affine, img.header.copy())
    out.header["descrip"] = b""
    out.header["pixdim"][4] = 0
    nib.save(out, target)
