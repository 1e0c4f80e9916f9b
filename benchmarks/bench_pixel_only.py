"""The per-volume cost of the pixel-only readings (issue #12): what annotate spends on a NIfTI with no header.

    .venv/bin/python benchmarks/bench_pixel_only.py [--repeat 3]

For a few whole-brain pool volumes, CPU seconds (one thread, the median of ``--repeat`` runs) of: reading the
volume; :meth:`radclass.models.bundle.ModelBundle.pixel_only_readings` (one brain mask for the fluid, grey/white
and, where they make a T1 call, gadolinium readings); and, side by side, the fluid reading alone and the
gadolinium ratio alone (each with its own mask), which is what two separate measures would cost. Then the
diffusion test's reading of a header-less time series (reading its frames, measuring them): the pool's pCASL and
two gzipped int16 time series of typical DWI sizes written for the run (their cost, not their readings, counts).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from radclass.config import data_root
from radclass.features.diffusion import diffusion_reading
from radclass.io.pixels import load_volume, nifti_frames, volume_spacing
from radclass.io.volumes import nifti_series
from radclass.models.bundle import ModelBundle

VOLUMES = (
    "mri/nifti/open_ms_data/longitudinal/raw/patient01/study1_T1W.nii.gz",
    "mri/nifti/open_ms_data/longitudinal/raw/patient01/study1_FLAIR.nii.gz",
    "mri/nifti/open_ms_data/longitudinal/raw/patient01/study1_T2W.nii.gz",
    "mri/nifti/niivue/MR_Gd.nii.gz",
    "mri/nifti/deepvoxnet2_brats2018/case_9/FLAIR.nii.gz",
)


def cpu(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.process_time()
        result = fn()
        times.append(time.process_time() - t0)
    return statistics.median(times), result


def row(bundle: ModelBundle, rel: str, repeat: int) -> str:
    """One volume's line of the table."""
    series = nifti_series(data_root() / rel, None)
    read_s, volume = cpu(lambda: load_volume(series), repeat)
    spacing = volume_spacing(series)
    both_s, readings = cpu(lambda: bundle.pixel_only_readings(volume, spacing), repeat)
    fluid_s, _ = cpu(lambda: bundle.fluid_contrast(volume, spacing), repeat)
    try:
        gad_s, _ = cpu(lambda: bundle.enhancement_ratio(volume, whole_brain=True, spacing=spacing), repeat)
        gad = f"{gad_s:.2f}"
    except ValueError as err:
        gad = f"refused ({str(err)[:40]})"
    gw = bundle.metadata.grey_white_contrast
    call = gw.call(readings.grey_white) if gw and readings.grey_white is not None else None
    note = f"{call or 'none'}{' + gadolinium' if readings.enhancement is not None else ''}"
    shape = "x".join(map(str, volume.shape))
    return f"| {Path(rel).name} | {shape} | {read_s:.2f} | {both_s:.2f} | {note} | {fluid_s:.2f} | {gad} |"


def time_series_row(path: Path, repeat: int) -> str:
    """One time series' line of the second table."""
    read_s, frames = cpu(lambda: nifti_frames(path), repeat)
    measure_s, reading = cpu(lambda: diffusion_reading(frames), repeat)
    shape = "x".join(map(str, nib.load(path).shape))
    return f"| {path.name} | {shape} | {len(frames)} | {read_s:.2f} | {measure_s:.2f} | {reading.weighted} |"


def synthetic_time_series(folder: Path, shape: tuple[int, int, int, int]) -> Path:
    """A gzipped int16 NIfTI of ``shape``: a b = 0 frame, then weighted frames (noise on a ball)."""
    rng = np.random.default_rng(0)
    x, y, z, t = shape
    grid = np.ogrid[:x, :y, :z]
    ball = sum(((g - n / 2) / (n / 2.4)) ** 2 for g, n in zip(grid, (x, y, z))) <= 1
    levels = np.r_[1000.0, np.full(t - 1, 450.0)]
    data = (ball[..., None] * levels + rng.normal(0, 20, shape)).clip(0).astype(np.int16)
    path = folder / f"dwi_{'x'.join(map(str, shape))}.nii.gz"
    nib.save(nib.Nifti1Image(data, np.diag([2.0, 2.0, 2.0, 1.0])), path)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    bundle = ModelBundle.load()
    print("| volume | shape | read s | pixel-only readings s | call | fluid alone s | gadolinium alone s |")
    print("|---|---|---|---|---|---|---|")
    for rel in VOLUMES:
        print(row(bundle, rel, args.repeat))
    print()
    print("| time series | shape | frames read | read s | diffusion reading s | weighted frames |")
    print("|---|---|---|---|---|---|")
    print(time_series_row(data_root() / "mri/nifti/niivue/pcasl.nii.gz", args.repeat))
    with tempfile.TemporaryDirectory() as tmp:
        for shape in ((96, 96, 60, 33), (128, 128, 70, 65)):
            print(time_series_row(synthetic_time_series(Path(tmp), shape), args.repeat))


if __name__ == "__main__":
    main()
