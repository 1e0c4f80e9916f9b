"""pynetdicom Storage SCP that files every received instance into an :class:`InstanceStore`."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import cast

from pydicom.dataset import Dataset
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
from pynetdicom.dimse_primitives import C_STORE
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]  # generated at import time

from radclass.integration.storage import InstanceStore, is_uid

log = logging.getLogger(__name__)

# C-STORE status codes (PS3.4 B.2.3)
SUCCESS = 0x0000
CANNOT_UNDERSTAND = 0xC000
DATASET_MISMATCH = 0xA900
OUT_OF_RESOURCES = 0xA700

OnStored = Callable[[Path, Dataset], None]


def build_ae(ae_title: str, allow: Sequence[str] = ()) -> AE:
    """An AE accepting every storage SOP class with every transfer syntax pynetdicom knows, plus Echo.

    With ``allow`` non-empty, associations whose calling AE title is not listed are rejected.
    """
    ae = AE(ae_title=ae_title)
    for cx in AllStoragePresentationContexts:
        if cx.abstract_syntax is not None:  # every storage context names its SOP class
            ae.add_supported_context(cx.abstract_syntax, ALL_TRANSFER_SYNTAXES)
    ae.add_supported_context(Verification)
    ae.require_calling_aet = [a.strip() for a in allow if a.strip()]
    ae.maximum_associations = 16
    ae.acse_timeout = 30
    ae.dimse_timeout = 60
    ae.network_timeout = 60
    return ae


def pixel_problem(ds: Dataset) -> str:
    """Why an image dataset's pixel data is unusable ('' if fine): absent, or shorter than its header says.

    A dataset truncated in transit decodes without its last (pixel) element, so this is where a cut-off
    instance shows.
    """
    if "Rows" not in ds:
        return ""  # not an image (SR, raw data...)
    if not any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        return "missing pixel data"
    syntax = ds.file_meta.get("TransferSyntaxUID")
    if "PixelData" in ds and syntax is not None and not syntax.is_encapsulated:
        try:
            expected = (
                int(ds.Rows)
                * int(ds.Columns)
                * int(ds.get("SamplesPerPixel", 1))
                * int(ds.get("NumberOfFrames", 1) or 1)
                * int(ds.BitsAllocated)
            ) // 8
        except (AttributeError, TypeError, ValueError):
            return "incomplete image header"
        if len(ds.PixelData) < expected:
            return f"truncated pixel data ({len(ds.PixelData)} of {expected} bytes)"
    return ""


class StorageHandler:
    """Event handlers: validate each C-STORE, write it atomically, report it through ``on_stored``."""

    def __init__(self, store: InstanceStore, on_stored: OnStored) -> None:
        self.store = store
        self.on_stored = on_stored
        self.received = 0
        self.failed = 0
        self.rejected = 0
        self.aborted = 0

    @property
    def handlers(self) -> list[tuple]:
        """``evt_handlers`` for :meth:`pynetdicom.AE.start_server`."""
        return [
            (evt.EVT_C_STORE, self.handle_store),
            (evt.EVT_C_ECHO, lambda event: SUCCESS),
            (evt.EVT_ABORTED, self.handle_aborted),
            (evt.EVT_REJECTED, self.handle_rejected),
        ]

    def handle_store(self, event: evt.Event) -> int:
        peer = event.assoc.requestor.ae_title
        try:
            ds = event.dataset
            ds.file_meta = event.file_meta
            study, series, sop = (ds.get(k) for k in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"))
        except Exception as exc:  # undecodable dataset: refuse it, keep serving
            self.failed += 1
            log.warning("C-STORE from %s: cannot decode dataset (%s)", peer, exc)
            return CANNOT_UNDERSTAND
        if not (is_uid(study) and is_uid(series) and is_uid(sop)):
            self.failed += 1
            log.warning("C-STORE from %s: missing or invalid Study/Series/SOP UID", peer)
            return DATASET_MISMATCH
        problem = pixel_problem(ds)
        if problem:
            self.failed += 1
            log.warning("C-STORE from %s: %s in %s, refused", peer, problem, sop)
            return CANNOT_UNDERSTAND
        if sop != cast(C_STORE, event.request).AffectedSOPInstanceUID:  # a C-STORE handler's request
            self.failed += 1
            log.warning("C-STORE from %s: SOPInstanceUID differs from the request's", peer)
            return DATASET_MISMATCH
        try:
            path = self.store.write(event.encoded_dataset(include_meta=True), study, series, sop)
        except OSError as exc:
            self.failed += 1
            log.error("C-STORE from %s: cannot write %s (%s)", peer, sop, exc)
            return OUT_OF_RESOURCES
        self.received += 1
        self.on_stored(path, ds)
        return SUCCESS

    def handle_aborted(self, event: evt.Event) -> None:
        self.aborted += 1
        log.warning("association with %s aborted", event.assoc.requestor.ae_title)

    def handle_rejected(self, event: evt.Event) -> None:
        self.rejected += 1
        log.warning("association from %s rejected", event.assoc.requestor.ae_title)
