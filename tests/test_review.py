"""The review page's API over an index annotated from real pool series (DICOM, NIfTI 3D and 4D, PNG): work
list in SQL, every slice of every volume, explanations, corrections with audit and conflicts, bulk accept,
export for ``radclass train --labels``, tokens, path confinement, and the page in headless Chromium."""

from __future__ import annotations

import base64
import csv
import io
import os
import shutil
import threading
import time
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from radclass.config import data_root
from radclass.outputs.sqlite_index import EXPORT_COLUMNS, read_corrections, read_series, upsert_series
from radclass.taxonomy import DEFAULT_CONTRAST, ORIENTATIONS, SEQUENCES
from test_listen_helpers import free_port, need_binary

#: Real series of the pool, one or more per format (the 4D NIfTI has 20 slices x 10 volumes).
POOL = {
    "mosaic": "mri/dicom/dcm_qa/AxInt36mb",  # JPEG 2000 Siemens mosaic, 36 tiles
    "canon": "mri/dicom/dcm_qa_canon_61/3000_DTI_PA-ortho",  # split by the pipeline into b0 / b1500
    "jpegls": "mri/dicom/dicom2nifti/generic_compressed_jpegls_001",
    "nifti3d": "mri/nifti/nichart_demo/fl/Subj1_FL.nii.gz",
    "nifti4d": "mri/nifti/niivue/pcasl.nii.gz",
    "png": "mri/png/ixi_guys/IXI040-Guys-0724-PD_slice69.png",
}
XSS = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


@pytest.fixture(scope="session")
def annotated():
    """The real annotation pipeline's table over :data:`POOL`, one description made hostile."""
    paths = [data_root() / p for p in POOL.values()]
    if not all(p.exists() for p in paths):
        pytest.skip("shared data pool not found")
    from radclass.pipeline.annotate import annotate_paths

    table = annotate_paths(paths, progress=False, workers=1)
    table.loc[table["path"].str.endswith("generic_compressed_jpegls_001"), "series_description"] = XSS
    return table


@pytest.fixture
def review_db(tmp_path, annotated) -> Path:
    db = tmp_path / "index.sqlite"
    upsert_series(db, annotated)
    return db


def _app(db: Path, **kwargs):
    from radclass.review.app import create_app

    return create_app(db, **kwargs)


@pytest.fixture
def client(review_db):
    from fastapi.testclient import TestClient

    with TestClient(_app(review_db), base_url="http://127.0.0.1") as c:
        yield c


def _png(content: bytes) -> Image.Image:
    assert content[:8] == b"\x89PNG\r\n\x1a\n"
    return Image.open(BytesIO(content))


def _ids(client, **params) -> list[int]:
    return [i["id"] for i in client.get("/api/series", params={"limit": 1000, **params}).json()["items"]]


def _id_of(db: Path, name: str) -> int:
    series = read_series(db)
    return int(series.loc[series["path"].str.endswith(POOL[name]), "id"].iloc[0])


