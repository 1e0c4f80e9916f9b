"""Validate the fluid test (issue #12: T2 against FLAIR from the pixels) nested leave-one-dataset-out on the pool,
and write it into a bundle.

    .venv/bin/python benchmarks/eval_fluid_contrast.py --write src/radclass/bundled/mri-series

Every usable T2/FLAIR brain volume of the pool with 16 slices or more is measured with the bundle's brain mask
(:mod:`radclass.training.fluid_contrast`); the bundle's test groups are kept out of every choice and measured
once. About two minutes on two cores. Without ``--write`` the bundle is written to a temporary copy and only
the figures are printed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from radclass.models.bundle import DEFAULT_BUNDLE, ModelBundle
from radclass.training.fluid_contrast import build_fluid_test
from radclass.training.pool import labelled_pool


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", default=DEFAULT_BUNDLE, help="bundle whose test groups and brain mask are used")
    ap.add_argument("--write", type=Path, default=None, help="bundle folder to write the fluid test into")
    args = ap.parse_args()
    source = ModelBundle.load(args.write or args.bundle)
    held = list(source.meta.get("test_groups") or ())
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        target = args.write
        if target is None:
            target = Path(tmp) / "bundle"
            shutil.copytree(source.folder, target)
        record = build_fluid_test(target, labelled_pool(), held)
    print(f"{time.perf_counter() - t0:.0f} s")
    print(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
