"""The ``radclass listen`` service: receive series, annotate complete ones, index, report, forward.

Flow::

    C-STORE -> InstanceStore (atomic) -> SeriesTracker.touch
    worker: series quiet for S seconds -> annotate_paths([series_dir]) -> upsert_series(db)
            -> one SR per series row (under <store>/_sr) -> optional C-STORE of the SR
            -> routing: each row's instances queued for the destinations its labels select -> ledger
    courier: queued deliveries sent with retries and back-off (:mod:`radclass.integration.delivery`)

At start-up the inbox is re-scanned: every series folder whose instance count differs from the ledger's
is queued again, so instances received before a crash or a Ctrl-C are annotated exactly once; the delivery
queue is a SQLite file beside the ledger, so routed instances are neither lost nor sent twice across restarts.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pydicom
from pydicom.dataset import Dataset
from pynetdicom.transport import ThreadedAssociationServer

from radclass.integration.delivery import Courier, DeliveryQueue, DeliveryState
from radclass.integration.forward import Destination, send_files
from radclass.integration.ledger import AnnotationLedger
from radclass.integration.routing import RoutingTable
from radclass.integration.scp import StorageHandler, build_ae
from radclass.integration.storage import InstanceStore
from radclass.integration.tracker import SeriesTracker
from radclass.models.bundle import DEFAULT_BUNDLE, ModelBundle

log = logging.getLogger(__name__)

Annotator = Callable[[Sequence[Path]], pd.DataFrame]
LEDGER_NAME = "listener-ledger.json"
INDEX_NAME = "index.sqlite"
QUEUE_NAME = "route-queue.sqlite"
#: Modalities stored but never annotated (reports and other non-image objects, our own SRs included).
NOT_ANNOTATED = frozenset({"SR", "KO", "PR", "DOC", "REG", "SEG", "RTSTRUCT", "OT_SR"})
#: Row statuses that get a structured report.
REPORTED = frozenset({"ok", "unknown"})


class PipelineAnnotator:
    """The real annotator: :func:`radclass.pipeline.annotate.annotate_paths` with the model bundle loaded once,
    on the first series, and reused for every later one.

    Parameters
    ----------
    slices
        Slices decoded per series (``None``: the bundle's ``slices_per_series``).
    bundle
        Name or folder of the model bundle.
    """

    def __init__(self, slices: int | None = None, bundle: str | Path = DEFAULT_BUNDLE) -> None:
        if slices is not None and slices < 1:
            raise ValueError(f"The annotator needs at least one slice per series, not {slices}.")
        self.slices = slices
        self.bundle_name = bundle
        self._bundle: ModelBundle | None = None
        self._lock = threading.Lock()

    @property
    def bundle(self) -> ModelBundle:
        """The model bundle, loaded on first use (once per annotator)."""
        with self._lock:
            if self._bundle is None:
                # one ONNX Runtime thread: annotate_paths decodes slices in two worker processes
                self._bundle = ModelBundle.load(self.bundle_name, threads=1)
            return self._bundle

    def __call__(self, paths: Sequence[Path]) -> pd.DataFrame:
        from radclass.pipeline.annotate import annotate_paths

        return annotate_paths(paths, slices=self.slices, progress=False, bundle=self.bundle)


@dataclass
class ListenerConfig:
    """Settings of one listener; ``port=0`` picks a free port (see :attr:`Listener.port`)."""

    store: Path
    port: int = 11112
    ae_title: str = "RADCLASS"
    host: str = "127.0.0.1"
    db: Path | None = None
    quiet_seconds: float = 10.0
    forward: Destination | None = None
    allow: Sequence[str] = field(default_factory=tuple)
    slices: int | None = None  # slices decoded per series; None: the bundle's slices_per_series
    routes: RoutingTable | None = None


@dataclass
class ListenerCounts:
    """What the status line shows."""

    received: int = 0
    annotated: int = 0
    reports: int = 0
    forwarded: int = 0
    failed: int = 0
    pending: int = 0
    routed: int = 0  # series queued for at least one destination (this run)
    delivered: int = 0  # instances delivered (queue total, all runs)
    waiting: int = 0  # instances still to deliver
    undeliverable: int = 0  # instances given up
    #: Distinct source-header corrections made while writing reports (radclass.integration.sanitize).
    corrected: int = 0

    def line(self) -> str:
        line = (
            f"received {self.received} | annotated {self.annotated} series | SR {self.reports} "
            f"(forwarded {self.forwarded}) | pending {self.pending} | errors {self.failed} "
            f"| header fixes {self.corrected}"
        )
        if self.routed or self.delivered or self.waiting or self.undeliverable:
            line += (
                f" | routed {self.routed} series: delivered {self.delivered}, waiting {self.waiting}, "
                f"failed {self.undeliverable}"
            )
        return line


class Listener:
    """Storage SCP plus the annotation worker; :meth:`start` / :meth:`stop`, or :meth:`serve_forever`."""

    def __init__(self, config: ListenerConfig, annotator: Annotator | None = None) -> None:
        self.config = config
        self.store = InstanceStore(config.store)
        self.db = Path(config.db) if config.db else self.store.root / INDEX_NAME
        self.ledger = AnnotationLedger(self.store.root / LEDGER_NAME)
        self.tracker = SeriesTracker(config.quiet_seconds)
        # The model bundle is loaded once, by the annotator, on the first series (not per series).
        self.annotator = annotator or PipelineAnnotator(config.slices)
        self.handler = StorageHandler(self.store, self._on_stored)
        self.counts = ListenerCounts()
        self.queue = (
            DeliveryQueue(self.store.root / QUEUE_NAME, config.routes.retry) if config.routes is not None else None
        )
        self.courier = Courier(self.queue, calling_aet=config.ae_title) if self.queue is not None else None
        self._busy: Path | None = None
        self._last_line = ""
        self._stop = threading.Event()
        self._server: ThreadedAssociationServer | None = None
        self._worker: threading.Thread | None = None

    # -- life cycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        """Re-scan the inbox, start the SCP (non-blocking) and the annotation worker."""
        removed = self.store.remove_temporaries()
        if removed:
            log.info("removed %d interrupted temporary files", removed)
        requeued = self.rescan()
        if requeued:
            log.info("re-queued %d series found in the inbox", requeued)
        ae = build_ae(self.config.ae_title, self.config.allow)
        self._server = ae.start_server(
            (self.config.host, self.config.port),
            block=False,
            evt_handlers=self.handler.handlers,
        )
        self._worker = threading.Thread(target=self._work, name="radclass-annotate", daemon=True)
        self._worker.start()
        if self.courier is not None and self.config.routes is not None:  # a courier exists only with routes
            for line in self.config.routes.describe():
                log.info("%s", line)
            self.courier.start()
        log.info(
            "listening as %s on %s:%d, store %s", self.config.ae_title, self.config.host, self.port, self.store.root
        )

    @property
    def port(self) -> int:
        """The bound TCP port (useful with ``port=0``)."""
        return self._server.server_address[1] if self._server else self.config.port

    def stop(self) -> None:
        """Stop accepting associations, finish the series being annotated, stop the worker."""
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server = None
        if self._worker is not None:
            self._worker.join(timeout=600)
            self._worker = None
        if self.courier is not None:
            self.courier.stop()

    def serve_forever(self, status: bool = True, interval: float = 1.0) -> None:
        """Run until Ctrl-C (SIGINT) or SIGTERM, printing a status line to stderr; then stop cleanly."""
        self._install_signal_handlers()
        self.start()
        try:
            while not self._stop.wait(interval):
                if status:
                    self._print_status()
        except KeyboardInterrupt:
            pass
        finally:
            if status:
                sys.stderr.write("\n")
            log.info("stopping")
            self.stop()
            log.info("stopped: %s", self.status().line())

    def _install_signal_handlers(self) -> None:
        """SIGINT and SIGTERM end :meth:`serve_forever` (also when a shell started us with SIGINT ignored)."""
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda signum, frame: self._stop.set())

    def _print_status(self) -> None:
        """Rewrite the status line on a terminal; elsewhere (a log file) print it when it changes."""
        line = self.status().line()
        if sys.stderr.isatty():
            sys.stderr.write("\r" + line + " " * 4)
        elif line != self._last_line:
            sys.stderr.write(line + "\n")
        self._last_line = line
        sys.stderr.flush()

    def status(self) -> ListenerCounts:
        """Current counts."""
        self.counts.received = self.handler.received
        self.counts.pending = self.tracker.pending() + (1 if self._busy else 0)
        if self.queue is not None:
            states = self.queue.counts()
            self.counts.delivered = states[DeliveryState.DELIVERED]
            self.counts.waiting = states[DeliveryState.PENDING]
            self.counts.undeliverable = states[DeliveryState.FAILED]
        return self.counts

    def wait_idle(self, timeout: float) -> bool:
        """Block until no series is pending (True) or ``timeout`` seconds passed (False)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.tracker.pending() == 0 and self._busy is None:
                return True
            time.sleep(0.1)
        return False

    # -- receiving --------------------------------------------------------------------------------------
    def _on_stored(self, path: Path, ds: Dataset) -> None:
        self.tracker.touch(path.parent)

    def rescan(self) -> int:
        """Queue every series folder whose instance count differs from the ledger; return how many."""
        queued = 0
        for series_dir in self.store.series_dirs():
            n = len(self.store.instances(series_dir))
            if n and self.ledger.instances(self.store.relative(series_dir)) != n:
                self.tracker.touch(series_dir)
                queued += 1
        return queued

    # -- annotating -------------------------------------------------------------------------------------
    def _work(self) -> None:
        while not self._stop.is_set():
            for series_dir in self.tracker.due():
                if self._stop.is_set():
                    break
                self._busy = series_dir
                try:
                    self.process(series_dir)
                except Exception:  # one bad series must not stop the service
                    self.counts.failed += 1
                    log.exception("annotation of %s failed", series_dir)
                finally:
                    self._busy = None
            self._stop.wait(min(0.5, max(self.tracker.quiet_seconds / 4, 0.05)))

    def process(self, series_dir: Path) -> bool:
        """Annotate one complete series folder unless the ledger says it is done; True if annotated."""
        files = self.store.instances(series_dir)
        rel = self.store.relative(series_dir)
        if not files or self.ledger.instances(rel) == len(files):
            return False
        modality = _modality(files[0])
        if modality in NOT_ANNOTATED:
            self.ledger.record(rel, len(files), note=f"stored only (modality {modality})")
            return False
        from radclass.outputs.sqlite_index import upsert_series

        table = self.annotator([series_dir])
        upsert_series(self.db, table)
        for row in table.to_dict(orient="records"):
            if row.get("status") in REPORTED and row.get("series_uid"):
                self._report(row, series_dir)
        if self.queue is not None and self.config.routes is not None:  # a queue exists only with routes
            self._route(table, series_dir, self.config.routes, self.queue)
        self.ledger.record(rel, len(files))
        self.counts.annotated += 1
        log.info("annotated %s (%d instances)", rel, len(files))
        return True

    def _report(self, row: dict, series_dir: Path) -> None:
        from radclass.integration.sr import write_sr
        from radclass.outputs.sqlite_index import series_key

        listed = [Path(f) for f in str(row.get("files") or "").split(";") if f]
        files = [f for f in listed if f.exists()] or self.store.instances(series_dir)
        out = self.store.sr_path(
            str(row.get("study_uid") or series_dir.parent.name), series_key(row["series_uid"], row.get("sub_series"))
        )
        try:
            corrections = write_sr(row, files, out)
        except Exception:
            self.counts.failed += 1
            log.exception("structured report for %s failed", row["series_uid"])
            return
        self.counts.reports += 1
        self.counts.corrected += len(corrections)
        if self.config.forward is not None:
            self._forward(self.config.forward, out)

    def _route(self, table: pd.DataFrame, series_dir: Path, routes: RoutingTable, queue: DeliveryQueue) -> None:
        """Queue each row's instances for the destinations its labels select (before the ledger records the
        series, so a crash in between re-queues it, and the queue ignores what it already holds)."""
        from radclass.outputs.sqlite_index import series_key

        for row in table.to_dict(orient="records"):
            if not row.get("series_uid"):
                continue
            listed = [Path(f) for f in str(row.get("files") or "").split(";") if f]
            files = [f for f in listed if f.suffix == ".dcm" and f.exists()] or self.store.instances(series_dir)
            key = series_key(row["series_uid"], row.get("sub_series"))
            chosen = routes.select(row)
            for name in chosen:
                queue.enqueue(key, name, routes.destinations[name], files)
            if chosen:
                self.counts.routed += 1
                log.info("routing %s (%s) to %s", key, row.get("sequence") or row.get("status"), ", ".join(chosen))

    def wait_delivered(self, timeout: float) -> bool:
        """Block until no delivery is pending (True) or ``timeout`` seconds passed (False)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.queue is None or self.queue.counts()[DeliveryState.PENDING] == 0:
                return True
            time.sleep(0.2)
        return False

    def _forward(self, dest: Destination, sr_path: Path, attempts: int = 3) -> None:
        for attempt in range(1, attempts + 1):
            try:
                if send_files(dest, [sr_path], calling_aet=self.config.ae_title) == 1:
                    self.counts.forwarded += 1
                    return
            except Exception as exc:
                log.warning("forward to %s, attempt %d: %s", dest.ae_title, attempt, exc)
            time.sleep(attempt)
        self.counts.failed += 1
        log.error("could not forward %s to %s", sr_path.name, dest.ae_title)


def _modality(path: Path) -> str:
    try:
        return str(pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["Modality"]).get("Modality", ""))
    except Exception:
        return ""
