"""The report folder: metrics.json schema, CSVs, a self-contained report.html that headless Chromium renders
without console errors (screenshot kept under the pytest tmp dir), and ``radclass evaluate`` on MANIFEST.csv."""

from __future__ import annotations

import base64
import json
import os
import re
import select
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radclass.config import data_root
from radclass.evaluate.report import run_evaluation

CHROMIUM = Path("/usr/bin/chromium")


def _binary_tables(tmp: Path) -> tuple[Path, Path, Path]:
    """Truth (relative paths) and two score-carrying prediction tables (absolute paths) for a binary task."""
    rng = np.random.default_rng(7)
    n = 120
    rel = [f"ct-head/images/{i:03d}.png" for i in range(n)]
    y = rng.random(n) < 0.4
    truth = pd.DataFrame({"path": rel, "label": np.where(y, "HEMORRHAGE", "NORMAL")})
    truth.loc[n] = ["ct-head/images/999.png", "NORMAL"]  # a truth row nobody predicts
    truth.to_csv(tmp / "truth.csv", index=False)
    paths = [f"/somewhere/shared/data/{r}" for r in rel]
    for name, noise in (("model_a", 0.8), ("model_b", 1.6)):
        p = 1 / (1 + np.exp(-(2.5 * (2 * y - 1) + rng.normal(0, 2.5 * noise, n)) / 2))
        label = np.where(p >= 0.5, "HEMORRHAGE", "NORMAL")
        label[:4] = "UNKNOWN"
        pred = pd.DataFrame({"path": paths + ["/somewhere/else/stray.png"], "label": list(label) + ["NORMAL"],
                             "probability": list(p) + [0.1]})
        pred.to_csv(tmp / f"{name}.csv", index=False)
    return tmp / "truth.csv", tmp / "model_a.csv", tmp / "model_b.csv"


@pytest.fixture(scope="module")
def binary_report(tmp_path_factory) -> tuple[dict, dict[str, Path]]:
    tmp = tmp_path_factory.mktemp("binary")
    truth, a, b = _binary_tables(tmp)
    return run_evaluation(a, truth, tmp / "report", compare=[b], n_bootstrap=200, band_resamples=50)


def test_metrics_json_schema(binary_report) -> None:
    metrics, written = binary_report
    assert metrics["task"] == "binary" and metrics["positive"] == "HEMORRHAGE"
    for key in ("accuracy", "balanced_accuracy", "cohen_kappa", "per_class", "roc_auc", "inputs"):
        assert key in metrics
    hem = metrics["per_class"]["HEMORRHAGE"]
    for name in ("sensitivity", "specificity", "precision"):
        low, high = hem[f"{name}_ci95"]
        assert low <= hem[name] <= high
    assert {"f1", "support"} <= set(hem)
    auc = metrics["roc_auc"]
    assert auc["method"] == "DeLong" and auc["ci95"][0] < auc["value"] < auc["ci95"][1]
    inputs = metrics["inputs"]
    assert inputs["matched"] == 120
    assert inputs["unmatched_predictions"] == ["/somewhere/else/stray.png"]
    assert inputs["unmatched_truth"] == ["ct-head/images/999.png"]
    pair = metrics["comparison"]["pairwise"][0]
    assert {"mcnemar", "chi2", "delong"} <= set(pair)
    assert pair["delong"]["auc_a"] == pytest.approx(auc["value"])
    assert "model_b" in metrics["others"]
    for name in ("per_class.csv", "confusion_matrix.csv", "cases.csv", "unmatched.csv", "comparison_per_class.csv"):
        assert written[name].is_file()
    assert pd.read_csv(written["unmatched.csv"])["side"].tolist() == ["prediction", "truth"]


def test_report_is_self_contained(binary_report) -> None:
    page = binary_report[1]["report.html"].read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) >= 10  # confusion x2, ROC, PR, reliability per model, + risk-coverage
    assert all(base64.b64decode(img)[:4] == b"\x89PNG" for img in images)
    for text in ("sensitivity (95% CI)", "Comparison of classifiers", "Risk", "DeLong"):
        assert text in page


