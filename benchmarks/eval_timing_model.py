"""Validate the timing model (issue #12: NIfTI volumes without a sidecar) nested leave-one-dataset-out on the pool,
and write it into a bundle.

    .venv/bin/python benchmarks/eval_timing_model.py --write src/radclass/bundled/mri-series

Every labelled pool series whose header has a TR or TE is reduced to what a NIfTI volume without its sidecar
keeps (:func:`radclass.features.header.timing_row`); the bundle's test groups are kept out of every choice and
scored once (:mod:`radclass.training.timing_model`). About a minute on two cores. Without ``--write`` the bundle
is written to a temporary copy and only the figures are printed.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bundle_step import run_step  # noqa: E402

from radclass.training.timing_model import build_timing_model  # noqa: E402

if __name__ == "__main__":
    run_step(__doc__ or "", build_timing_model, "timing model")
