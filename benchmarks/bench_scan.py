"""Header-scan throughput of ``radclass scan`` with 1 and 2 worker processes, beside ``dcm2niix`` on the same tree.

Usage::

    python benchmarks/bench_scan.py [EXTRA_TREE ...] [--workers 1 2] [--repeat 1] [--no-dcm2niix]

The pool's ``mri/dicom`` folder (``radclass.config.data_root()``) is always measured; further trees can be
given, e.g. one built by ``python /work/shared/tools/replicate_dicom_tree.py <pool>/mri/dicom /tmp/bench20 20``.

Warm cache: every file of a tree is read once before any timing. Each configuration is timed as a subprocess
(``radclass scan TREE --out T.parquet -q --workers N`` and ``dcm2niix -z n -o OUT TREE``), so both include
process start-up; the in-process ``scan()`` time is shown too. The best of ``--repeat`` runs is kept. The
ratio column is radclass CLI seconds / dcm2niix seconds on the same tree (above 1: slower than dcm2niix, which
reads and writes every pixel, while radclass reads headers only).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tree_io import tree_files, warm_cache  # noqa: E402


def best_of(repeat: int, run) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return min(times)


def time_cli(tree: Path, workers: int, repeat: int) -> float:
    radclass = [sys.executable, "-m", "radclass"]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "scan.parquet"

        def run() -> None:
            subprocess.run([*radclass, "scan", str(tree), "--out", str(out), "-q", "--workers", str(workers)],
                           check=True, stdout=subprocess.DEVNULL)

        return best_of(repeat, run)


def time_inprocess(tree: Path, workers: int, repeat: int) -> tuple[float, int, int]:
    from radclass.pipeline.scan import scan

    result = None

    def run() -> None:
        nonlocal result
        result = scan([tree], workers=workers)

    seconds = best_of(repeat, run)
    assert result is not None
    return seconds, len(result.series), result.n_walked


def time_dcm2niix(tree: Path, repeat: int) -> tuple[float, int]:
    exe = shutil.which("dcm2niix")
    assert exe
    n_out = 0
    times = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            subprocess.run([exe, "-z", "n", "-o", out, str(tree)], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=False)  # non-zero when some series fail to convert
            times.append(time.perf_counter() - t0)
            n_out = sum(1 for f in os.listdir(out) if f.endswith(".nii"))
    return min(times), n_out


def main(argv: list[str] | None = None) -> int:
    from radclass.config import data_root

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="*", type=Path, help="extra DICOM trees to measure")
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--repeat", type=int, default=1, help="runs per configuration (best kept)")
    parser.add_argument("--no-dcm2niix", action="store_true")
    args = parser.parse_args(argv)

    trees = [data_root() / "mri" / "dicom", *args.trees]
    missing = [t for t in trees if not t.is_dir()]
    if missing:
        print(f"not a folder: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    use_dcm2niix = not args.no_dcm2niix and shutil.which("dcm2niix") is not None
    if not args.no_dcm2niix and not use_dcm2niix:
        print("dcm2niix not found on PATH: comparison column left empty", file=sys.stderr)

    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"cpu cores: {os.cpu_count()}; load average before: {load}; python {sys.version.split()[0]}; "
          f"best of {args.repeat}; warm cache")
    header = ("| tree | files | MB | tool | workers | CLI s | scan() s | files/s (CLI) | series | "
              "time / dcm2niix time |")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for tree in trees:
        files = tree_files(tree)
        mb = warm_cache(files) / 1e6
        rows = []
        for w in args.workers:
            cli = time_cli(tree, w, args.repeat)
            inproc, n_series, n_walked = time_inprocess(tree, w, args.repeat)
            assert n_walked == len(files)
            rows.append((w, cli, inproc, n_series))
        d2n = time_dcm2niix(tree, args.repeat) if use_dcm2niix else None
        for w, cli, inproc, n_series in rows:
            ratio = f"{cli / d2n[0]:.2f}" if d2n else ""
            print(f"| {tree} | {len(files)} | {mb:.0f} | radclass scan | {w} | {cli:.2f} | {inproc:.2f} | "
                  f"{len(files) / cli:.0f} | {n_series} | {ratio} |")
        if d2n:
            print(f"| {tree} | {len(files)} | {mb:.0f} | dcm2niix -z n | 1 | {d2n[0]:.2f} | | "
                  f"{len(files) / d2n[0]:.0f} | {d2n[1]} .nii | 1.00 |")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
