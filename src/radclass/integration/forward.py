"""Send files on to another DICOM node by C-STORE (``--forward HOST:PORT:AET`` and the ``--route`` destinations)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pynetdicom import AE

log = logging.getLogger(__name__)

SUCCESS = 0x0000  # C-STORE status (PS3.4 B.2.3)


@dataclass(frozen=True)
class Destination:
    """A remote Storage SCP; the constructor checks the AE title (PS3.5 6.2: at most 16 characters, no
    backslash or control characters, not only spaces) and the port."""

    host: str
    port: int
    ae_title: str

    def __post_init__(self) -> None:
        if not self.host or any(c.isspace() for c in self.host):
            raise ValueError(f"The destination host {self.host!r} must be a name or address without spaces.")
        if not isinstance(self.port, int) or not 0 < self.port < 65536:
            raise ValueError(f"The destination port {self.port!r} must be a whole number from 1 to 65535.")
        title = self.ae_title
        if not title.strip() or len(title) > 16 or "\\" in title or any(ord(c) < 32 for c in title):
            raise ValueError(
                f"The AE title {title!r} must be 1 to 16 characters, not only spaces, with no "
                "backslash or control character."
            )

    @classmethod
    def parse(cls, spec: str) -> Destination:
        """Parse ``HOST:PORT:AET`` (the ``--forward`` form)."""
        parts = spec.rsplit(":", 2)
        if len(parts) != 3 or not parts[0] or not parts[1].isdigit() or not parts[2]:
            raise ValueError(f"expected HOST:PORT:AET, got {spec!r}")
        return cls(parts[0], int(parts[1]), parts[2])

    @classmethod
    def parse_address(cls, spec: str) -> Destination:
        """Parse ``AET@HOST:PORT`` (the ``--route`` form)."""
        title, at, address = spec.strip().rpartition("@")
        host, colon, port = address.rpartition(":")
        if not (at and colon and title and host and port.isdigit()):
            raise ValueError(
                f"The destination {spec!r} is not of the form AET@HOST:PORT (for example PACS@127.0.0.1:11112)."
            )
        return cls(host, int(port), title)

    def __str__(self) -> str:
        return f"{self.ae_title}@{self.host}:{self.port}"


def send_files(dest: Destination, files: Sequence[Path], calling_aet: str = "RADCLASS") -> int:
    """C-STORE ``files`` to ``dest``; return how many were stored with a success status.

    Raises ConnectionError when no association can be established.
    """
    return sum(1 for status in store_each(dest, files, calling_aet) if status == SUCCESS)


def store_each(dest: Destination, files: Sequence[Path], calling_aet: str = "RADCLASS") -> list[int | None]:
    """C-STORE ``files`` to ``dest`` in one association; the C-STORE status of each file, in order.

    A file that could not be read or sent (unreadable, no accepted presentation context, association lost)
    has status None. Raises ConnectionError when no association can be established.
    """
    datasets: list = []
    for f in files:
        try:
            datasets.append(pydicom.dcmread(f))
        except Exception as exc:  # an unreadable file must not stop the others
            log.warning("cannot read %s for %s: %s", f, dest, exc)
            datasets.append(None)
    ae = AE(ae_title=calling_aet)
    for ds in datasets:
        if ds is None:
            continue
        pair = (ds.SOPClassUID, ds.file_meta.TransferSyntaxUID)
        if pair not in {(cx.abstract_syntax, cx.transfer_syntax[0]) for cx in ae.requested_contexts}:
            ae.add_requested_context(*pair)
    if not ae.requested_contexts:
        return [None] * len(files)
    assoc = ae.associate(dest.host, dest.port, ae_title=dest.ae_title)
    if not assoc.is_established:
        raise ConnectionError(f"no association with {dest}")
    statuses: list[int | None] = []
    try:
        for path, ds in zip(files, datasets):
            if ds is None or not assoc.is_established:
                statuses.append(None)
                continue
            try:
                status = assoc.send_c_store(ds)
            except (ValueError, RuntimeError) as exc:  # no accepted presentation context, encoding problem
                log.warning("forward of %s to %s failed: %s", path, dest, exc)
                statuses.append(None)
                continue
            code = int(status.Status) if status and "Status" in status else None
            if code != SUCCESS:
                log.warning("forward of %s to %s failed: status %s", path, dest, status)
            statuses.append(code)
    finally:
        if assoc.is_established:
            assoc.release()
    return statuses
