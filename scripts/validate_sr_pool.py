"""Write a radclass SR for every DICOM series folder of the data pool and validate each with dciodvfy and dsrdump.

Usage: ``python scripts/validate_sr_pool.py [POOL_DICOM_ROOT] [OUT_DIR]`` (defaults: the pool's ``mri/dicom``,
a temporary folder). Prints one line per failing series and a summary; the corrections the sanitiser made are
logged as warnings. The labels are a fixed stand-in (DWI/AX): what is checked is the DICOM validity of the report.
Exit status 1 when any report could not be written or has a dciodvfy "Error" line.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from radclass.config import data_root
from radclass.integration.sr import write_sr

ROW = {"sequence": "DWI", "orientation": "AX", "contrast": "none", "confidence": 0.9, "status": "ok",
       "model_version": "validate", "flags": ""}


def main(root: Path, out_dir: Path) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    folders = sorted({p.parent for p in root.rglob("*") if p.is_file() and "non-image" not in p.parts})
    stats: Counter[str] = Counter()
    for folder in folders:
        rel = str(folder.relative_to(root))
        out = out_dir / (rel.replace("/", "_") + ".dcm")
        try:
            corrections = write_sr({**ROW, "series_uid": rel}, sorted(p for p in folder.iterdir() if p.is_file()), out)
        except Exception as err:  # reported, the sweep goes on
            print(f"NOT WRITTEN {rel}: {type(err).__name__}: {err}")
            stats["not written"] += 1
            continue
        run = subprocess.run(["dciodvfy", str(out)], capture_output=True, text=True)
        errors = [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")]
        dump = subprocess.run(["dsrdump", str(out)], capture_output=True, text=True)
        stats["written"] += 1
        stats["dciodvfy clean"] += not errors
        stats["dsrdump read"] += dump.returncode == 0
        stats["with corrections"] += len(corrections) > 0
        if errors or dump.returncode:
            print(f"INVALID {rel}: {errors[:3]} {dump.stderr[:200]}")
    print(f"{len(folders)} series: " + ", ".join(f"{k} {v}" for k, v in stats.items()))
    return 0 if stats["dciodvfy clean"] == len(folders) else 1


if __name__ == "__main__":
    pool = Path(sys.argv[1]) if len(sys.argv) > 1 else data_root() / "mri" / "dicom"
    with tempfile.TemporaryDirectory() as tmp:
        sys.exit(main(pool, Path(sys.argv[2]) if len(sys.argv) > 2 else Path(tmp)))
