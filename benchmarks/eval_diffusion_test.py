"""Measure the diffusion test (issue #12: DWI from the frames of a header-less time series) on the pool, and write
it into a bundle.

    .venv/bin/python benchmarks/eval_diffusion_test.py --write src/radclass/bundled/mri-series

Every time series of the pool is read (a DICOM series as dcm2niix converts it) and called with the test's fixed
bounds (:mod:`radclass.training.diffusion_test`); the bundle's test groups are reported apart. About 15 s.
Without ``--write`` the bundle is written to a temporary copy and only the figures are printed.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bundle_step import run_step  # noqa: E402

from radclass.training.diffusion_test import build_diffusion_test  # noqa: E402

if __name__ == "__main__":
    run_step(__doc__ or "", build_diffusion_test, "diffusion test")
