"""The listener's inbox: received instances on disk, written atomically.

Layout under the store root::

    <StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm    received instances
    _sr/<StudyInstanceUID>/<series_key>.dcm                        structured reports radclass wrote
    .incoming/                                                     temporaries being written
    index.sqlite, listener-ledger.json                             bookkeeping

An instance is first written to a temporary file under ``.incoming/`` (same file system), flushed to disk,
then renamed into its series folder, so a series folder only ever holds complete instances and a crash never
leaves a half-written ``.dcm`` behind; stale temporaries are removed at start-up.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
SUFFIX = ".dcm"
TMP_DIR = ".incoming"
SR_DIR = "_sr"


def is_uid(value: object) -> bool:
    """True for a syntactically valid DICOM UID (digits and dots, at most 64 characters)."""
    return isinstance(value, str) and 0 < len(value) <= 64 and bool(_UID.match(value))


def safe_name(value: str) -> str:
    """A file-name-safe rendering of a key such as ``<uid>#<sub_series>``."""
    return re.sub(r"[^0-9A-Za-z._-]", "_", value)[:200]


class InstanceStore:
    """Received instances under ``root``, addressed by UIDs only (never by names a peer chose)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def series_dir(self, study_uid: str, series_uid: str) -> Path:
        """Folder of one series; raises ValueError when a UID is not a valid UID."""
        if not (is_uid(study_uid) and is_uid(series_uid)):
            raise ValueError(f"invalid Study/Series UID: {study_uid!r} / {series_uid!r}")
        return self.root / study_uid / series_uid

    def write(self, data: bytes, study_uid: str, series_uid: str, sop_uid: str) -> Path:
        """Write one encoded instance (DICOM file format bytes) atomically; return its final path."""
        if not is_uid(sop_uid):
            raise ValueError(f"invalid SOP Instance UID: {sop_uid!r}")
        folder = self.series_dir(study_uid, series_uid)
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / f"{sop_uid}{SUFFIX}"
        incoming = self.root / TMP_DIR
        incoming.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f"{sop_uid}-", suffix=".part", dir=incoming)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return final

    def series_dirs(self) -> Iterator[Path]:
        """Every ``<study>/<series>`` folder holding received instances (SR output excluded)."""
        for study in sorted(self.root.iterdir()):
            if not (study.is_dir() and is_uid(study.name)):
                continue
            for series in sorted(study.iterdir()):
                if series.is_dir() and is_uid(series.name):
                    yield series

    @staticmethod
    def instances(series_dir: Path) -> list[Path]:
        """Completed instance files of one series folder, sorted by name."""
        return sorted(p for p in Path(series_dir).glob(f"*{SUFFIX}") if not p.name.startswith("."))

    def relative(self, path: Path) -> str:
        """``path`` relative to the store root, with forward slashes (ledger key)."""
        return Path(path).resolve().relative_to(self.root).as_posix()

    def remove_temporaries(self) -> int:
        """Delete temporaries left by an interrupted write; return how many were removed."""
        removed = 0
        for tmp in (self.root / TMP_DIR).glob("*.part"):
            tmp.unlink(missing_ok=True)
            removed += 1
        return removed

    def sr_path(self, study_uid: str, key: str) -> Path:
        """Where the structured report for series ``key`` of a study is written."""
        study = study_uid if is_uid(study_uid) else "unknown-study"
        return self.root / SR_DIR / study / f"{safe_name(key)}{SUFFIX}"
