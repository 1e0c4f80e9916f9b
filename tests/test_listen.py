"""``radclass listen`` end to end with dcmtk's storescu and real series from the data pool.

The mechanics (concurrent senders, a sender killed mid-series, garbage and truncated data, a restart in the
middle of a series, forwarding) run with a header-only stand-in annotator; ``test_cli_*`` drives the real
command with the real annotation pipeline and skips when that pipeline is not installed.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import highdicom as hd
import pydicom
import pytest
from pynetdicom import AE
from pynetdicom.sop_class import MRImageStorage

from radclass.integration.forward import Destination
from radclass.integration.listener import LEDGER_NAME, Listener, ListenerConfig
from radclass.integration.ledger import AnnotationLedger
from radclass.integration.sr import read_labels
from radclass.outputs.sqlite_index import read_series
from test_listen_helpers import (
    start_listen_cli,
    stop_listen_cli,
    wait_for,
    corrupt_copies,
    dciodvfy_errors,
    dsrdump_ok,
    fake_annotate,
    free_port,
    need_binary,
    series_files,
    storescu,
)

pytestmark = pytest.mark.slow

_KILLED_SENDER = """
import os, signal, sys, pydicom
from pynetdicom import AE
port, n, files = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
ae = AE(ae_title="KILLED")
ds0 = pydicom.dcmread(files[0], stop_before_pixels=True)
ae.add_requested_context(ds0.SOPClassUID, ds0.file_meta.TransferSyntaxUID)
assoc = ae.associate("127.0.0.1", port, ae_title="RADCLASS")
assert assoc.is_established
for f in files[:n]:
    assoc.send_c_store(f)
os.kill(os.getpid(), signal.SIGKILL)  # dies mid-series: no release, no abort
"""


class CountingAnnotator:
    """The stand-in annotator, counting calls per series folder (thread-safe)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, paths):
        with self._lock:
            self.calls.update(Path(p).name for p in paths)
        return fake_annotate(paths)


def _uids(files) -> tuple[str, str, set[str]]:
    heads = [pydicom.dcmread(f, stop_before_pixels=True) for f in files]
    return heads[0].StudyInstanceUID, heads[0].SeriesInstanceUID, {h.SOPInstanceUID for h in heads}


def _stored(store: Path, files) -> set[str]:
    study, series, _ = _uids(files)
    return {p.stem for p in (store / study / series).glob("*.dcm")}


def _send_garbage(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"\x01\x00\x00\x00\x00\x10" + os.urandom(64))
        time.sleep(0.2)


