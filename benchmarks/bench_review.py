"""Review page on a 10,000-series index: API latency of the work list (filters, sorts, deep pages) and, in the
Debian Chromium (headless, chromium-driver), time to first render and filter/sort latency of the page.

Usage::

    python benchmarks/bench_review.py [--series 10000] [--reviewed 1000] [--repeat 20] [--loads 5]

The index is generated: the real annotation pipeline's rows for six pool series (DICOM, NIfTI 3D/4D, PNG)
replicated to ``--series`` rows with their own UIDs, 5 series per study, varied vendors, classes,
confidences and flags; ``--reviewed`` of them get audit rows through ``save_review`` (accepts and
corrections). The page is served by ``radclass review`` in a subprocess on a free loopback port.

Figures: API = median / 95th percentile of ``--repeat`` requests (100 rows per page, JSON decoded by the
client). Page = ``performance.now()`` when the first page of rows is in the DOM (from navigation start), and
the time from a filter change or a sort click to the re-rendered rows, as the page records them
(``window.radclassTimings``); medians over ``--loads`` runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

POOL = ("mri/dicom/dcm_qa/AxInt36mb", "mri/dicom/dcm_qa_canon_61/3000_DTI_PA-ortho",
        "mri/dicom/dicom2nifti/generic_compressed_jpegls_001", "mri/nifti/nichart_demo/fl/Subj1_FL.nii.gz",
        "mri/nifti/niivue/pcasl.nii.gz", "mri/png/ixi_guys/IXI040-Guys-0724-PD_slice69.png")
FLAGS = ("", "", "", "mosaic", "low_confidence", "header_uninformative", "pixels_header_disagree",
         "orientation_from_pixels;header_uninformative")
VENDORS = ("SIEMENS", "GE MEDICAL SYSTEMS", "Philips", "CANON_MEC")


def build_index(db: Path, n: int, reviewed: int, seed: int = 0) -> float:
    """Write the generated index; return the seconds it took."""
    import pandas as pd

    from radclass.config import data_root
    from radclass.outputs.sqlite_index import CORRECTABLE, save_review, upsert_series
    from radclass.pipeline.annotate import annotate_paths
    from radclass.taxonomy import SEQUENCES

    t0 = time.perf_counter()
    base = annotate_paths([data_root() / p for p in POOL], progress=False, workers=1)
    rng = np.random.default_rng(seed)
    rows = base.iloc[np.arange(n) % len(base)].reset_index(drop=True).copy()
    rows["series_uid"] = [f"2.25.{seed}.{i}" for i in range(n)]
    rows["sub_series"] = ""
    rows["study_uid"] = [f"2.25.{seed}.study.{i // 5}" for i in range(n)]
    rows["series_description"] = [f"{d or 'series'} #{i}" for i, d in enumerate(rows["series_description"].fillna(""))]
    rows["manufacturer"] = rng.choice(VENDORS, n)
    rows["sequence"] = np.where(rng.random(n) < 0.1, "UNKNOWN", rng.choice(SEQUENCES, n))
    rows["confidence"] = rng.uniform(0.2, 1.0, n).round(4)
    rows["status"] = np.where(rows["sequence"] == "UNKNOWN", "unknown", "ok")
    rows["flags"] = rng.choice(FLAGS, n)
    upsert_series(db, pd.DataFrame(rows))
    keys = rows["series_uid"].to_numpy()
    for i in rng.choice(n, reviewed, replace=False):
        labels = {"sequence": str(rng.choice(SEQUENCES)), "orientation": str(rng.choice(CORRECTABLE["orientation"]))}
        save_review(db, str(keys[i]), labels, f"reviewer{i % 3}", comment="bench", record_unchanged=True)
    return time.perf_counter() - t0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api_figures(base: str, repeat: int) -> list[tuple[str, float, float, int]]:
    import httpx

    cases = {
        "first page (100 rows)": "",
        "filter: remaining": "review=remaining",
        "filter: flag=mosaic": "flag=mosaic",
        "filter: label=UNKNOWN": "label=UNKNOWN",
        "filter: confidence 0.4-0.6 + vendor": "confidence_min=0.4&confidence_max=0.6&manufacturer=Philips",
        "filter: text search": "q=pcasl",
        "sort: confidence desc": "sort=confidence&desc=true",
        "sort: current sequence": "sort=sequence",
        "group by study, sort by confidence": "group=study&sort=confidence",
        "deep page (offset 9900)": "offset=9900",
    }
    out = []
    with httpx.Client(timeout=60) as http:
        for name, params in cases.items():
            times, total = [], 0
            for _ in range(repeat):
                t0 = time.perf_counter()
                resp = http.get(f"{base}/api/series?limit=100&{params}")
                resp.raise_for_status()
                total = resp.json()["total"]
                times.append(1000 * (time.perf_counter() - t0))
            out.append((name, statistics.median(times), float(np.percentile(times, 95)), total))
    return out


def page_figures(base: str, loads: int, profile: Path) -> dict[str, list[float]]:
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--window-size=1600,1000",
                 "--disable-background-networking", "--disable-component-update", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options,
                              service=webdriver.ChromeService(executable_path=shutil.which("chromedriver")))
    figures: dict[str, list[float]] = {"first render": [], "filter change": [], "sort click": []}
    timings = lambda: driver.execute_script("return window.radclassTimings || null")  # noqa: E731
    loaded = lambda: int(driver.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") or 0)  # noqa: E731
    try:
        wait = WebDriverWait(driver, 120)
        for i in range(loads):
            driver.get(f"{base}/?bench={i}")
            wait.until(lambda d: loaded() >= 1)
            figures["first render"].append(timings()["firstRender"])
            for value in ("mosaic", "header_uninformative", ""):
                n = loaded()
                Select(driver.find_element(By.NAME, "flag")).select_by_value(value)
                wait.until(lambda d: loaded() > n)
                figures["filter change"].append(timings()["lastLoad"])
            n = loaded()
            driver.find_element(By.CSS_SELECTOR, 'th[data-sort="confidence"]').click()
            wait.until(lambda d: loaded() > n)
            figures["sort click"].append(timings()["lastLoad"])
    finally:
        driver.quit()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10000)
    parser.add_argument("--reviewed", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "index.sqlite"
        seconds = build_index(db, args.series, args.reviewed)
        print(f"generated index: {args.series} series, {args.reviewed} reviewed, {db.stat().st_size / 1e6:.1f} MB "
              f"in {seconds:.1f} s; load average {os.getloadavg()[0]:.2f}\n")
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "radclass", "review", "--db", str(db), "--port", str(port)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        base = f"http://127.0.0.1:{port}"
        try:
            import httpx

            for _ in range(600):
                try:
                    httpx.get(base + "/api/facets", timeout=2).raise_for_status()
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            print("| API request | median ms | p95 ms | matching rows |\n|---|---:|---:|---:|")
            for name, median, p95, total in api_figures(base, args.repeat):
                print(f"| {name} | {median:.1f} | {p95:.1f} | {total} |")
            figures = page_figures(base, args.loads, Path(tmp) / "profile")
            print("\n| page in headless Chromium | median ms | min ms | max ms | runs |\n|---|---:|---:|---:|---:|")
            for name, values in figures.items():
                print(f"| {name} | {statistics.median(values):.0f} | {min(values):.0f} | {max(values):.0f} | {len(values)} |")
        finally:
            server.terminate()
            server.wait(10)
        print(f"\nload average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
