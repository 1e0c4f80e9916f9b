"""Decide when a series is complete: no new instance for ``quiet_seconds``."""

from __future__ import annotations

import threading
import time
from pathlib import Path


class SeriesTracker:
    """Thread-safe map of series folder -> time of its latest instance (monotonic clock)."""

    def __init__(self, quiet_seconds: float) -> None:
        self.quiet_seconds = float(quiet_seconds)
        self._lock = threading.Lock()
        self._last: dict[Path, float] = {}

    def touch(self, series_dir: Path, when: float | None = None) -> None:
        """Note that an instance of ``series_dir`` arrived (now, unless ``when`` is given)."""
        with self._lock:
            self._last[Path(series_dir)] = time.monotonic() if when is None else when

    def due(self, now: float | None = None) -> list[Path]:
        """Series quiet for at least ``quiet_seconds``; they are removed from the tracker."""
        now = time.monotonic() if now is None else now
        with self._lock:
            ready = [d for d, t in self._last.items() if now - t >= self.quiet_seconds]
            for d in ready:
                del self._last[d]
        return sorted(ready)

    def pending(self) -> int:
        """Number of series still waiting for their quiet period to end."""
        with self._lock:
            return len(self._last)
