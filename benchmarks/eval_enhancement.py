"""Validate the gadolinium test (issue #12) nested leave-one-dataset-out on the pool, and write it into a bundle.

    .venv/bin/python benchmarks/eval_enhancement.py                       # measure and print
    .venv/bin/python benchmarks/eval_enhancement.py --write src/radclass/bundled/mri-series

Every usable T1/T1C brain volume of the pool with 16 slices or more is measured once (brain mask from the
bundle's ``brain_mask.onnx``, about 1 s per volume on one thread); the bundle's test groups are kept out of every
choice and measured once with the shipped one (:mod:`radclass.training.enhancement`). ``--write`` stores the
choice and its figures in the bundle's ``bundle.json`` (``contrast_enhancement``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from radclass.models.bundle import DEFAULT_BUNDLE, ModelBundle
from radclass.training.enhancement import add_contrast_enhancement, figures, measure_pool, nested_lodo
from radclass.training.pool import labelled_pool


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", default=DEFAULT_BUNDLE, help="bundle whose brain mask and test groups are used")
    ap.add_argument("--write", type=Path, default=None, help="bundle folder to write the chosen test into")
    ap.add_argument("--json", type=Path, default=None, help="write the per-volume ratios here")
    args = ap.parse_args()
    bundle = ModelBundle.load(args.write or args.bundle, threads=1)
    held = set(bundle.meta.get("test_groups") or ())
    t0 = time.perf_counter()
    measured = measure_pool(labelled_pool(), bundle.brain_mask_proba)
    seconds = time.perf_counter() - t0
    print(
        f"{len(measured.examples)} volumes in {seconds:.0f} s ({seconds / max(len(measured.examples), 1):.2f} s each)"
    )
    for name, why in measured.left_out:
        print(f"  left out: {name}: {why}")
    for name, why in measured.refused:
        print(f"  refused (counted as not enhanced): {name}: {why}")
    development = [e for e in measured.examples if e.dataset not in held]
    test = [e for e in measured.examples if e.dataset in held]
    if args.write:
        record = add_contrast_enhancement(
            args.write, development, test, left_out=measured.left_out, refused=measured.refused
        )
        # (radclass train runs the same steps: radclass.training.enhancement.build_gadolinium_test)
    else:
        nested = nested_lodo(development)
        record = {"outer_lodo": figures(nested.counts())}
    print(json.dumps({k: v for k, v in record.items() if k != "left_out"}, indent=1))
    if args.json:
        args.json.write_text(json.dumps([e.__dict__ for e in measured.examples], indent=1, default=str))


if __name__ == "__main__":
    main()
