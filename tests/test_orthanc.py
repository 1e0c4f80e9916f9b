"""Round trip through a real Orthanc (Debian package ``orthanc``).

A scanner (storescu) stores series into Orthanc; Orthanc's Lua ``OnStableSeries`` routes each stable series to
the radclass listener; the listener annotates it and C-STOREs a structured report back into Orthanc, where the
REST API shows it (``/series``, ``/instances/<id>/simplified-tags``). Orthanc 1.10 cannot be told which address
to bind, so where the kernel allows it the scenario runs in a private network namespace holding only a
loopback interface (``unshare -n``); otherwise it runs as is, with remote access refused by configuration.

Run by pytest, this module re-executes itself as a script (the scenario) and checks the JSON it writes.
The listener runs in-process with the header-only stand-in annotator: this test is about the plumbing; the
real pipeline behind ``radclass listen`` is exercised by ``test_listen.py::test_cli_real_annotation_with_restart``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from loopback_netns import netns_prefix

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_listen_helpers import fake_annotate, free_port, need_binary, series_files, storescu  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "orthanc"
SENT = ("canon_a", "jpegls")


def test_example_config_matches_helpers():
    """examples/orthanc is what the tested helpers generate (so the example is what this test runs)."""
    from radclass.integration.orthanc import lua_script, orthanc_config

    assert json.loads((EXAMPLES / "orthanc.json").read_text()) == orthanc_config()
    assert (EXAMPLES / "radclass.lua").read_text() == lua_script()


def _netns_prefix() -> list[str]:
    """Command prefix running a child in a fresh network namespace with loopback up, or [] if impossible."""
    return netns_prefix()


@pytest.mark.slow
def test_orthanc_round_trip(tmp_path):
    need_binary("Orthanc")
    need_binary("storescu")
    for name in SENT:
        series_files(name)  # skips when the data pool is absent
    cmd = [*_netns_prefix(), sys.executable, str(Path(__file__).resolve()), str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-6000:]
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["reports"] == len(SENT)
    for report in result["report_tags"]:
        assert report["Modality"] == "SR" and report["Manufacturer"] == "radclass"
        assert report["StudyInstanceUID"] in result["source_studies"]
        assert report["labels"]["algorithm"] == "radclass"
        assert report["labels"]["sequence"] == result["index"][report["source_series"]]["sequence"]
    assert result["routed_series"] == len(SENT)


# -- the scenario, run as a script (possibly inside `unshare -n`) ---------------------------------------------
def _wait(predicate, timeout: float, what: str):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise TimeoutError(what)


def scenario(work: Path) -> dict:
    import pydicom

    from radclass.integration.forward import Destination
    from radclass.integration.listener import Listener, ListenerConfig
    from radclass.integration.orthanc import OrthancClient, write_config
    from radclass.integration.sr import read_labels
    from radclass.outputs.sqlite_index import read_series

    http_port, dicom_port = free_port(), free_port()
    listener = Listener(ListenerConfig(
        store=work / "inbox", port=0, ae_title="RADCLASS", quiet_seconds=1.0, allow=("ORTHANC",),
        forward=Destination("127.0.0.1", dicom_port, "ORTHANC")), annotator=fake_annotate)
    listener.start()
    config = write_config(work / "orthanc", http_port=http_port, dicom_port=dicom_port,
                          storage=str(work / "orthanc" / "db"), radclass=("RADCLASS", "127.0.0.1", listener.port),
                          senders={"scanner": ("SCANNER", "127.0.0.1", 104)}, stable_age=2)
    log = (work / "orthanc.log").open("w")
    orthanc = subprocess.Popen([shutil.which("Orthanc"), "--verbose", str(config)], stdout=log, stderr=log)
    try:
        client = OrthancClient(f"http://127.0.0.1:{http_port}")
        client.wait_ready(60)
        for name in SENT:
            sent = storescu(dicom_port, series_files(name), calling="SCANNER", called="ORTHANC")
            assert sent.returncode == 0, sent.stderr
        reports = _wait(lambda: (r := client.report_series()) and len(r) >= len(SENT) and r,
                        240, "structured reports did not reach Orthanc")
        tags = []
        for series in reports:
            instance = series["Instances"][0]
            simple = client.simplified_tags(instance)
            path = work / f"{instance}.dcm"
            path.write_bytes(client.get_bytes(f"/instances/{instance}/file"))
            evidence = pydicom.dcmread(path).CurrentRequestedProcedureEvidenceSequence[0]
            tags.append({k: simple.get(k) for k in ("Modality", "Manufacturer", "StudyInstanceUID",
                                                     "SeriesDescription")}
                        | {"labels": read_labels(path),
                           "source_series": evidence.ReferencedSeriesSequence[0].SeriesInstanceUID})
        index = read_series(listener.db).set_index("series_uid")
        routed = sum("stored only" not in e["note"] for e in listener.ledger.entries().values())
        studies = {s["ParentStudy"]: client.get(f"/studies/{s['ParentStudy']}") for s in client.series()}
        return {
            "reports": len(reports), "report_tags": tags, "routed_series": routed,
            "source_studies": sorted({s["MainDicomTags"]["StudyInstanceUID"] for s in studies.values()}),
            "index": {uid: {"sequence": row["sequence"]} for uid, row in index.iterrows()},
        }
    finally:
        orthanc.terminate()
        try:
            orthanc.wait(30)
        except subprocess.TimeoutExpired:
            orthanc.kill()
        listener.stop()
        log.close()


if __name__ == "__main__":
    out = Path(sys.argv[1])
    result = scenario(out)
    (out / "result.json").write_text(json.dumps(result, indent=1, default=str))
    print(json.dumps(result, indent=1, default=str))
