"""The persistent delivery queue of routed series, and the courier thread that empties it.

One SQLite table holds one row per (destination, instance file): its state (:class:`DeliveryState`), the
number of failed attempts, when to try next and the last error. Rows are inserted with ``INSERT OR IGNORE``
on that pair, so routing a series again (after a restart, or a repeat C-STORE of the same instances) adds
only instances never queued before; an instance is marked ``delivered`` in its own transaction as soon as the
receiver returned a success status. After a restart the courier carries on with whatever is still
``pending``: nothing is lost and nothing delivered is sent again. (The one window left is a crash between a
receiver's success status and the commit of that single row: that instance is sent once more; a Storage SCP
receiving the same SOP Instance UID twice normally overwrites it.)

A failed attempt (no association, or a non-success status) sets ``next_try`` by the table's
:class:`~radclass.integration.routing.RetryPolicy`: the first delay doubling up to the longest one.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from radclass.integration.forward import SUCCESS, Destination, store_each
from radclass.integration.routing import RetryPolicy

log = logging.getLogger(__name__)

#: Instances sent per association (the rest wait for the next round).
BATCH = 256


class DeliveryState(StrEnum):
    """Where one instance's delivery to one destination stands."""

    PENDING = "pending"
    """Not yet stored at the destination; tried again at ``next_try``."""
    DELIVERED = "delivered"
    """The destination answered C-STORE with status 0000 (Success, PS3.4 B.2.3)."""
    FAILED = "failed"
    """Given up: the retry policy's attempts are spent, or the file is no longer in the store."""


@dataclass(frozen=True)
class Delivery:
    """One queued instance for one destination."""

    id: int
    series_key: str
    destination: str
    address: Destination
    path: Path
    attempts: int


