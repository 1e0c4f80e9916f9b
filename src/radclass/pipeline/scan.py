"""``radclass scan``: walk inputs, read headers in parallel, group into series, account for every file."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radclass.io.files import sniff_kind, walk_files
from radclass.io.header_model import DicomReadError, InstanceInfo
from radclass.io.header_reader import read_instance
from radclass.io.series import HEADER_COLUMNS, SCAN_COLUMNS, Series, group_instances
from radclass.io.volumes import VolumeReadError, companions_of, image_series, nifti_series
from radclass.taxonomy import Status

_CHUNK = 48  # files per worker task
_PARALLEL_MIN = 96  # below this many files, reading in-process is faster than starting workers


@dataclass
class SkippedFile:
    """A file that belongs to no series, with the reason for a person."""

    path: str
    reason: str
    status: Status = Status.SKIPPED  # SKIPPED or ERROR

    def __post_init__(self) -> None:
        if self.status not in (Status.SKIPPED, Status.ERROR):
            raise ValueError(f"A skipped file's status is 'skipped' or 'error', not {self.status!r}.")
        self.status = Status(self.status)

    def row(self) -> dict[str, Any]:
        """The scan table row of this file."""
        return {
            "path": self.path,
            "series_uid": "",
            "sub_series": "",
            "status": str(self.status),
            "reason": self.reason,
            "flags": "",
            "format": "",
            "n_files": 1,
            "n_frames": 0,
            **dict.fromkeys(HEADER_COLUMNS),
            "files": self.path,
        }


@dataclass
class ScanResult:
    """Every file walked, either inside one of ``series`` or in ``skipped``."""

    series: list[Series] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    n_walked: int = 0

    def rows(self) -> list[dict[str, Any]]:
        return [s.row() for s in self.series] + [s.row() for s in self.skipped]

    def to_frame(self):  # -> pandas.DataFrame
        import pandas as pd

        return pd.DataFrame(self.rows(), columns=scan_columns())

    @property
    def n_accounted(self) -> int:
        return sum(len(s.files) for s in self.series) + len(self.skipped)

    def summary(self) -> str:
        return f"{len(self.series)} series from {self.n_walked} files; {len(self.skipped)} files skipped"


def scan_columns() -> list[str]:
    """The columns of the scan table (:data:`radclass.io.series.SCAN_COLUMNS`)."""
    return list(SCAN_COLUMNS)


def scan(
    inputs: Sequence[Path],
    *,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    reader: Callable[[list[Path]], list[tuple[Path, str, Any]]] | None = None,
) -> ScanResult:
    """Scan files and folders into series; ``progress(done, total)`` is called as files are read.

    ``reader`` replaces the local header reading (worker processes): given the readable files it returns
    :func:`read_one` of each, in order (the Ray engine reads them on a cluster).
    """
    walked = list(walk_files(inputs))
    result = ScanResult(n_walked=len(walked))
    readable = [w.path for w in walked if not w.error]
    result.skipped.extend(SkippedFile(str(w.path), w.error) for w in walked if w.error)
    outcomes = reader(readable) if reader is not None else _read_all(readable, workers, progress)
    instances: list[InstanceInfo] = []
    niftis: list[Path] = []
    sidecars: set[Path] = set()
    for path, kind, payload in outcomes:
        if kind == "dicom" and isinstance(payload, InstanceInfo):
            if payload.is_image:
                instances.append(payload)
            else:
                result.skipped.append(SkippedFile(str(path), f"DICOM without pixel data ({payload.non_image_kind})"))
        elif kind == "nifti":
            niftis.append(path)
        elif kind == "sidecar":
            sidecars.add(path)
        elif kind == "image":
            _add_volume(result, path, lambda: image_series(path))  # noqa: B023 (called at once)
        else:
            result.skipped.append(
                SkippedFile(str(path), str(payload), Status.ERROR if kind == "error" else Status.SKIPPED)
            )
    result.series.extend(group_instances(instances))
    for nii in niftis:
        sc, *vectors = companions_of(nii)
        used = sc if sc in sidecars else None
        sidecars.difference_update((sc, *vectors))
        _add_volume(result, nii, lambda: nifti_series(nii, used))  # noqa: B023 (called at once)
    result.skipped.extend(
        SkippedFile(str(p), f"{p.suffix[1:].upper()} file with no NIfTI beside it") for p in sorted(sidecars)
    )
    result.series.sort(key=lambda s: (s.path, s.series_uid, s.sub_series))
    return result


def _add_volume(result: ScanResult, path: Path, make: Callable[[], Series]) -> None:
    try:
        result.series.append(make())
    except VolumeReadError as err:
        result.skipped.append(SkippedFile(str(path), str(err)))


def read_one(path: Path) -> tuple[Path, str, Any]:
    """(path, kind, payload): payload is an InstanceInfo for DICOM, else a reason or None."""
    kind, error = sniff_kind(path)
    if error:
        return path, "unknown", error
    if kind != "dicom":
        return path, kind, None
    try:
        return path, "dicom", read_instance(path)
    except DicomReadError as err:
        return path, "unknown", str(err)
    except Exception as err:  # never lose a file to an unexpected parser failure
        return path, "error", f"unexpected error reading DICOM ({type(err).__name__}: {err})"


def _read_chunk(paths: list[Path]) -> list[tuple[Path, str, Any]]:
    return [read_one(p) for p in paths]


def _read_all(
    paths: list[Path], workers: int | None, progress: Callable[[int, int], None] | None
) -> list[tuple[Path, str, Any]]:
    total = len(paths)
    workers = workers or os.cpu_count() or 1
    if workers <= 1 or total < _PARALLEL_MIN:
        out = []
        for i, p in enumerate(paths):
            out.append(read_one(p))
            if progress and (i % 50 == 0 or i == total - 1):
                progress(i + 1, total)
        return out
    chunks = [paths[i : i + _CHUNK] for i in range(0, total, _CHUNK)]
    out = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for chunk_result in pool.map(_read_chunk, chunks):
            out.extend(chunk_result)
            if progress:
                progress(len(out), total)
    return out
