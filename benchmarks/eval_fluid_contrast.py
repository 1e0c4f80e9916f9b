"""Validate the fluid test (issue #12: T2 against FLAIR from the pixels) nested leave-one-dataset-out on the pool,
and write it into a bundle.

    .venv/bin/python benchmarks/eval_fluid_contrast.py --write src/radclass/bundled/mri-series

Every usable T2/FLAIR brain volume of the pool with 16 slices or more is measured with the bundle's brain mask
(:mod:`radclass.training.fluid_contrast`); the bundle's test groups are kept out of every choice and measured
once. About two minutes on two cores. Without ``--write`` the bundle is written to a temporary copy and only
the figures are printed.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bundle_step import run_step  # noqa: E402

from radclass.training.fluid_contrast import build_fluid_test  # noqa: E402

if __name__ == "__main__":
    run_step(__doc__ or "", build_fluid_test, "fluid test")
