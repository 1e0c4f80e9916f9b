"""The dataset of a DICOM file for pixel decoding, read by the raw element walk (:func:`read_pixel_dataset`)."""

from __future__ import annotations

import mmap
import os
from pathlib import Path

from pydicom.dataset import Dataset

from radclass.io.raw_dataset import Fallback, fast_dataset

#: Groups the decoding reads: pydicom's decoders and modality LUT read only
#: groups 0028 and 7FE0 (its own ``pixel_array(path)`` reads just those), the functional groups (5200) carry
#: the per-frame rescale. Groups 0008, 0018 and 0020 (a third of the read) are not kept.
DECODING_GROUPS = frozenset({0x0028, 0x5200, 0x7FE0})
#: Single elements it reads besides: SpecificCharacterSet, and a Siemens mosaic's tile size
#: (AcquisitionMatrix, InPlanePhaseEncodingDirection).
DECODING_TAGS = frozenset({0x00080005, 0x00181310, 0x00181312})


def read_pixel_dataset(path: str | Path, frames: frozenset[int] | None = None) -> Dataset:
    """The dataset of ``path`` for pixel decoding, read like ``pydicom.dcmread(path, force=True)`` but faster and
    with only the elements pixel decoding reads (:data:`DECODING_GROUPS`, :data:`DECODING_TAGS`; pixel data
    loaded). The functional groups keep only their PixelValueTransformationSequence (the per-frame rescale), and
    with ``frames``, only for those frames and the first (the item count is kept). Raises when the file is not of
    the plain shape the raw element walk handles: the caller then uses ``dcmread``.
    """
    with open(path, "rb") as fh:
        if os.fstat(fh.fileno()).st_size < 140:
            raise Fallback("too small")
        data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        ds = fast_dataset(data, DECODING_TAGS, header=False, frames=frames, keep_groups=DECODING_GROUPS)
        assert isinstance(ds, Dataset)  # only the header path gives HeaderElements
        return ds
    finally:
        data.close()
