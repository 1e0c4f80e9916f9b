"""The dataset of a DICOM file for pixel decoding, read by the raw element walk (:func:`read_pixel_dataset`)."""

from __future__ import annotations

import mmap
import os
from pathlib import Path

from pydicom.dataset import Dataset

from radclass.io.raw_dataset import PIXEL_GROUPS, Fallback, fast_dataset


def read_pixel_dataset(path: str | Path, frames: frozenset[int] | None = None) -> Dataset:
    """The dataset of ``path`` for pixel decoding, read like ``pydicom.dcmread(path, force=True)`` but faster and
    with only the groups pixel decoding reads (``PIXEL_GROUPS``, pixel data loaded). The functional groups keep
    only their PixelValueTransformationSequence (the per-frame rescale), and with ``frames``, only for those frames
    and the first (the item count is kept). Raises when the file is not of the plain shape the raw element
    walk handles: the caller then uses ``dcmread``.
    """
    with open(path, "rb") as fh:
        if os.fstat(fh.fileno()).st_size < 140:
            raise Fallback("too small")
        data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        ds = fast_dataset(data, frozenset({0x00080005}), header=False, frames=frames, keep_groups=PIXEL_GROUPS)
        assert isinstance(ds, Dataset)  # only the header path gives HeaderElements
        return ds
    finally:
        data.close()
