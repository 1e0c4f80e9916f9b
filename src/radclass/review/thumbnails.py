"""Pictures of an indexed series for the page: the middle-slice thumbnail (PNG) and any slice of any volume
as raw float32 for the viewer, both read through the project's one pixel reader (:mod:`radclass.io.pixels`),
so DICOM, NIfTI and PNG/JPEG series all render."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from radclass.io.pixels import load_slice, load_slices, series_extent
from radclass.io.series import Series

#: Longest side of a slice sent to the viewer (larger slices are reduced, by area averaging).
VIEWER_SIZE = 512


def auto_window(pixels: np.ndarray) -> tuple[float, float]:
    """(center, width) of a robust window: the 0.5-99.5 percentile range of the slice."""
    data = np.asarray(pixels, dtype=np.float32)
    finite = data[np.isfinite(data)]
    if not finite.size:
        return 0.0, 1.0
    lo, hi = np.percentile(finite, [0.5, 99.5])
    return float((lo + hi) / 2), float(max(hi - lo, 1e-6))


def to_uint8(pixels: np.ndarray, center: float | None = None, width: float | None = None) -> np.ndarray:
    """Grey 8-bit image of a slice under a window (default: :func:`auto_window`)."""
    auto_center, auto_width = auto_window(pixels)
    center = auto_center if center is None else float(center)
    width = max(auto_width if width is None else float(width), 1e-6)
    scaled = (np.nan_to_num(np.asarray(pixels, dtype=np.float32)) - (center - width / 2)) / width
    return (np.clip(scaled, 0.0, 1.0) * 255).round().astype(np.uint8)


def png_bytes(image: np.ndarray, size: int | None = None) -> bytes:
    """PNG of an 8-bit grey or RGB image, fitted into ``size`` x ``size`` when given."""
    picture = Image.fromarray(image)
    if size:
        picture.thumbnail((size, size))
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


def series_thumbnail(series: Series, size: int = 256) -> bytes:
    """PNG of the middle slice of ``series`` (auto window), at most ``size`` pixels on a side."""
    return png_bytes(to_uint8(load_slices(series, k=1)[0]), size)


@dataclass(frozen=True)
class ViewerSlice:
    """One slice for the viewer: float32 pixels (rows x columns) and the series' extent."""

    pixels: np.ndarray
    index: int
    volume: int
    n_slices: int
    n_volumes: int

    def headers(self) -> dict[str, str]:
        """HTTP headers describing the raw little-endian float32 body."""
        center, width = auto_window(self.pixels)
        rows, columns = self.pixels.shape
        return {
            "X-Rows": str(rows),
            "X-Columns": str(columns),
            "X-Slice": str(self.index),
            "X-Volume": str(self.volume),
            "X-Slices": str(self.n_slices),
            "X-Volumes": str(self.n_volumes),
            "X-Window-Center": f"{center:.6g}",
            "X-Window-Width": f"{width:.6g}",
        }

    def body(self) -> bytes:
        """The pixels as little-endian float32, row by row."""
        return np.ascontiguousarray(self.pixels, dtype="<f4").tobytes()


def viewer_slice(series: Series, index: int, volume: int = 0, max_size: int = VIEWER_SIZE) -> ViewerSlice:
    """Slice ``index`` of volume ``volume`` (IndexError outside the series), reduced to ``max_size``."""
    n_slices, n_volumes = series_extent(series)
    pixels = np.nan_to_num(load_slice(series, index, volume=volume))
    if max(pixels.shape) > max_size:
        scale = max_size / max(pixels.shape)
        shape = (max(1, round(pixels.shape[1] * scale)), max(1, round(pixels.shape[0] * scale)))
        pixels = np.asarray(Image.fromarray(pixels.astype(np.float32), mode="F").resize(shape, Image.Resampling.BOX))
    return ViewerSlice(pixels.astype(np.float32), index, volume, n_slices, n_volumes)