_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY,
    series_key TEXT NOT NULL,
    destination TEXT NOT NULL,
    ae_title TEXT NOT NULL,
    host TEXT NOT NULL,
    port INTEGER NOT NULL,
    path TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try REAL NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    queued_at REAL NOT NULL,
    delivered_at REAL,
    UNIQUE (destination, path)
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_try);
"""


class DeliveryQueue:
    """The queue in a SQLite file (WAL journal); safe to use from several threads."""

    def __init__(self, path: Path, retry: RetryPolicy | None = None) -> None:
        self.path = Path(path)
        self.retry = retry or RetryPolicy()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    @contextmanager
    def _connect(self):
        with self._lock:
            db = sqlite3.connect(self.path, timeout=30)
            try:
                with db:  # one transaction, committed on success
                    yield db
            finally:
                db.close()

    def enqueue(self, series_key: str, destination: str, address: Destination, files: Iterable[Path]) -> int:
        """Queue every file of a series for ``destination``; return how many were not queued before."""
        now = time.time()
        rows = [
            (series_key, destination, address.ae_title, address.host, address.port, str(Path(f).resolve()), now)
            for f in files
        ]
        with self._connect() as db:
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO deliveries (series_key, destination, ae_title, host, port, path,"
                " queued_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            return db.total_changes - before

    def due(self, now: float | None = None, limit: int = BATCH) -> dict[str, list[Delivery]]:
        """Pending deliveries whose time has come, per destination, oldest first."""
        now = time.time() if now is None else now
        with self._connect() as db:
            rows = db.execute(
                "SELECT id, series_key, destination, ae_title, host, port, path, attempts "
                "FROM deliveries WHERE state = ? AND next_try <= ? ORDER BY id LIMIT ?",
                (DeliveryState.PENDING.value, now, limit),
            ).fetchall()
        out: dict[str, list[Delivery]] = defaultdict(list)
        for id_, key, dest, title, host, port, path, attempts in rows:
            out[dest].append(Delivery(id_, key, dest, Destination(host, int(port), title), Path(path), attempts))
        return dict(out)

    def delivered(self, delivery: Delivery) -> None:
        """Mark one delivery done (its own transaction)."""
        with self._connect() as db:
            db.execute(
                "UPDATE deliveries SET state = ?, delivered_at = ?, last_error = '' WHERE id = ?",
                (DeliveryState.DELIVERED.value, time.time(), delivery.id),
            )

    def failed(self, deliveries: Sequence[Delivery], error: str, permanent: bool = False) -> None:
        """Count a failed attempt of each delivery; schedule the next one or give up."""
        now = time.time()
        with self._connect() as db:
            for d in deliveries:
                attempts = d.attempts + 1
                give_up = permanent or self.retry.gives_up(attempts)
                state = DeliveryState.FAILED if give_up else DeliveryState.PENDING
                db.execute(
                    "UPDATE deliveries SET state = ?, attempts = ?, next_try = ?, last_error = ? WHERE id = ?",
                    (state.value, attempts, now + self.retry.delay(attempts), error[:500], d.id),
                )

    def counts(self) -> dict[DeliveryState, int]:
        """Number of deliveries in each state."""
        with self._connect() as db:
            found = dict(db.execute("SELECT state, COUNT(*) FROM deliveries GROUP BY state").fetchall())
        return {s: int(found.get(s.value, 0)) for s in DeliveryState}

    def series_count(self) -> int:
        """Number of distinct series ever routed (to any destination)."""
        with self._connect() as db:
            return int(db.execute("SELECT COUNT(DISTINCT series_key) FROM deliveries").fetchone()[0])

    def rows(self) -> list[dict]:
        """Every row, for inspection and tests."""
        with self._connect() as db:
            db.row_factory = sqlite3.Row
            return [dict(r) for r in db.execute("SELECT * FROM deliveries ORDER BY id")]


class Courier:
    """A thread sending due deliveries, one association per destination and round."""

    def __init__(self, queue: DeliveryQueue, calling_aet: str = "RADCLASS", interval: float = 0.5) -> None:
        self.queue = queue
        self.calling_aet = calling_aet
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the courier thread (pending deliveries of an earlier run go first)."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="radclass-route", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 60) -> None:
        """Stop after the association in progress; undelivered rows stay pending for the next run."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.deliver_due()
            except Exception:  # the queue must outlive any one failure
                log.exception("routing round failed")
            self._stop.wait(self.interval)

    def deliver_due(self) -> int:
        """One round: send every due delivery; return how many were delivered."""
        done = 0
        for destination, batch in self.queue.due().items():
            if self._stop.is_set():
                break
            done += self._send(destination, batch)
        return done

    def _send(self, destination: str, batch: list[Delivery]) -> int:
        present = [d for d in batch if d.path.is_file()]
        gone = [d for d in batch if not d.path.is_file()]
        if gone:
            self.queue.failed(gone, "the file is no longer in the store", permanent=True)
            log.error("%d instances for %s are no longer in the store", len(gone), destination)
        by_address: dict[Destination, list[Delivery]] = defaultdict(list)
        for d in present:
            by_address[d.address].append(d)
        done = 0
        for address, items in by_address.items():
            try:
                statuses = store_each(address, [d.path for d in items], calling_aet=self.calling_aet)
            except Exception as exc:  # no association: the receiver is down or refuses us
                self.queue.failed(items, f"{type(exc).__name__}: {exc}")
                log.warning(
                    "routing to %s (%s): %s; %d instances wait (attempt %d, next in %.0f s)",
                    destination,
                    address,
                    exc,
                    len(items),
                    items[0].attempts + 1,
                    self.queue.retry.delay(items[0].attempts + 1),
                )
                continue
            for d, status in zip(items, statuses):
                if status == SUCCESS:
                    self.queue.delivered(d)
                    done += 1
                else:
                    self.queue.failed([d], "not sent" if status is None else f"C-STORE status 0x{status:04X}")
        if done:
            log.info("routed %d instances to %s", done, destination)
        return done