def _send_bad_datasets(port: int, tmp_path: Path) -> list[int]:
    """A dataset without Study/Series UIDs and a file truncated in the middle of its pixel data."""
    source = series_files("toshiba_b")[0]
    truncated = tmp_path / "truncated.dcm"
    truncated.write_bytes(source.read_bytes()[: source.stat().st_size // 2])
    no_uids = pydicom.dcmread(source)
    del no_uids.StudyInstanceUID, no_uids.SeriesInstanceUID
    ae = AE(ae_title="BROKEN")
    ae.add_requested_context(MRImageStorage, no_uids.file_meta.TransferSyntaxUID)
    assoc = ae.associate("127.0.0.1", port, ae_title="RADCLASS")
    assert assoc.is_established
    try:
        return [assoc.send_c_store(no_uids).Status, assoc.send_c_store(truncated).Status]
    finally:
        assoc.release()


@pytest.fixture
def listeners():
    started: list[Listener] = []

    def start(config: ListenerConfig, annotator) -> Listener:
        listener = Listener(config, annotator=annotator)
        listener.start()
        started.append(listener)
        return listener

    yield start
    for listener in started:
        listener.stop()


def test_concurrent_senders_abort_restart_forward(tmp_path, listeners):
    need_binary("storescu")
    pacs = listeners(ListenerConfig(store=tmp_path / "pacs", port=0, ae_title="PACS", quiet_seconds=0.5),
                     fake_annotate)
    annotate = CountingAnnotator()
    config = ListenerConfig(store=tmp_path / "inbox", port=0, quiet_seconds=3.0,
                            forward=Destination("127.0.0.1", pacs.port, "PACS"))
    first = listeners(config, annotate)

    # three senders at once, one sender killed after 5 of 12 instances, garbage bytes, malformed datasets
    senders = [storescu(first.port, series_files(name), calling=f"SENDER{i}", wait=False)
               for i, name in enumerate(["canon_a", "canon_b", "jpegls"])]
    killed = subprocess.run([sys.executable, "-c", _KILLED_SENDER, str(first.port), "5",
                             *map(str, series_files("canon_c"))], capture_output=True, timeout=60)
    assert killed.returncode == -signal.SIGKILL
    _send_garbage(first.port)
    assert _send_bad_datasets(first.port, tmp_path) == [0xA900, 0xC000]
    for proc in senders:
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, out
    assert first.wait_idle(60)
    assert first.handler.failed == 2 and first.status().annotated == 4

    # restart in the middle of a series: half of it, stop before it counts as complete, then the rest
    toshiba = series_files("toshiba_a")
    assert storescu(first.port, toshiba[:6]).returncode == 0
    first.stop()
    ledger_path = config.store / LEDGER_NAME
    assert not any("7007" in k for k in AnnotationLedger(ledger_path).entries())
    second = listeners(replace(config, port=0), annotate)
    assert storescu(second.port, toshiba[6:]).returncode == 0
    assert storescu(second.port, series_files("canon_a")).returncode == 0  # a repeat: nothing new
    assert second.wait_idle(60)
    second.stop()

    # every instance stored, every series annotated exactly once
    expected = {"canon_a": series_files("canon_a"), "canon_b": series_files("canon_b"),
                "jpegls": series_files("jpegls"), "canon_c": series_files("canon_c")[:5], "toshiba_a": toshiba}
    for name, files in expected.items():
        assert _stored(config.store, files) == _uids(files)[2], name
    assert not list(config.store.rglob("*.part"))
    assert set(annotate.calls.values()) == {1} and len(annotate.calls) == 5
    entries = AnnotationLedger(ledger_path).entries()
    assert len(entries) == 5 and all(e["runs"] == 1 for e in entries.values())
    index = read_series(config.store / "index.sqlite")
    assert sorted(index["series_uid"]) == sorted(_uids(f)[1] for f in expected.values())
    assert set(index["n_files"]) == {12, 1, 5}

    # one structured report per series, valid, referencing its source series; each forwarded to the PACS
    reports = sorted((config.store / "_sr").rglob("*.dcm"))
    assert len(reports) == 5
    for path in reports:
        _check_report(path, config.store)
    assert pacs.wait_idle(30)
    received = sorted(p for p in pacs.store.root.rglob("*.dcm") if "_sr" not in p.parts)
    assert len(received) == 5
    assert {pydicom.dcmread(p).Modality for p in received} == {"SR"}
    assert all("stored only" in e["note"] for e in pacs.ledger.entries().values())


def _check_report(path: Path, store: Path) -> None:
    sr = hd.sr.srread(path)
    assert isinstance(sr, hd.sr.Comprehensive3DSR)
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0]
    series = evidence.ReferencedSeriesSequence[0]
    source_dir = store / evidence.StudyInstanceUID / series.SeriesInstanceUID
    assert {r.ReferencedSOPInstanceUID for r in series.ReferencedSOPSequence} == {
        p.stem for p in source_dir.glob("*.dcm")}
    assert sr.StudyInstanceUID == evidence.StudyInstanceUID
    group = sr.content.get_image_measurement_groups()[0]
    names = {e.name.value for e in group.get_qualitative_evaluations()}
    assert {"SEQUENCE", "113764", "122086"} <= names
    labels = read_labels(path)
    assert labels == {"sequence": "DWI", "orientation": "AX", "contrast": "none", "status": "ok",
                      "confidence": pytest.approx(0.9), "algorithm": "radclass", "algorithm_version": "fake-1"}
    scheme = sr.CodingSchemeIdentificationSequence[0]
    assert scheme.CodingSchemeDesignator == "99RADCLASS"


def test_damaged_patient_headers_over_the_network_give_valid_reports(tmp_path, listeners):
    """Real series whose patient/study attributes are damaged (PatientSex 0000, bad dates, over-long strings,
    wrong VRs, Latin-1 names under a UTF-8 declaration), sent by storescu: every series gets its SR, and each SR
    passes dciodvfy and dsrdump."""
    need_binary("storescu")
    need_binary("dciodvfy")
    listener = listeners(ListenerConfig(store=tmp_path / "inbox", port=0, quiet_seconds=1.0), fake_annotate)
    names = ("canon_b", "toshiba_b", "philips")
    for name in names:
        damaged = corrupt_copies(series_files(name), tmp_path / "damaged" / name)
        sent = storescu(listener.port, damaged)
        assert sent.returncode == 0, sent.stderr
    assert listener.wait_idle(120)
    counts = listener.status()
    assert (counts.annotated, counts.reports, counts.failed) == (3, 3, 0), counts.line()
    assert counts.corrected >= 3 * 10  # ten damaged attributes per series, each counted once
    reports = sorted((listener.store.root / "_sr").rglob("*.dcm"))
    assert len(reports) == 3
    for path in reports:
        assert dciodvfy_errors(path) == [], path
        assert dsrdump_ok(path)
        sr = pydicom.dcmread(path)
        assert sr.PatientSex == "" and sr.StudyDate == "20060314" and str(sr.PatientName) == "Müller^Jörg"
        assert read_labels(path)["sequence"] == "DWI"


def test_store_is_atomic_and_rejects_bad_uids(tmp_path):
    from radclass.integration.storage import TMP_DIR, InstanceStore

    store = InstanceStore(tmp_path)
    path = store.write(b"data", "1.2.3", "1.2.3.4", "1.2.3.4.5")
    assert path == tmp_path / "1.2.3" / "1.2.3.4" / "1.2.3.4.5.dcm" and path.read_bytes() == b"data"
    for bad in (("../..", "1.2", "1.3"), ("1.2", "1.2/../../x", "1.3"), ("1.2", "1.3", "..")):
        with pytest.raises(ValueError):
            store.write(b"x", *bad)
    (tmp_path / TMP_DIR / "9.9-abc.part").write_bytes(b"half")  # left by a crash
    assert store.remove_temporaries() == 1
    assert [store.relative(d) for d in store.series_dirs()] == ["1.2.3/1.2.3.4"]


def test_allow_list_rejects_other_callers(tmp_path, listeners):
    need_binary("storescu")
    listener = listeners(ListenerConfig(store=tmp_path, port=0, quiet_seconds=60, allow=("GOOD",)), fake_annotate)
    files = series_files("jpegls")
    refused = storescu(listener.port, files, calling="INTRUDER")
    assert refused.returncode != 0 and "Rejected" in refused.stderr
    assert not list(tmp_path.rglob("*.dcm"))
    assert storescu(listener.port, files, calling="GOOD").returncode == 0
    assert len(list(tmp_path.rglob("*.dcm"))) == 1
    assert listener.handler.rejected == 1


def _pipeline_or_skip() -> None:
    try:
        import radclass.pipeline.annotate  # noqa: F401
    except ImportError:
        pytest.skip("annotation pipeline not available")














def _annotated(ledger_path: Path, log: Path, n: int):
    """Predicate: the ledger lists ``n`` series; fails at once when the listener logged an error."""

    def check() -> bool:
        text = log.read_text()
        if "Traceback" in text:
            pytest.fail("the listener failed:\n" + text[-4000:])
        return len(AnnotationLedger(ledger_path).entries()) >= n

    return check


def test_cli_real_annotation_with_restart(tmp_path):
    """`radclass listen` with the real pipeline: Ctrl-C mid-series, restart, each series annotated once; one
    series arrives with damaged patient/study attributes and still gets its (valid) report."""
    need_binary("storescu")
    _pipeline_or_skip()
    store, port, log = tmp_path / "inbox", free_port(), tmp_path / "listen.log"
    ledger_path = store / LEDGER_NAME
    damaged = corrupt_copies(series_files("canon_a"), tmp_path / "damaged")
    proc = start_listen_cli(store, port, log)
    try:
        assert storescu(port, damaged).returncode == 0
        assert storescu(port, series_files("j2k")).returncode == 0
        assert wait_for(_annotated(ledger_path, log, 2), 300), "series were not annotated"
        assert storescu(port, series_files("toshiba_a")[:6]).returncode == 0
    finally:
        out = stop_listen_cli(proc, log)
    assert "stopped: received 19" in out  # final status line
    proc = start_listen_cli(store, port, log)
    try:
        assert storescu(port, series_files("toshiba_a")[6:]).returncode == 0
        assert wait_for(_annotated(ledger_path, log, 3), 300), "the interrupted series was not annotated"
    finally:
        stop_listen_cli(proc, log)
    entries = AnnotationLedger(ledger_path).entries()
    assert sorted(e["instances"] for e in entries.values()) == [1, 12, 12]
    assert all(e["runs"] == 1 for e in entries.values())
    index = read_series(store / "index.sqlite")
    assert len(index) >= 3 and index["status"].isin(["ok", "unknown", "error"]).all()
    reports = list((store / "_sr").rglob("*.dcm"))
    assert len(reports) == (index["status"].isin(["ok", "unknown"])).sum()
    assert any(pydicom.dcmread(p).StudyDate == "20060314" for p in reports)  # the damaged series' report
    text = log.read_text()
    assert "PatientSex emptied" in text
    assert int(re.search(r"stopped: .*header fixes (\d+)", text).group(1)) >= 10  # first run: the damaged series
    for path in reports:
        sr = hd.sr.srread(path)
        assert sr.SeriesDescription == "radclass sequence annotation"
        labels = read_labels(path)
        row = index[index["series_uid"] == sr.CurrentRequestedProcedureEvidenceSequence[0]
                    .ReferencedSeriesSequence[0].SeriesInstanceUID].iloc[0]
        assert (labels["sequence"], labels["orientation"], labels["contrast"]) == (
            row["sequence"], row["orientation"], row["contrast"])
        assert labels["algorithm_version"] == str(row["model_version"])
        if shutil.which("dciodvfy"):
            assert dciodvfy_errors(path) == [], path


def test_real_annotator_loads_the_bundle_once(data_root, tmp_path, monkeypatch):
    """The listener's real annotator loads the model bundle on the first series and reuses it afterwards."""
    from radclass.integration.listener import PipelineAnnotator
    from radclass.models.bundle import ModelBundle

    loads: list[tuple] = []
    real_load = ModelBundle.load

    def counted(*args, **kwargs):
        loads.append(args)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(ModelBundle, "load", counted)  # the real loader, its calls counted
    annotator = Listener(ListenerConfig(store=tmp_path / "store", slices=3)).annotator
    assert isinstance(annotator, PipelineAnnotator) and annotator.slices == 3
    first = annotator([data_root / "mri/dicom/dcm_qa_asl/Siemens_Prisma_T1_mprage_ns_sag"])
    second = annotator([data_root / "mri/dicom/dcm_qa_canon_61/14000_DTI_PA-ortho-HT"])
    assert len(loads) == 1 and annotator.bundle.version == "mri-series-3"
    assert set(first["status"]) | set(second["status"]) <= {"ok", "unknown"}
    with pytest.raises(ValueError, match="at least one slice per series"):
        PipelineAnnotator(slices=0)
