"""Contact sheets: one labelled tile (middle slice) per DICOM series folder, to eyeball a synthetic study."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from PIL import Image, ImageDraw


def middle_slice(series_dir: Path) -> np.ndarray:
    """The middle slice of the last volume of a series folder (diffusion-weighted, not b0), rescaled."""
    datasets = [pydicom.dcmread(f) for f in sorted(Path(series_dir).glob("*.dcm"))]
    last = max(int(getattr(d, "AcquisitionNumber", 1) or 1) for d in datasets)
    first = [d for d in datasets if int(getattr(d, "AcquisitionNumber", 1) or 1) == last] or datasets
    first.sort(
        key=lambda d: float(
            np.dot(d.ImagePositionPatient, np.cross(d.ImageOrientationPatient[:3], d.ImageOrientationPatient[3:]))
        )
    )
    ds = first[len(first) // 2]
    return ds.pixel_array.astype(np.float32) * float(ds.get("RescaleSlope", 1)) + float(ds.get("RescaleIntercept", 0))


def sheet_labels(truth: Any) -> list[str]:
    """Tile labels from a truth table: label line, SeriesDescription, what the pixels show."""
    return [
        f"{r.sequence} {r.orientation} {r.contrast}\n{r.series_description}\n{r.image}, {r.vendor} {r.field_strength}T"
        for r in truth.itertuples()
    ]


def _tile(image: np.ndarray, label: str, size: int) -> Image.Image:
    lo, hi = np.percentile(image, 0.5), np.percentile(image, 99.5)
    grey = np.clip((image - lo) / max(hi - lo, 1e-6), 0, 1)
    r, c = grey.shape
    side = max(r, c)  # pad to square so rectangular fields of view keep their aspect ratio
    grey = np.pad(grey, (((side - r) // 2, side - r - (side - r) // 2), ((side - c) // 2, side - c - (side - c) // 2)))
    tile = Image.fromarray((grey * 255).astype(np.uint8)).resize((size, size), Image.Resampling.BILINEAR).convert("RGB")
    draw = ImageDraw.Draw(tile)
    for i, line in enumerate(label.split("\n")):
        draw.text((4, 3 + 12 * i), line, fill=(255, 220, 0))
    return tile


def contact_sheet(
    series_dirs: Sequence[Path], labels: Sequence[str], out_png: Path, *, columns: int = 4, size: int = 224
) -> Path:
    """Write a PNG grid with one tile per series (middle slice, percentile window, label in the corner)."""
    tiles = [_tile(middle_slice(Path(d)), label, size) for d, label in zip(series_dirs, labels)]
    rows = (len(tiles) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * size, rows * size))
    for i, tile in enumerate(tiles):
        sheet.paste(tile, ((i % columns) * size, (i // columns) * size))
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out_png)
    return out_png
