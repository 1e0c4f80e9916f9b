"""The review page: API, thumbnails from real series, path traversal, corrections, export, headless Chromium."""

from __future__ import annotations

import csv
import os
import shutil
import threading
import time
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from radclass.outputs.sqlite_index import read_corrections, upsert_series
from test_listen_helpers import fake_annotate, free_port, need_binary, series_dir

SCREENSHOT = "review_page.png"


@pytest.fixture
def review_db(tmp_path) -> Path:
    """An index over four real series: one UNKNOWN, one flagged with a Grad-CAM image, two plain."""
    table = fake_annotate([series_dir(n) for n in ("canon_a", "toshiba_a", "jpegls", "j2k")])
    table.loc[1, ["sequence", "status", "confidence", "contrast"]] = ["UNKNOWN", "unknown", 0.34, "na"]
    cam = tmp_path / "cam.png"
    y, x = np.mgrid[0:64, 0:64]
    heat = np.exp(-((x - 40) ** 2 + (y - 24) ** 2) / 200.0)  # a Grad-CAM-like blob
    Image.fromarray((np.stack([heat, heat ** 2, 0 * heat], -1) * 255).astype(np.uint8)).save(cam)
    table["gradcam_png"] = ""
    table.loc[2, ["flags", "gradcam_png"]] = ["low_confidence;header_disagrees", str(cam)]
    db = tmp_path / "index.sqlite"
    upsert_series(db, table)
    return db


@pytest.fixture
def client(review_db):
    from fastapi.testclient import TestClient

    from radclass.review.app import create_app

    with TestClient(create_app(review_db)) as c:
        yield c


def _png(content: bytes) -> Image.Image:
    assert content[:8] == b"\x89PNG\r\n\x1a\n"
    return Image.open(BytesIO(content))


def test_listing_filters_and_thumbnails(client):
    assert "radclass review" in client.get("/").text
    assert client.get("/static/review.js").status_code == 200
    items = client.get("/api/series").json()
    assert len(items) == 4 and all("files" not in i and "path" not in i for i in items)
    assert [i["current"]["sequence"] for i in client.get("/api/series?filter=unknown").json()] == ["UNKNOWN"]
    flagged = client.get("/api/series?filter=flagged").json()
    assert len(flagged) == 1 and flagged[0]["has_gradcam"]
    assert client.get("/api/series?filter=nonsense").status_code == 422
    for item in items:  # every real series renders, the JPEG-LS and JPEG 2000 ones included
        image = _png(client.get(f"/api/series/{item['id']}/thumbnail.png").content)
        assert max(image.size) <= 256
    assert _png(client.get(f"/api/series/{flagged[0]['id']}/gradcam.png").content).size == (64, 64)
    assert client.get(f"/api/series/{items[0]['id']}/gradcam.png").status_code == 404


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
    "/api/series/-1/gradcam.png",
    "/../../../../etc/passwd",
])
def test_path_traversal_is_refused(client, url):
    resp = client.get(url)
    assert resp.status_code in (404, 405, 422)
    assert b"root:" not in resp.content and b"import " not in resp.content