def test_work_list_filters_sorts_groups_and_pages(client, review_db):
    page = client.get("/api/series").json()
    assert page["total"] == 7 and page["counts"] == {"total": 7, "reviewed": 0, "corrected": 0, "remaining": 7}
    assert all("files" not in i and "path" not in i for i in page["items"])
    unknown = _ids(client, label="UNKNOWN")
    assert len(unknown) == 3  # the two NIfTI and the PNG have uninformative headers
    assert _ids(client, flag="mosaic") == [_id_of(review_db, "mosaic")]
    assert _ids(client, flag="mos") == []  # one whole flag, not a substring
    high = client.get("/api/series", params={"confidence_min": 0.9}).json()["items"]
    assert high and all(i["confidence"] >= 0.9 for i in high)
    assert len(_ids(client, confidence_min=0.9)) + len(_ids(client, confidence_max=0.8999)) == 7
    assert len(_ids(client, manufacturer="CANON_MEC")) == 2
    study = client.get("/api/series", params={"manufacturer": "SIEMENS"}).json()["items"][0]["study_uid"]
    assert _ids(client, study=study) == [_id_of(review_db, "mosaic")]
    assert _ids(client, q="pcasl") == [_id_of(review_db, "nifti4d")]
    assert _ids(client, q="%") == []  # LIKE wildcards are matched literally
    assert _ids(client, predicted="DWI", status="ok") == _ids(client, manufacturer="CANON_MEC")
    confidences = [i["confidence"] for i in client.get("/api/series?sort=confidence&desc=true").json()["items"]]
    assert confidences == sorted(confidences, reverse=True)
    grouped = client.get("/api/series?group=study&sort=confidence").json()["items"]
    studies = [i["study_uid"] for i in grouped]
    assert studies == sorted(studies, key=lambda s: (s is None, s or ""))
    first, second = (client.get("/api/series", params={"limit": 4, "offset": o}).json() for o in (0, 4))
    assert len(first["items"]) == 4 and len(second["items"]) == 3 and first["total"] == 7
    assert {i["id"] for i in first["items"]}.isdisjoint(i["id"] for i in second["items"])
    for bad in ("sort=path;DROP TABLE series", "review=nope", "limit=0", "limit=5000", "confidence_min=2",
                "confidence_min=0.9&confidence_max=0.1", "group=site"):
        assert client.get(f"/api/series?{bad}").status_code == 422, bad
    facets = client.get("/api/facets").json()
    assert "mosaic" in facets["flag"] and "SIEMENS" in facets["manufacturer"]


def test_every_format_has_a_thumbnail_and_every_slice_of_every_volume(client, review_db):
    from radclass.io.pixels import load_slice, load_slices
    from radclass.review.access import indexed_series

    extents = {}
    for item in client.get("/api/series").json()["items"]:
        image = _png(client.get(f"/api/series/{item['id']}/thumbnail.png").content)
        assert max(image.size) <= 256 and np.asarray(image).std() > 0  # not blank, NIfTI and PNG included
        resp = client.get(f"/api/series/{item['id']}/slice")
        assert resp.status_code == 200
        rows, cols = int(resp.headers["x-rows"]), int(resp.headers["x-columns"])
        assert len(resp.content) == 4 * rows * cols
        extents[item["id"]] = (int(resp.headers["x-slices"]), int(resp.headers["x-volumes"]))
    assert extents[_id_of(review_db, "nifti4d")] == (20, 10)
    assert extents[_id_of(review_db, "mosaic")] == (36, 1)
    assert extents[_id_of(review_db, "png")] == (1, 1)

    four_d = _id_of(review_db, "nifti4d")
    last = client.get(f"/api/series/{four_d}/slice?index=19&volume=9")
    first = client.get(f"/api/series/{four_d}/slice?index=19&volume=0")
    assert last.status_code == first.status_code == 200 and last.content != first.content
    assert client.get(f"/api/series/{four_d}/slice?index=20&volume=0").status_code == 404
    assert client.get(f"/api/series/{four_d}/slice?index=0&volume=10").status_code == 404
    assert client.get(f"/api/series/{four_d}/slice?index=-1").status_code == 422

    # the viewer's slices are the pixel reader's: the thumbnail slice is one of them, sent unchanged
    series = indexed_series(read_series(review_db).set_index("id").loc[four_d].to_dict() | {"id": four_d})
    middle = load_slices(series, k=1)[0]
    assert any(np.array_equal(middle, load_slice(series, i)) for i in range(20))
    sent = np.frombuffer(last.content, "<f4").reshape(int(last.headers["x-rows"]), -1)
    assert np.array_equal(sent, load_slice(series, 19, volume=9))


