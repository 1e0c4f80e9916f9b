"""CT intensities: Hounsfield units from DICOM (RescaleSlope/Intercept, read by :mod:`radclass.io.pixels`) and
display windows (numpy only).

A window is given as **width/level** (W/L, in HU): values from ``level - width/2`` to ``level + width/2`` are
mapped linearly to [0, 1] and clipped outside. The presets are those of issue #5 as written (width first):

=========  =====  =====
preset     width  level
=========  =====  =====
brain         80     35
blood        220     95
stroke        27     33
abdomen      400     50
=========  =====  =====

(The usual radiology conventions differ slightly, e.g. brain W80 L40, subdural W200 L80, stroke W8 L32;
``abdomen`` is the common soft-tissue window used by the liver recipe.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["WINDOWS", "MULTI_WINDOW", "Window", "apply_window", "dicom_hounsfield", "multi_window", "to_hounsfield"]


@dataclass(frozen=True)
class Window:
    """A display window: ``width`` and ``level`` (centre), both in HU."""

    width: float
    level: float

    @property
    def low(self) -> float:
        return self.level - self.width / 2

    @property
    def high(self) -> float:
        return self.level + self.width / 2


#: Window presets, width/level in HU (issue #5 as written; see the module docstring).
WINDOWS: dict[str, Window] = {
    "brain": Window(80, 35),
    "blood": Window(220, 95),
    "stroke": Window(27, 33),
    "abdomen": Window(400, 50),
}

#: The three windows stacked as channels of the multi-window input (order = channel order).
MULTI_WINDOW: tuple[str, str, str] = ("brain", "blood", "stroke")


def to_hounsfield(stored: np.ndarray, slope: float = 1.0, intercept: float = 0.0) -> np.ndarray:
    """Stored pixel values to HU: ``stored * RescaleSlope + RescaleIntercept`` (float32)."""
    return np.asarray(stored, dtype=np.float32) * np.float32(slope) + np.float32(intercept)


def apply_window(hu: np.ndarray, window: Window | str) -> np.ndarray:
    """Map ``hu`` through ``window`` (a :class:`Window` or a preset name) to [0, 1] (float32)."""
    w = WINDOWS[window] if isinstance(window, str) else window
    if w.width <= 0:
        raise ValueError(f"window width must be positive, got {w.width}")
    out = (np.asarray(hu, dtype=np.float32) - np.float32(w.low)) / np.float32(w.width)
    return np.clip(out, 0.0, 1.0)


def multi_window(hu: np.ndarray, windows: tuple[str, ...] = MULTI_WINDOW) -> np.ndarray:
    """(len(windows), H, W) float32: one windowed copy of the (H, W) HU slice per channel."""
    return np.stack([apply_window(hu, w) for w in windows])


def dicom_hounsfield(path: Path | str) -> tuple[np.ndarray, bool]:
    """One DICOM slice as ``(values, is_ct)``, read by the project's pixel reader
    (:func:`radclass.io.pixels.read_file_slice`: the modality LUT, i.e. HU for CT (Modality ``CT``); other
    modalities in their modality units; MONOCHROME1 inverted, colour as luminance; multi-frame objects give their
    middle frame)."""
    from radclass.io.pixels import read_file_slice

    image = read_file_slice(path)
    if image.format != "dicom":
        raise ValueError(f"{Path(path).name} is not a DICOM file")
    return image.pixels, image.modality == "CT"
