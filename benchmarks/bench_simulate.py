"""The MR simulator's cost (radclass.simulate.simulate_slices): CPU seconds per 128x128 slice, per class, as a
Markdown table (the training sets draw thousands of simulated slices). On the shared 2-core machine, 2026-12-02:
T1 15.6 ms, T2 14.4, FLAIR 28.9, PD 21.6, DWI 32.0, BOLD 23.8 (20 slices each).

Run from the project root: ``.venv/bin/python benchmarks/bench_simulate.py [--slices 20] [--size 128]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from radclass.simulate import simulate_slices

CLASSES = ("T1", "T2", "FLAIR", "PD", "DWI", "BOLD")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--slices", type=int, default=20, help="slices per class")
    ap.add_argument("--size", type=int, default=128, help="slice side, pixels")
    args = ap.parse_args()
    rng = np.random.default_rng(5)
    simulate_slices("T2", "AX", rng, n_slices=1, size=32)  # the anatomy cache, built once
    print("| class | CPU ms per slice | slices per CPU second |\n|---|---|---|")
    for sequence in CLASSES:
        start = time.process_time()
        simulate_slices(sequence, "AX", rng, n_slices=args.slices, size=args.size)
        per = (time.process_time() - start) / args.slices
        print(f"| {sequence} | {per * 1000:.1f} | {1 / per:.0f} |")


if __name__ == "__main__":
    main()