def test_explanations_on_demand(client, review_db):
    mosaic = _id_of(review_db, "mosaic")
    result = client.post(f"/api/series/{mosaic}/explain", json={"method": "occlusion", "index": 20}).json()
    assert (result["method"], result["slice"]) == ("occlusion", 20)
    overlay = _png(base64.b64decode(result["overlay_png"]))
    assert overlay.mode == "RGB" and overlay.size == (128, 128)
    assert set(result["cnn"]) == {"sequence", "orientation"}
    assert result["cnn"]["sequence"]["predicted"] in SEQUENCES
    assert len(result["shap"]["features"]) == 10 and result["shap"]["predicted"] in SEQUENCES
    cam = client.post(f"/api/series/{mosaic}/explain", json={"method": "gradcam"}).json()
    assert cam["slice"] == 18 and cam["overlay_png"] != result["overlay_png"]  # default: the middle slice
    assert client.post(f"/api/series/{mosaic}/explain", json={"method": "shapley"}).status_code == 422
    assert client.post(f"/api/series/{mosaic}/explain", json={"index": 36}).status_code == 404


def test_corrections_are_audited_and_conflicts_refused(client, review_db):
    target = _id_of(review_db, "nifti4d")
    url = f"/api/series/{target}/corrections"
    assert client.post(url, json={"reviewer": "dr. who", "sequence": "NOPE"}).status_code == 422
    assert client.post(url, json={"reviewer": "  ", "sequence": "T2"}).status_code == 422
    assert client.post(url, content="reviewer=x&sequence=T2",
                       headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 422
    assert read_corrections(review_db).empty
    saved = client.post(url, json={"reviewer": "dr. who", "sequence": "PERFUSION", "contrast": "na",
                                   "comment": "pCASL label/control pairs",
                                   "expected": {"sequence": "UNKNOWN"}}).json()
    assert [(c["field"], c["old"], c["new"], c["comment"]) for c in saved["stored"]] == [
        ("sequence", "UNKNOWN", "PERFUSION", "pCASL label/control pairs")]  # contrast unchanged: not stored
    assert saved["series"]["current"]["sequence"] == "PERFUSION" and saved["series"]["corrected"]
    stale = client.post(url, json={"reviewer": "dr. no", "sequence": "BOLD", "expected": {"sequence": "UNKNOWN"}})
    assert stale.status_code == 409 and "PERFUSION" in stale.json()["detail"]
    later = client.post(url, json={"reviewer": "dr. no", "sequence": "BOLD", "expected": {"sequence": "PERFUSION"}})
    assert later.status_code == 200
    history = client.get(f"/api/series/{target}").json()["history"]
    assert [(h["reviewer"], h["old"], h["new"]) for h in history] == [
        ("dr. who", "UNKNOWN", "PERFUSION"), ("dr. no", "PERFUSION", "BOLD")]
    assert all(h["time"] for h in history)
    assert _ids(client, label="BOLD") == sorted([target, _id_of(review_db, "mosaic")])
    assert _ids(client, review="corrected") == [target]


def test_bulk_accept_and_export_round_trip(client, review_db, tmp_path):
    from typer.testing import CliRunner

    from radclass.cli.app import app

    ids = _ids(client)
    result = client.post("/api/accept", json={"reviewer": "dr. bulk", "ids": ids + [99999]}).json()
    refused = {r["id"]: r["reason"] for r in result["refused"]}
    assert len(result["accepted"]) == 4 and 99999 in refused and len(refused) == 4  # 3 UNKNOWN + missing
    assert result["counts"]["reviewed"] == 4 and result["counts"]["remaining"] == 3
    log = read_corrections(review_db)
    assert (log["old"] == log["new"]).all() and set(log["reviewer"]) == {"dr. bulk"}
    assert _ids(client, review="remaining") == sorted(_ids(client, label="UNKNOWN"))
    unknown = _ids(client, label="UNKNOWN")[0]
    client.post(f"/api/series/{unknown}/corrections", json={"reviewer": "dr. k", "sequence": "FLAIR",
                                                              "orientation": "AX", "contrast": "pre"})

    out = tmp_path / "labels.csv"
    run = CliRunner().invoke(app, ["review", "--db", str(review_db), "--export", str(out)])
    assert run.exit_code == 0, run.output
    assert out.read_bytes() == client.get("/api/export.csv").content
    with out.open(newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
    assert tuple(reader.fieldnames) == EXPORT_COLUMNS == ("path", "series_uid", "sub_series", "sequence",
                                                          "orientation", "contrast", "group")
    assert len(rows) == 5
    contrasts = set(DEFAULT_CONTRAST.values())
    for r in rows:  # what `radclass train --labels` reads parses against the taxonomy
        assert r["sequence"] in SEQUENCES
        assert r["orientation"] in (*ORIENTATIONS, "")
        assert r["contrast"] in (*contrasts, "")
        assert Path(r["path"]).exists() and r["series_uid"]
    flair = [r for r in rows if r["sequence"] == "FLAIR" and r["path"].endswith(".nii.gz")]
    assert len(flair) == 1 and (flair[0]["orientation"], flair[0]["contrast"]) == ("AX", "pre")
    mosaic = next(r for r in rows if r["path"].endswith(POOL["mosaic"]))
    assert mosaic["sequence"] == "BOLD" and mosaic["group"].startswith("1.3.12.2")  # the StudyInstanceUID


def test_two_reviewers_saving_at_once_lose_nothing(review_db):
    """Two HTTP clients post at the same moment against a real server: every save is stored once, old -> new
    chains without a gap, and of two saves from the same stale view exactly one wins, the other gets 409."""
    import httpx

    base, srv, thread = serve(_app(review_db))
    target = _id_of(review_db, "nifti3d")
    url = f"{base}/api/series/{target}/corrections"
    try:
        barrier = threading.Barrier(2)
        codes: dict[str, list[int]] = {"a": [], "b": []}

        def reviewer(name: str, classes: tuple[str, str]) -> None:
            with httpx.Client(timeout=30) as http:
                barrier.wait()
                for i in range(10):
                    resp = http.post(url, json={"reviewer": name, "sequence": classes[i % 2]})
                    codes[name].append(resp.status_code)

        workers = [threading.Thread(target=reviewer, args=(n, c)) for n, c in (("a", ("T1", "T2")),
                                                                               ("b", ("PD", "FLAIR")))]
        for w in workers:
            w.start()
        for w in workers:
            w.join(60)
        assert codes == {"a": [200] * 10, "b": [200] * 10}
        log = read_corrections(review_db)
        assert len(log) == 20
        assert log["old"].iloc[0] == "UNKNOWN" and (log["old"].iloc[1:].to_numpy() == log["new"].iloc[:-1].to_numpy()).all()

        current = log["new"].iloc[-1]
        barrier = threading.Barrier(2)
        results: list[int] = []

        def stale(name: str, value: str) -> None:
            with httpx.Client(timeout=30) as http:
                barrier.wait()
                results.append(http.post(url, json={"reviewer": name, "sequence": value,
                                                    "expected": {"sequence": current}}).status_code)

        racers = [threading.Thread(target=stale, args=a) for a in (("c", "SWI"), ("d", "MRA"))]
        for r in racers:
            r.start()
        for r in racers:
            r.join(60)
        assert sorted(results) == [200, 409]
        assert len(read_corrections(review_db)) == 21
    finally:
        srv.should_exit = True
        thread.join(10)


def test_token_basic_auth_and_loopback_host(review_db):
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from radclass.cli.app import app
    from radclass.review.security import check_bind

    token = "s3cret-token-of-some-length"
    with TestClient(_app(review_db, token=token), base_url="http://review.example:8000") as c:
        assert c.get("/api/series").status_code == 401
        assert c.get("/").status_code == 401
        assert c.get("/api/series", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/api/series/1/thumbnail.png").status_code == 401
        assert c.post("/api/accept", json={"reviewer": "x", "ids": [1]}).status_code == 401
        assert read_corrections(review_db).empty
        assert c.get("/api/series", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        basic = base64.b64encode(f"curator:{token}".encode()).decode()
        assert c.get("/api/series", headers={"Authorization": f"Basic {basic}"}).status_code == 200
        assert c.get("/?token=wrong", follow_redirects=False).status_code == 401
        signed = c.get(f"/?token={token}", follow_redirects=False)
        assert signed.status_code == 303 and "httponly" in signed.headers["set-cookie"].lower()
        assert c.get("/api/series").status_code == 200  # the cookie now
    with TestClient(_app(review_db), base_url="http://127.0.0.1") as c:
        page = c.get("/")
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert c.get("/api/series", headers={"Host": "attacker.example"}).status_code == 421
        assert c.get("/api/series", headers={"Host": "localhost:8000"}).status_code == 200
    check_bind("127.0.0.1", None)
    check_bind("::1", None)
    for host, tok in (("0.0.0.0", None), ("192.168.1.5", None), ("0.0.0.0", "short")):
        with pytest.raises(ValueError):
            check_bind(host, tok)
    run = CliRunner().invoke(app, ["review", "--db", str(review_db), "--host", "0.0.0.0"],
                             env={"RADCLASS_REVIEW_TOKEN": ""})
    assert run.exit_code != 0 and "token" in run.output


@pytest.mark.parametrize("url", [
    "/static/../app.py",
    "/static/..%2Fapp.py",
    "/static/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/static/app.py",
    "/static/thumbnails.py",
    "/api/series/..%2F..%2F..%2Fetc%2Fpasswd/thumbnail.png",
    "/api/series/%2Fetc%2Fpasswd/thumbnail.png",
    "/api/series/1%20OR%201=1/thumbnail.png",
    "/api/series/999/thumbnail.png",
    "/api/series/-1/slice",
    "/api/series/1/slice?index=../../etc/passwd",
    "/api/series?sort=../../etc/passwd",
    "/../../../../etc/passwd",
])
def test_path_traversal_is_refused(client, url):
    resp = client.get(url)
    assert resp.status_code in (404, 405, 422)
    assert b"root:" not in resp.content and b"import " not in resp.content


def test_a_tampered_index_cannot_reach_outside_its_series(tmp_path, annotated):
    """Rows whose files point outside their own path (.., absolute, a symlink) read nothing from there."""
    from fastapi.testclient import TestClient

    src = data_root() / POOL["jpegls"]
    folder = tmp_path / "series"
    shutil.copytree(src, folder)
    (folder / "escape.dcm").symlink_to("/etc/passwd")
    row = annotated[annotated["path"].str.endswith(POOL["jpegls"])].copy()
    rows = []
    for i, files in enumerate([f"{folder}/../../../../etc/passwd", "/etc/passwd", str(folder / "escape.dcm")]):
        r = row.copy()
        r["series_uid"] = f"9.9.{i}"
        r["path"], r["files"] = str(folder), files
        rows.append(r)
    db = tmp_path / "tampered.sqlite"
    import pandas as pd

    upsert_series(db, pd.concat(rows, ignore_index=True))
    from radclass.review.access import SeriesAccessError, confined_files

    with TestClient(_app(db), base_url="http://127.0.0.1") as c:
        for item in c.get("/api/series").json()["items"]:
            for url in (f"/api/series/{item['id']}/thumbnail.png", f"/api/series/{item['id']}/slice"):
                resp = c.get(url)
                assert resp.status_code == 404 and b"root:" not in resp.content
            with pytest.raises(SeriesAccessError):
                confined_files(read_series(db).set_index("id").loc[item["id"]].to_dict())
    good = confined_files({"path": str(folder), "files": ";".join(str(p) for p in sorted(folder.glob("*.dcm")))})
    assert good and all(p.resolve().is_relative_to(folder.resolve()) for p in good)  # the symlink is dropped


# -- headless Chromium ----------------------------------------------------------------------------------------
CHROME_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1600,1000")


def serve(app) -> tuple[str, object, threading.Thread]:
    """Start ``app`` with uvicorn on a free loopback port; (base URL, server, thread)."""
    import uvicorn

    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    end = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < end, "review server did not start"
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", srv, thread


@pytest.fixture
def server(review_db):
    base, srv, thread = serve(_app(review_db))
    yield base
    srv.should_exit = True
    thread.join(10)


def chromium(profile: Path, width: int = 1600, height: int = 1000):
    """Debian chromium driven by Debian chromium-driver (explicit path), headless."""
    binary = need_binary("chromium")
    driver_path = need_binary("chromedriver")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium not installed (pip install .[test])")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver_path))
    driver.set_page_load_timeout(60)
    return driver


@pytest.fixture
def browser(tmp_path):
    driver = chromium(tmp_path / "chromium-profile")
    yield driver
    driver.quit()


def _save_screenshot(driver, tmp_path: Path, name: str) -> None:
    driver.save_screenshot(str(tmp_path / name))
    assert _png((tmp_path / name).read_bytes()).size[0] > 0
    if os.environ.get("RADCLASS_SCREENSHOT_DIR"):  # e.g. docs/, to refresh the pictures in the docs
        shutil.copy(tmp_path / name, Path(os.environ["RADCLASS_SCREENSHOT_DIR"]) / name)


@pytest.mark.slow
def test_review_page_in_headless_chromium(server, browser, review_db, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait

    wait = WebDriverWait(browser, 60)
    rows = lambda: browser.find_elements(By.CSS_SELECTOR, "#series tbody tr[data-id]")  # noqa: E731
    body = lambda: browser.find_element(By.TAG_NAME, "body")  # noqa: E731
    unfocus = lambda: browser.execute_script("document.activeElement.blur()")  # noqa: E731
    loads = lambda: int(body().get_attribute("data-loaded") or 0)  # noqa: E731
    viewer = lambda: browser.find_element(By.ID, "viewer")  # noqa: E731

    def reloaded(before: int) -> None:
        wait.until(lambda d: loads() > before)

    def key(k: str) -> None:
        ActionChains(browser).send_keys(k).perform()

    browser.get(server + "/")
    wait.until(lambda d: loads() >= 1)
    assert len(rows()) == 7
    wait.until(lambda d: all(d.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", img)
                             for img in d.find_elements(By.CSS_SELECTOR, "#series tbody img")))
    # the hostile SeriesDescription is shown as text, never run
    assert XSS in browser.find_element(By.TAG_NAME, "tbody").text
    assert browser.execute_script("return window.__pwned") is None

    # scroll the 4D NIfTI: slices with the keyboard and the wheel, volumes with [ ]
    four_d = _id_of(review_db, "nifti4d")
    browser.find_element(By.CSS_SELECTOR, f'tr[data-id="{four_d}"] td.series').click()
    wait.until(lambda d: viewer().get_attribute("data-ready") == "1" and viewer().get_attribute("data-volumes") == "10")
    assert viewer().get_attribute("data-slice") == "10"
    browser.find_element(By.ID, "canvas").click()
    key(".")
    wait.until(lambda d: viewer().get_attribute("data-slice") == "11" and viewer().get_attribute("data-ready") == "1")
    key("]")
    wait.until(lambda d: viewer().get_attribute("data-volume") == "1" and viewer().get_attribute("data-ready") == "1")
    browser.execute_script("arguments[0].dispatchEvent(new WheelEvent('wheel', {deltaY: 120, bubbles: true,"
                           " cancelable: true}))", browser.find_element(By.ID, "canvas"))
    wait.until(lambda d: viewer().get_attribute("data-slice") == "12" and viewer().get_attribute("data-ready") == "1")
    before = viewer().get_attribute("data-window")
    ActionChains(browser).click_and_hold(browser.find_element(By.ID, "canvas")).move_by_offset(60, -30).release().perform()
    assert viewer().get_attribute("data-window") != before  # window/level by dragging
    canvas_mean = browser.execute_script(
        "const c = document.getElementById('canvas'); const d = c.getContext('2d').getImageData(0, 0, c.width,"
        " c.height).data; let s = 0; for (let i = 0; i < d.length; i += 4) s += d[i]; return s / (d.length / 4);")
    assert canvas_mean > 1

    # an explanation of the displayed slice, with the header SHAP beside it
    browser.find_element(By.ID, "explain-gradcam").click()
    wait.until(lambda d: d.find_element(By.ID, "explanation").get_attribute("data-ready") == "gradcam")
    assert "slice 13" in browser.find_element(By.ID, "explanation-label").text
    assert len(browser.find_elements(By.CSS_SELECTOR, "#shap li")) == 10
    assert browser.execute_script("return document.getElementById('overlay').naturalWidth") == 128
    _save_screenshot(browser, tmp_path, "review_viewer.png")

    # filter by flag, then sort by confidence (descending on a second click)
    n = loads()
    Select(browser.find_element(By.NAME, "flag")).select_by_value("mosaic")
    reloaded(n)
    assert [r.get_attribute("data-id") for r in rows()] == [str(_id_of(review_db, "mosaic"))]
    n = loads()
    Select(browser.find_element(By.NAME, "flag")).select_by_value("")
    reloaded(n)
    header = browser.find_element(By.CSS_SELECTOR, 'th[data-sort="confidence"]')
    for _ in range(2):
        n = loads()
        header.click()
        reloaded(n)
        header = browser.find_element(By.CSS_SELECTOR, 'th[data-sort="confidence"]')
    shown = [float(c.text) for c in browser.find_elements(By.CSS_SELECTOR, "#series tbody td.confidence")]
    assert shown == sorted(shown, reverse=True) and "desc=true" in browser.current_url

    # correct with the keyboard: the first UNKNOWN row, next class with w, save with Enter
    n = loads()
    Select(browser.find_element(By.NAME, "label")).select_by_value("UNKNOWN")
    reloaded(n)
    assert len(rows()) == 3
    browser.find_element(By.ID, "reviewer").send_keys("Dr. Chromium")
    browser.find_element(By.ID, "comment").send_keys("checked slice by slice" + Keys.ESCAPE)
    unfocus()
    key("k")  # stay on the first row
    key("w")
    key("w")
    first = rows()[0]
    assert Select(first.find_element(By.NAME, "sequence")).first_selected_option.text == SEQUENCES[1]
    key(Keys.ENTER)
    wait.until(lambda d: "Saved 1 correction" in d.find_element(By.ID, "message").text)
    log = read_corrections(review_db)
    assert list(log[["field", "old", "new", "reviewer", "comment"]].itertuples(index=False, name=None)) == [
        ("sequence", "UNKNOWN", SEQUENCES[1], "Dr. Chromium", "checked slice by slice")]

    # bulk accept: select two rows with x, accept them with A
    n = loads()
    Select(browser.find_element(By.NAME, "label")).select_by_value("")
    Select(browser.find_element(By.NAME, "review")).select_by_value("remaining")
    wait.until(lambda d: loads() > n and len(rows()) == 6)
    unfocus()
    key("x")
    key("j")
    key("x")
    assert browser.find_element(By.ID, "accept-selected").text == "Accept selected (2)"
    n = loads()
    key("A")
    reloaded(n)
    assert "Accepted" in browser.find_element(By.ID, "message").text
    wait.until(lambda d: body().get_attribute("data-reviewed") == "3")
    assert len(read_corrections(review_db)) == 1 + 2 * 3  # two acceptances of three labels each

    # export from the page: the CSV `radclass train --labels` reads
    exported = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(document.getElementById('export').href).then(r => r.text()).then(done);")
    exported_rows = list(csv.DictReader(io.StringIO(exported)))
    assert len(exported_rows) == 3 and all(r["sequence"] in SEQUENCES for r in exported_rows)

    n = loads()
    Select(browser.find_element(By.NAME, "review")).select_by_value("all")
    reloaded(n)
    wait.until(lambda d: all(d.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", img)
                             for img in d.find_elements(By.CSS_SELECTOR, "#series tbody img")))
    unfocus()
    mosaic = str(_id_of(review_db, "mosaic"))
    while browser.find_element(By.CSS_SELECTOR, "#series tr.active").get_attribute("data-id") != mosaic:
        key("j")  # down the list to the fMRI mosaic
    wait.until(lambda d: viewer().get_attribute("data-ready") == "1" and viewer().get_attribute("data-slices") == "36")
    _save_screenshot(browser, tmp_path, "review_list.png")