class _DevTools:
    """Minimal Chrome DevTools Protocol client over ``--remote-debugging-pipe`` (NUL-separated JSON)."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc, self.buffer, self.events, self.next_id = proc, b"", [], 0

    def _read(self, timeout: float) -> dict | None:
        deadline = time.monotonic() + timeout
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                return None
            chunk = os.read(self.proc.stdout.fileno(), 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.proc.stdin.write(json.dumps(message).encode() + b"\0")
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = self._read(deadline - time.monotonic())
            if reply is None:
                break
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)
        raise TimeoutError(f"no reply to {method}")

    def wait_for(self, method: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        seen = len(self.events)
        while time.monotonic() < deadline:
            if any(e.get("method") == method for e in self.events[seen:]):
                return
            event = self._read(deadline - time.monotonic())
            if event is not None:
                self.events.append(event)
        raise TimeoutError(f"no {method} event")

    def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (event := self._read(max(0.0, deadline - time.monotonic()))) is not None:
            self.events.append(event)


def _errors(events: list[dict]) -> list[str]:
    """Console errors, uncaught exceptions and error log entries (failed loads) among DevTools events."""
    out = []
    for e in events:
        method, params = e.get("method"), e.get("params", {})
        if method == "Runtime.exceptionThrown":
            out.append(params["exceptionDetails"].get("exception", {}).get("description", "exception"))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            out.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            out.append(params["entry"]["text"])
    return out


def _open(devtools: _DevTools, session: str, url: str) -> list[str]:
    """Navigate, wait for load plus a short settle, and return the errors seen on that page."""
    start = len(devtools.events)
    devtools.call("Page.navigate", {"url": url}, session)
    devtools.wait_for("Page.loadEventFired")
    devtools.drain(0.5)
    return _errors([e for e in devtools.events[start:] if e.get("sessionId") == session])


@pytest.mark.skipif(not CHROMIUM.exists(), reason="headless check needs /usr/bin/chromium (Debian package chromium)")
def test_report_renders_in_headless_chromium_without_console_errors(binary_report, tmp_path) -> None:
    report = binary_report[1]["report.html"]
    control = tmp_path / "control.html"
    control.write_text("<html><body><script>console.error('control error'); undefinedFunction();</script></body></html>")
    args = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}", "--remote-debugging-pipe", "about:blank"]
    # the pipe protocol reads commands on fd 3 and writes replies on fd 4: map them to our stdin/stdout pipes
    proc = subprocess.Popen(["sh", "-c", 'exec "$0" "$@" 3<&0 4>&1 0</dev/null 1>/dev/null', *args],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        devtools = _DevTools(proc)
        target = devtools.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = devtools.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            devtools.call(f"{domain}.enable", session=session)
        devtools.call("Emulation.setDeviceMetricsOverride",
                      {"width": 1280, "height": 1600, "deviceScaleFactor": 1, "mobile": False}, session)
        control_errors = _open(devtools, session, control.as_uri())
        assert any("control error" in e for e in control_errors)  # the collector does see errors
        assert any("undefinedFunction" in e for e in control_errors)
        assert _open(devtools, session, report.as_uri()) == []
        broken = devtools.call("Runtime.evaluate", {"expression": "[...document.images].filter(i => !i.naturalWidth).length",
                                                    "returnByValue": True}, session)
        assert broken["result"]["value"] == 0  # every embedded PNG decoded
        shot = devtools.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session)
        screenshot = tmp_path / "report.png"
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        assert screenshot.read_bytes()[:4] == b"\x89PNG" and screenshot.stat().st_size > 20_000
        devtools.call("Browser.close")
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _manifest_or_skip() -> Path:
    manifest = data_root() / "MANIFEST.csv"
    if not manifest.is_file():
        pytest.skip(f"shared data pool not found: no MANIFEST.csv under {data_root()} (set RADCLASS_DATA)")
    return manifest


def test_cli_evaluate_on_manifest(tmp_path) -> None:
    """PRED built from MANIFEST rows (some labels changed, annotate-style extras) against MANIFEST.csv itself."""
    from typer.testing import CliRunner

    import radclass.cli  # noqa: F401  registers the commands
    from radclass.cli.app import app

    manifest_path = _manifest_or_skip()
    manifest = pd.read_csv(manifest_path, dtype=str, keep_default_na=False)
    images = manifest[~manifest["series_description"].str.startswith("MASK:")]
    rows = images[images["modality"] == "MR"].head(40).reset_index(drop=True)
    classes = sorted(images["sequence"].unique())
    labels = rows["sequence"].to_numpy().copy()
    changed = [0, 5, 11, 17, 23, 31]
    for i in changed:
        labels[i] = "OTHER" if labels[i] != "OTHER" else "T1"
    scores = np.full((len(rows), len(classes)), 0.02)
    for i, label in enumerate(labels):
        scores[i, classes.index(label)] = 0.9
    scores /= scores.sum(axis=1, keepdims=True)
    pred = pd.DataFrame({"path": [str(data_root() / r) for r in rows["relpath"]], "sub_series": "",
                         "status": "ok", "n_files": 10, "sequence": labels, "confidence": scores.max(axis=1)})
    for j, c in enumerate(classes):
        pred[f"p_{c}"] = scores[:, j]
    extras = pd.DataFrame({
        "path": [pred["path"][0], "/x/non-image/sr.dcm", "/x/unreadable.dcm", "/x/not/in/manifest"],
        "sub_series": ["2", "", "", ""], "status": ["ok", "skipped", "error", "ok"], "n_files": [3, 1, 1, 4],
        "sequence": ["BOLD", "", "", "T2"], "confidence": [0.99, None, None, 0.8],
    })
    pd.concat([pred, extras]).to_csv(tmp_path / "annotate.csv", index=False)
    other = pred.assign(sequence=np.where(np.arange(len(pred)) % 4 == 0, "T1", pred["sequence"]))
    other.to_csv(tmp_path / "other.csv", index=False)
    reader = pred[["path", "sequence"]].rename(columns={"sequence": "label"})
    reader.loc[[1, 2], "label"] = "UNKNOWN"
    reader.to_csv(tmp_path / "reader.csv", index=False)

    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["evaluate", str(tmp_path / "annotate.csv"), "--truth", str(manifest_path),
                                      "--report", str(out), "--compare", str(tmp_path / "other.csv"),
                                      "--compare", str(tmp_path / "reader.csv"), "--bootstrap", "100"])
    assert result.exit_code == 0, result.output
    assert "40 cases" in result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["accuracy"] == pytest.approx((40 - len(changed)) / 40)
    inputs = metrics["inputs"]
    assert inputs["rows_dropped_by_status"] == {"skipped": 1, "error": 1}
    assert inputs["sub_series_rows_collapsed"] == 1  # the 3-file sub-series lost to the 10-file one
    assert inputs["unmatched_predictions"] == ["/x/not/in/manifest"]
    assert inputs["n_unmatched_truth"] == len(images) - 40
    assert metrics["task"] == "multiclass" and "roc_auc_ovr" in metrics
    for label, entry in metrics["per_class"].items():
        assert entry["support"] == int((rows["sequence"] == label).sum())
    comparison = metrics["comparison"]
    assert comparison["classifiers"] == ["annotate", "other", "reader"]
    assert len(comparison["pairwise"]) == 3 and "friedman_nemenyi" in comparison
    assert (out / "report.html").stat().st_size > 50_000
