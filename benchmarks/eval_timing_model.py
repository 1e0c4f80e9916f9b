"""Validate the timing model (issue #12: NIfTI volumes without a sidecar) nested leave-one-dataset-out on the pool,
and write it into a bundle.

    .venv/bin/python benchmarks/eval_timing_model.py --write src/radclass/bundled/mri-series

Every labelled pool series whose header has a TR or TE is reduced to what a NIfTI volume without its sidecar
keeps (:func:`radclass.features.header.timing_row`); the bundle's test groups are kept out of every choice and
scored once (:mod:`radclass.training.timing_model`). About a minute on two cores. Without ``--write`` the bundle
is written to a temporary copy and only the figures are printed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from radclass.models.bundle import DEFAULT_BUNDLE, ModelBundle
from radclass.training.pool import labelled_pool
from radclass.training.timing_model import build_timing_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", default=DEFAULT_BUNDLE, help="bundle whose test groups are used")
    ap.add_argument("--write", type=Path, default=None, help="bundle folder to write the timing model into")
    args = ap.parse_args()
    source = ModelBundle.load(args.write or args.bundle)
    held = list(source.meta.get("test_groups") or ())
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        target = args.write
        if target is None:
            target = Path(tmp) / "bundle"
            shutil.copytree(source.folder, target)
        record = build_timing_model(target, labelled_pool(), held)
    print(f"{time.perf_counter() - t0:.0f} s")
    print(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
