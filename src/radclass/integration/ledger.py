"""Persistent record of annotated series, so that a restart neither loses nor repeats work.

A JSON file maps each series folder (relative to the store) to the number of instances it held when it was
annotated, how many times it was annotated, and when. The listener re-annotates a folder only when its
instance count differs from the recorded one. The file is replaced atomically on every change.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


class AnnotationLedger:
    """``{series_rel: {"instances": n, "runs": k, "time": iso, "note": str}}`` kept in a JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._entries: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            self._entries = json.loads(self.path.read_text(encoding="utf-8"))

    def instances(self, series_rel: str) -> int | None:
        """Instance count recorded for a series folder, or None if it was never annotated."""
        with self._lock:
            entry = self._entries.get(series_rel)
            return None if entry is None else int(entry["instances"])

    def record(self, series_rel: str, instances: int, note: str = "annotated") -> None:
        """Mark a series folder as handled with ``instances`` files and save the ledger."""
        with self._lock:
            entry = self._entries.setdefault(series_rel, {"runs": 0})
            entry.update(instances=int(instances), note=note, time=datetime.now(UTC).isoformat(timespec="seconds"))
            entry["runs"] = int(entry.get("runs", 0)) + 1
            self._save()

    def entries(self) -> dict[str, dict[str, Any]]:
        """A copy of every entry."""
        with self._lock:
            return {k: dict(v) for k, v in self._entries.items()}

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".ledger-", dir=self.path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(self._entries, fh, indent=1, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
