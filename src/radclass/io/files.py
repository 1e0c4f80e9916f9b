"""Walk input paths and tell what each file is, by content rather than by name."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

FileKind = Literal["dicom", "nifti", "image", "sidecar", "unknown"]

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"
_GZIP_MAGIC = b"\x1f\x8b"
_ANALYZE_SIZE_LE, _ANALYZE_SIZE_BE = (348).to_bytes(4, "little"), (348).to_bytes(4, "big")  # sizeof_hdr
# Group numbers a preamble-less (raw) DICOM stream starts with: file meta (0002) or identifying (0008).
_RAW_DICOM_STARTS = (b"\x02\x00", b"\x08\x00")


@dataclass(frozen=True)
class WalkedFile:
    """One regular file found under the inputs, or one entry that could not be opened."""

    path: Path
    error: str = ""  # non-empty when the entry cannot be read (reason for a person)


def walk_files(inputs: Iterable[Path]) -> Iterator[WalkedFile]:
    """Yield every file under ``inputs`` (files or folders), sorted, without following directory links.

    Directory symlinks are not descended into (so symlink loops cannot trap the walk); broken links and
    unreadable entries are yielded with an ``error`` so they are accounted for.
    """
    for root in inputs:
        root = Path(root)
        if root.is_file():
            yield WalkedFile(root)
            continue
        if not root.exists() and not root.is_symlink():
            yield WalkedFile(root, "path does not exist")
            continue
        if root.is_symlink() and not root.exists():
            yield WalkedFile(root, _link_error(root))
            continue
        walk_errors: list[OSError] = []
        for dirpath, dirnames, filenames in os.walk(root, onerror=walk_errors.append, followlinks=False):
            dirnames.sort()
            for name in sorted(filenames):
                full = os.path.join(dirpath, name)
                path = Path(full)
                kind = _entry_kind(full)
                if kind == "broken link":
                    yield WalkedFile(path, _link_error(path))
                elif kind == "file":
                    yield WalkedFile(path)
                else:  # fifo, socket, device: never opened
                    yield WalkedFile(path, "not a regular file")
        for err in walk_errors:
            yield WalkedFile(Path(err.filename or root), _os_reason(err, "folder"))


def _entry_kind(path: str) -> str:
    """ "file" (a regular file, or a link to anything that exists), "broken link" or "other", from one lstat
    (and a stat for links): ``Path.is_symlink`` / ``exists`` / ``is_file`` without their three calls."""
    try:
        st = os.lstat(path)
    except OSError:
        return "other"
    if stat.S_ISLNK(st.st_mode):
        try:
            os.stat(path)
        except (OSError, ValueError):
            return "broken link"
        return "file"
    return "file" if stat.S_ISREG(st.st_mode) else "other"


def _link_error(path: Path) -> str:
    try:
        path.stat()
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "symbolic link loop"
    return "broken symbolic link"


def _os_reason(err: OSError, what: str = "file") -> str:
    if err.errno in (errno.EACCES, errno.EPERM):
        return f"permission denied ({what} unreadable)"
    if err.errno == errno.ELOOP:
        return "symbolic link loop"
    return f"cannot read {what}: {err.strerror or err}"


def sniff_kind(path: Path) -> tuple[FileKind, str]:
    """Classify a file from its first bytes (and, for NIfTI sidecars, b-value/vector files and the two files of a
    NIfTI pair, ``.hdr`` + ``.img``, its name).

    Returns ``(kind, error)``; ``error`` is a reason for a person when the file cannot be read.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(352)
    except OSError as err:
        return "unknown", _os_reason(err)
    if len(head) == 0:
        return "unknown", "empty file (0 bytes)"
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "dicom", ""
    name = path.name.lower()
    if head.startswith(_GZIP_MAGIC) and name.endswith(".nii.gz"):
        return "nifti", ""
    if len(head) >= 348 and name.endswith(".nii") and head[344:348] in (b"n+1\x00", b"n+2\x00"):
        return "nifti", ""
    if name.endswith(".hdr") and len(head) >= 348:
        if head[344:348] in (b"ni1\x00", b"ni2\x00"):
            return "nifti", ""  # a NIfTI pair: this header, the voxels in the .img beside it
        if head[:4] in (_ANALYZE_SIZE_LE, _ANALYZE_SIZE_BE):
            return "unknown", (
                "Analyze 7.5 header (no NIfTI magic): its left-right orientation is undefined; convert it to NIfTI"
            )
    if name.endswith(".img") and path.with_suffix(".hdr").is_file():
        return "sidecar", ""  # the voxels of a header pair (scan pairs them, or lists them alone)
    if head.startswith((_PNG_MAGIC, _JPEG_MAGIC)):
        return "image", ""
    if name.endswith((".json", ".bval", ".bvec")):
        return "sidecar", ""
    if head[:2] in _RAW_DICOM_STARTS and head[3:4] == b"\x00":
        return "dicom", ""  # DICOM stream without the 128-byte preamble (old ACR-NEMA style exports)
    return "unknown", "not DICOM, NIfTI or an image (unrecognised content)"
