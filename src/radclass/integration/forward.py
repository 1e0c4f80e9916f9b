"""Send files on to another DICOM node by C-STORE (the ``--forward HOST:PORT:AET`` destination)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pynetdicom import AE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Destination:
    """A remote Storage SCP."""

    host: str
    port: int
    ae_title: str

    @classmethod
    def parse(cls, spec: str) -> "Destination":
        """Parse ``HOST:PORT:AET``."""
        parts = spec.rsplit(":", 2)
        if len(parts) != 3 or not parts[0] or not parts[1].isdigit() or not parts[2]:
            raise ValueError(f"expected HOST:PORT:AET, got {spec!r}")
        return cls(parts[0], int(parts[1]), parts[2])


def send_files(dest: Destination, files: Sequence[Path], calling_aet: str = "RADCLASS") -> int:
    """C-STORE ``files`` to ``dest``; return how many were stored with a success status.

    Raises ConnectionError when no association can be established.
    """
    datasets = [pydicom.dcmread(f) for f in files]
    ae = AE(ae_title=calling_aet)
    for ds in datasets:
        pair = (ds.SOPClassUID, ds.file_meta.TransferSyntaxUID)
        if pair not in {(cx.abstract_syntax, cx.transfer_syntax[0]) for cx in ae.requested_contexts}:
            ae.add_requested_context(*pair)
    assoc = ae.associate(dest.host, dest.port, ae_title=dest.ae_title)
    if not assoc.is_established:
        raise ConnectionError(f"no association with {dest.ae_title}@{dest.host}:{dest.port}")
    stored = 0
    try:
        for path, ds in zip(files, datasets):
            status = assoc.send_c_store(ds)
            if status and status.Status == 0x0000:
                stored += 1
            else:
                log.warning("forward of %s to %s failed: %s", path, dest.ae_title, status)
    finally:
        assoc.release()
    return stored