def test_corrections_are_stored_and_exported(client, review_db, tmp_path):
    from typer.testing import CliRunner

    from radclass.cli.app import app

    unknown = client.get("/api/series?filter=unknown").json()[0]
    url = f"/api/series/{unknown['id']}/corrections"
    assert client.post(url, json={"reviewer": "dr. who", "sequence": "NOPE"}).status_code == 422
    assert client.post(url, json={"reviewer": "", "sequence": "T2"}).status_code == 422
    assert client.post(url, content="reviewer=x&sequence=T2",
                       headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 422
    assert read_corrections(review_db).empty
    saved = client.post(url, json={"reviewer": "dr. who", "sequence": "T2", "orientation": "AX",
                                   "contrast": "pre"}).json()
    assert {(c["field"], c["old"], c["new"]) for c in saved["stored"]} == {
        ("sequence", "UNKNOWN", "T2"), ("contrast", "na", "pre")}  # orientation unchanged: not stored
    assert saved["series"]["current"]["sequence"] == "T2"
    assert len(client.get(f"/api/series/{unknown['id']}").json()["history"]) == 2

    out = tmp_path / "labels.csv"
    result = CliRunner().invoke(app, ["review", "--db", str(review_db), "--export", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 1
    assert rows[0]["series_uid"] == unknown["series_uid"]
    assert (rows[0]["sequence"], rows[0]["orientation"], rows[0]["contrast"], rows[0]["reviewer"]) == (
        "T2", "AX", "pre", "dr. who")


# -- headless Chromium ----------------------------------------------------------------------------------------
CHROME_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1400,900")


@pytest.fixture
def server(review_db):
    import uvicorn

    from radclass.review.app import create_app

    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(review_db), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    end = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < end, "review server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


@pytest.fixture
def browser(tmp_path):
    chromium = need_binary("chromium")
    driver_path = need_binary("chromedriver")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium not installed (pip install .[test])")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver_path))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.mark.slow
def test_review_page_in_headless_chromium(server, browser, review_db, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    wait = WebDriverWait(browser, 30)
    rows = lambda: browser.find_elements(By.CSS_SELECTOR, "#series tbody tr")  # noqa: E731
    loaded = lambda f: lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") == f  # noqa: E731

    browser.get(server + "/")
    wait.until(loaded("all"))
    assert len(rows()) == 4
    wait.until(lambda d: all(d.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", img)
                             for img in d.find_elements(By.CSS_SELECTOR, "#series tbody img")))

    Select(browser.find_element(By.ID, "filter")).select_by_value("unknown")
    wait.until(loaded("unknown"))
    assert len(rows()) == 1
    row = rows()[0]
    assert Select(row.find_element(By.NAME, "sequence")).first_selected_option.text == "UNKNOWN"

    # saving without a reviewer name is refused in the page
    row.find_element(By.CSS_SELECTOR, "button.save").click()
    assert "reviewer" in browser.find_element(By.ID, "message").text
    browser.find_element(By.ID, "reviewer").send_keys("Dr. Chromium")
    Select(row.find_element(By.NAME, "sequence")).select_by_value("FLAIR")
    row.find_element(By.CSS_SELECTOR, "button.save").click()
    wait.until(lambda d: "Saved 1 correction" in d.find_element(By.ID, "message").text)

    # persisted: a fresh load of the corrected series shows the new label, the prediction and the reviewer
    browser.get(server + "/?filter=corrected")
    wait.until(loaded("corrected"))
    assert len(rows()) == 1
    row = rows()[0]
    assert Select(row.find_element(By.NAME, "sequence")).first_selected_option.text == "FLAIR"
    assert "predicted UNKNOWN" in row.text and "by Dr. Chromium" in row.text
    assert browser.find_element(By.ID, "reviewer").get_attribute("value") == "Dr. Chromium"
    log = read_corrections(review_db)
    assert list(log[["field", "old", "new", "reviewer"]].itertuples(index=False, name=None)) == [
        ("sequence", "UNKNOWN", "FLAIR", "Dr. Chromium")]
    browser.get(server + "/")
    wait.until(loaded("all"))
    wait.until(lambda d: all(d.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", img)
                             for img in d.find_elements(By.CSS_SELECTOR, "#series tbody img")))
    browser.save_screenshot(str(tmp_path / SCREENSHOT))
    assert _png((tmp_path / SCREENSHOT).read_bytes()).size[0] > 0
    if os.environ.get("RADCLASS_SCREENSHOT_DIR"):  # e.g. docs/, to refresh the picture in the docs
        shutil.copy(tmp_path / SCREENSHOT, Path(os.environ["RADCLASS_SCREENSHOT_DIR"]) / SCREENSHOT)
