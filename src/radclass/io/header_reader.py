"""Read one DICOM file's header (never its pixels) into a small, picklable :class:`InstanceInfo`.

:func:`read_instance` tries the raw element walk first (:mod:`radclass.io.raw_dataset`) and falls back to
``pydicom.dcmread`` for any file the walk does not take; both feed the same mapping
(:func:`radclass.io.header_fields.instance_from_dataset`), so the record does not depend on the reader.
"""

from __future__ import annotations

import mmap
import os
import struct
from pathlib import Path

import pydicom
from pydicom.errors import BytesLengthException, InvalidDicomError

from radclass.io.header_fields import instance_from_dataset
from radclass.io.header_model import DicomReadError, InstanceInfo
from radclass.io.raw_dataset import HEADER_TAGS, Fallback, fast_dataset


def read_instance(path: str | Path) -> InstanceInfo:
    """Parse the header of ``path``; pixel data is located but never loaded.

    Parameters
    ----------
    path
        A DICOM file.

    Returns
    -------
    InstanceInfo
        The header record, the same whichever reader took the file.

    Raises
    ------
    DicomReadError
        With a reason for a person, when the file cannot be used at all.
    """
    path = str(path)
    try:
        return read_instance_walked(path)
    except Exception:  # anything the walk does not handle plainly: pydicom's reader decides
        pass
    try:
        size = os.path.getsize(path)
        ds = pydicom.dcmread(path, defer_size=512, force=True)
    except PermissionError:
        raise DicomReadError("permission denied (file unreadable)") from None
    except InvalidDicomError as err:
        raise DicomReadError(f"not a valid DICOM file ({err})") from None
    except (
        EOFError,
        OSError,
        ValueError,
        KeyError,
        TypeError,
        IndexError,
        OverflowError,
        BytesLengthException,
        struct.error,  # pydicom unpacking an element header cut short
    ) as err:
        raise DicomReadError(f"corrupt or truncated DICOM header ({type(err).__name__}: {err})") from None
    try:
        return instance_from_dataset(path, ds, size)
    except DicomReadError:
        raise
    except Exception as err:  # malformed values deep inside the header
        raise DicomReadError(f"malformed DICOM header ({type(err).__name__}: {err})") from None


def read_instance_walked(path: str, compiled: bool | None = None) -> InstanceInfo:
    """The header record of ``path`` through the raw element walk only (``compiled``: as for
    :func:`radclass.io.raw_dataset.fast_dataset`; default the compiled walk, the Python one as its fallback).

    Raises
    ------
    Fallback
        When the file is not of the plain shape the walk handles (any other exception: a malformed value).
    """
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size < 140:
            raise Fallback("too small")
        data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        ds = fast_dataset(data, HEADER_TAGS, header=True, compiled=compiled)
        return instance_from_dataset(path, ds, size)
    finally:
        data.close()
