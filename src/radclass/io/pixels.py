"""Pixel access, the project's one pixel reader: K evenly spaced slices of a series as float arrays, whatever
the storage; any slice of any volume of a series (the review page's viewer); one slice of one image file (the
diagnostic models' inputs, :func:`read_file_slice`).

Handles rescale slope/intercept (the modality LUT: Hounsfield units for CT, DICOM PS3.3 C.11.1), MONOCHROME1
inversion, RGB to grey, multi-frame and enhanced MR, Siemens mosaics (split into their tiles), 4D series (one
volume chosen), compressed transfer syntaxes (through pydicom's decoder plugins, GDCM first;
:mod:`radclass.io.codecs` lists them), NIfTI volumes sliced along their acquisition plane (or axially, in
radiological display, for one file), and PNG/JPEG images read as grey.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from radclass.io.series import Series


class PixelReadError(Exception):
    """Pixels of a series cannot be decoded; the message is a reason for a person."""


def load_slices(series: Series, k: int = 5, *, volume: int | None = None) -> list[np.ndarray]:
    """Up to ``k`` evenly spaced 2D slices (float32, in the stored physical units) of ``series``.

    ``volume`` picks a time point of a 4D NIfTI (default: the first).
    """
    if series.format == "nifti":
        return _nifti_slices(Path(series.path), k, volume or 0)
    if series.format == "image":
        return [_image_grey(Path(series.path))]
    return _dicom_slices(series, k)


def evenly_spaced(n: int, k: int) -> list[int]:
    """Indices of ``k`` evenly spaced items of ``n`` (all of them when ``n <= k``), avoiding the ends."""
    if n <= k:
        return list(range(n))
    return [int(round((i + 1) * n / (k + 1))) for i in range(k)]


# --- DICOM -----------------------------------------------------------------------------------------


def _dicom_slices(series: Series, k: int) -> list[np.ndarray]:
    with_pixels = [m for m in series.instances if m.has_pixels and not m.pixel_issue]
    if not with_pixels:
        raise PixelReadError("series has no decodable pixel data")
    multi = len(with_pixels) == 1 or any(m.n_frames > 1 or "MOSAIC" in m.image_type for m in with_pixels)
    chosen = with_pixels if multi else [with_pixels[i] for i in evenly_spaced(len(with_pixels), k)]
    slices: list[np.ndarray] = []
    errors: list[str] = []
    for inst in chosen:
        try:
            ds, indices = _pixel_dataset(inst, k)
            frames = _frames(ds, indices)
            if "MOSAIC" in inst.image_type and frames.shape[0] == 1:
                frames = _split_mosaic(frames[0], ds, inst.mosaic_images)
        except Exception as err:
            errors.append(f"{type(err).__name__}: {err}")
            continue
        except BaseException as err:  # a Rust decoder's panic (pyo3 PanicException is not an Exception)
            if type(err).__name__ != "PanicException":
                raise
            errors.append(f"decoder panic: {err}")
            continue
        # With indices, only the evenly spaced frames were decoded (the same ones, see _pixel_dataset).
        slices.extend(frames if indices is not None else [frames[i] for i in evenly_spaced(frames.shape[0], k)])
        if len(slices) >= 4 * k:
            break
    if not slices:
        raise PixelReadError("pixel data could not be decoded (" + "; ".join(errors[:2]) + ")")
    return [slices[i] for i in evenly_spaced(len(slices), k)]


def _pixel_dataset(inst, k: int):
    """(dataset, frame indices or None) for decoding ``inst``.

    A multi-frame, uncompressed, non-MONOCHROME1 instance decodes only the ``evenly_spaced(n_frames, k)`` frames
    that ``_dicom_slices`` keeps (every step of ``_frames`` is per frame for those; MONOCHROME1 inverts against
    the maximum of all frames, and a compressed file must fail as a whole when any frame is corrupt, so they
    decode everything). The dataset comes from the fast reader (pixel_dataset.read_pixel_dataset), else from
    ``pydicom.dcmread``.
    """
    import pydicom

    from radclass.io.pixel_dataset import read_pixel_dataset

    indices = None
    syntax = pydicom.uid.UID(inst.transfer_syntax) if inst.transfer_syntax else None
    if (
        inst.n_frames > 1
        and "MOSAIC" not in inst.image_type
        and syntax is not None
        and not syntax.is_compressed
        and inst.photometric.upper() != "MONOCHROME1"
    ):
        indices = evenly_spaced(inst.n_frames, k)
    try:
        ds = read_pixel_dataset(inst.path, frozenset(indices) if indices is not None else None)
    except Exception:
        return pydicom.dcmread(inst.path, force=True), None
    if indices is not None and (
        int(ds.get("NumberOfFrames", 1) or 1) != inst.n_frames
        or str(ds.get("PhotometricInterpretation", "")).upper() == "MONOCHROME1"
        or ds.file_meta.TransferSyntaxUID.is_compressed
    ):
        return pydicom.dcmread(inst.path, force=True), None
    return ds, indices


def _frames(ds, indices: list[int] | None = None) -> np.ndarray:
    """All frames of a dataset (or those at ``indices``) as (n, rows, cols) float32 in modality units, grey,
    MONOCHROME2."""
    from pydicom.pixels import apply_modality_lut, pixel_array

    from radclass.io.codecs import register

    register()  # radclass's decoder for 12-bit JPEG extended (GDCM)
    native = _native_frame(ds) if indices is None else None
    if native is not None:
        arr = native
    else:
        arr = ds.pixel_array if indices is None else np.stack([pixel_array(ds, index=i) for i in indices])
    n_frames = int(ds.get("NumberOfFrames", 1) or 1)
    spp = int(ds.get("SamplesPerPixel", 1) or 1)
    if spp > 1:  # colour: luminance
        arr = arr.astype(np.float32)
        arr = arr[..., 0] * 0.299 + arr[..., 1] * 0.587 + arr[..., 2] * 0.114
    if arr.ndim == 2:
        arr = arr[None]
    if n_frames > 1 and "PerFrameFunctionalGroupsSequence" in ds:
        out = np.empty(arr.shape, np.float32)
        for i in range(arr.shape[0]):
            out[i] = _rescale_enhanced(arr[i], ds, i if indices is None else indices[i])
        arr = out
    elif spp == 1:
        arr = np.asarray(apply_modality_lut(arr, ds), dtype=np.float32)
    arr = arr.astype(np.float32, copy=False)
    if str(ds.get("PhotometricInterpretation", "")).upper() == "MONOCHROME1":
        arr = arr.max() - arr
    return arr


_NATIVE_DTYPES = {(8, 0): "u1", (8, 1): "i1", (16, 0): "<u2", (16, 1): "<i2"}


def _native_frame(ds) -> np.ndarray | None:
    """The one frame of an uncompressed little-endian grey instance, straight from its bytes (what
    ``ds.pixel_array`` returns, bit for bit and in the same dtype, without pydicom's decoding machinery);
    None where that is not certain (compressed or big-endian data, several frames or samples, signed values
    narrower than their container, unused high bits set, data shorter than the image): pydicom decodes those."""
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

    meta = getattr(ds, "file_meta", None)
    if meta is None or meta.get("TransferSyntaxUID") not in (ExplicitVRLittleEndian, ImplicitVRLittleEndian):
        return None
    try:
        if int(ds.get("NumberOfFrames", 1) or 1) != 1 or int(ds.get("SamplesPerPixel", 1) or 1) != 1:
            return None
        # get() rather than attributes: the fast reader's datasets convert its header keywords directly
        allocated, signed = int(ds.get("BitsAllocated")), int(ds.get("PixelRepresentation"))
        stored, rows, cols = int(ds.get("BitsStored", allocated)), int(ds.get("Rows")), int(ds.get("Columns"))
        dtype = _NATIVE_DTYPES.get((allocated, signed))
        data = ds.get("PixelData")
    except (AttributeError, KeyError, TypeError, ValueError):
        return None
    if dtype is None or not isinstance(data, bytes) or rows < 1 or cols < 1 or stored > allocated:
        return None
    if len(data) < rows * cols * allocated // 8 or (signed and stored < allocated):
        return None
    frame = np.frombuffer(data, dtype=dtype, count=rows * cols).reshape(rows, cols)
    if stored < allocated and int(frame.max()) >> stored:
        return None  # bits above BitsStored: pydicom's treatment of them decides
    return frame


def _rescale_enhanced(frame: np.ndarray, ds, index: int) -> np.ndarray:
    slope, intercept = 1.0, 0.0
    for groups in (ds.get("PerFrameFunctionalGroupsSequence"), ds.get("SharedFunctionalGroupsSequence")):
        if not groups:
            continue
        g = groups[index] if len(groups) > index else groups[0]
        seq = g.get("PixelValueTransformationSequence")
        if seq:
            slope = float(seq[0].get("RescaleSlope", 1) or 1)
            intercept = float(seq[0].get("RescaleIntercept", 0) or 0)
            break
    return frame.astype(np.float32) * slope + intercept


def _split_mosaic(mosaic: np.ndarray, ds, n_images: int | None) -> np.ndarray:
    """Tiles of a Siemens mosaic, using AcquisitionMatrix for the tile size; empty tiles dropped."""
    tile_r, tile_c = _mosaic_tile(ds, mosaic.shape)
    grid_r, grid_c = mosaic.shape[0] // tile_r, mosaic.shape[1] // tile_c
    tiles = [
        mosaic[i * tile_r : (i + 1) * tile_r, j * tile_c : (j + 1) * tile_c]
        for i in range(grid_r)
        for j in range(grid_c)
    ]
    if n_images:
        tiles = tiles[:n_images]
    else:
        tiles = [t for t in tiles if np.any(t)] or tiles[:1]
    return np.stack(tiles)


def _mosaic_tile(ds, shape: tuple[int, int]) -> tuple[int, int]:
    acq = [int(v) for v in (ds.get("AcquisitionMatrix") or []) if int(v) > 0]
    if len(acq) >= 2:
        size = max(acq)
        in_plane = ds.get("InPlanePhaseEncodingDirection", "ROW")
        rows, cols = (size, min(acq)) if str(in_plane) == "ROW" else (min(acq), size)
        for r, c in ((rows, cols), (size, size), (cols, rows)):
            if shape[0] % r == 0 and shape[1] % c == 0 and shape[0] // r > 1:
                return r, c
    side = int(np.ceil(np.sqrt(16)))  # fall back to a 4x4 grid
    return shape[0] // side, shape[1] // side


# --- NIfTI and 2D images ---------------------------------------------------------------------------


def canonical_nifti(path: Path | str) -> tuple[Any, np.ndarray]:
    """(image, voxels) of a NIfTI file: the image in its closest canonical (RAS) axes and its voxel array as
    stored. A 2D image, and one whose affine leaves an axis without a direction, is kept as it is (there is no
    axis to reorder, or no way to tell how, and nibabel refuses to reorder it); the
    voxels of an RGB image are grey (the mean of its colour channels, alpha left out)."""
    import nibabel as nib

    img: Any = nib.load(str(path))
    # A degenerate affine (a zero column: dcm2niix's two-slice volumes) gives an axis no direction; kept as stored.
    if len(img.shape) >= 3 and not np.isnan(nib.orientations.io_orientation(img.affine)).any():
        img = nib.as_closest_canonical(img)
    data = np.asanyarray(img.dataobj)
    if data.dtype.names:  # RGB(A) voxels are a structured dtype
        data = np.mean([data[name].astype(np.float32) for name in data.dtype.names if name != "A"], axis=0)
    return img, data


def _nifti_slices(path: Path, k: int, volume: int) -> list[np.ndarray]:
    from radclass.io.geometry import acquisition_axis

    try:
        img, data = canonical_nifti(path)  # RAS: axis 0 = x (SAG), 1 = y (COR), 2 = z (AX)
    except Exception as err:
        raise PixelReadError(f"NIfTI voxels unreadable ({type(err).__name__}: {err})") from None
    if data.ndim > 3:
        data = data.reshape(data.shape[:3] + (-1,))[..., min(volume, int(np.prod(data.shape[3:])) - 1)]
    if data.ndim == 2:
        return [np.asarray(data, np.float32).T[::-1]]
    axis = acquisition_axis(img.affine, img.header.get_zooms()[:3], img.header.get_dim_info()[2], img.shape)
    axis = 2 if axis is None else axis
    data = np.moveaxis(np.asarray(data, dtype=np.float32), axis, 0)
    # Keep slices that hold something (background-only slices carry no sequence information).
    energy = np.array([np.count_nonzero(s > 0) for s in data])
    keep = np.flatnonzero(energy > 0.05 * energy.max()) if energy.max() > 0 else np.arange(data.shape[0])
    chosen = [int(keep[i]) for i in evenly_spaced(len(keep), k)]
    # Radiological display: anterior/superior up.
    return [np.rot90(data[i]).copy() for i in chosen]


def _image_grey(path: Path) -> np.ndarray:
    return _raster_grey(path)[0]


def _raster_grey(path: Path) -> tuple[np.ndarray, float]:
    """(grey pixels as stored, float32; the value of white: 65535 for 16-bit greyscale, else 255)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            if im.mode.startswith("I"):  # 16/32-bit greyscale: keep the full range ("L" would clip at 255)
                return np.asarray(im, dtype=np.float32), 65535.0
            return np.asarray(im.convert("L"), dtype=np.float32), 255.0
    except Exception as err:
        raise PixelReadError(f"image unreadable ({type(err).__name__}: {err})") from None


# --- One slice of one image file -------------------------------------------------------------------

#: File name endings read as 2D raster images by :func:`read_file_slice` (other files: NIfTI by name, else DICOM).
RASTER_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
NIFTI_SUFFIXES = (".nii", ".nii.gz")


@dataclass(frozen=True)
class FileSlice:
    """One 2D slice of one image file.

    Parameters
    ----------
    pixels
        (rows, columns) float32: DICOM in modality units (HU for CT), NIfTI as stored, raster images as stored
        grey levels.
    format
        ``dicom``, ``nifti`` or ``image`` (as :attr:`radclass.io.series.Series.format`).
    modality
        The DICOM Modality (0008,0060), upper case; empty for NIfTI and raster images.
    full_scale
        Raster images: the grey level of white (255, or 65535 for 16-bit), i.e. the pixels are display values
        already windowed by whoever exported them; ``None`` otherwise.
    """

    pixels: np.ndarray
    format: str
    modality: str = ""
    full_scale: float | None = None


def file_suffix(path: Path | str) -> str:
    """The lower-case suffix of ``path``, ``.nii.gz`` counted as one."""
    name = Path(path).name.lower()
    return ".nii.gz" if name.endswith(".nii.gz") else Path(name).suffix


def read_file_slice(path: Path | str, *, index: int | None = None) -> FileSlice:
    """Slice ``index`` of one image file (default: the middle one), as :class:`FileSlice`.

    Raster images (:data:`RASTER_SUFFIXES`) are one slice. A DICOM file gives frame ``index`` of a multi-frame
    object, rescaled by its modality LUT (RescaleSlope/Intercept, per frame for enhanced objects: HU for CT),
    MONOCHROME1 inverted, colour as luminance. A NIfTI volume gives its axial slice ``index`` of the first
    volume, in radiological display (:func:`nifti_axial_slices`).

    Raises
    ------
    PixelReadError
        The file cannot be decoded (the message says why).
    IndexError
        ``index`` lies outside the file's slices.
    """
    path = Path(path)
    suffix = file_suffix(path)
    if suffix in RASTER_SUFFIXES:
        pixels, white = _raster_grey(path)
        return FileSlice(pixels, "image", full_scale=white)
    if suffix in NIFTI_SUFFIXES:
        volume = nifti_axial_slices(path)
        return FileSlice(volume[_slice_index(index, len(volume))], "nifti")
    return _dicom_file_slice(path, index)


def _slice_index(index: int | None, n: int) -> int:
    chosen = n // 2 if index is None else index
    if not 0 <= chosen < n:
        raise IndexError(f"slice {index} is outside this image ({n} slices)")
    return chosen


def _dicom_file_slice(path: Path, index: int | None) -> FileSlice:
    import pydicom

    try:
        ds = pydicom.dcmread(str(path), force=True)
        n_frames = int(ds.get("NumberOfFrames", 1) or 1)
        frame = _slice_index(index, n_frames)
        pixels = _frames(ds, [frame] if n_frames > 1 else None)[0]
    except IndexError:
        raise
    except Exception as err:  # any decoder failure becomes a reason
        raise PixelReadError(f"DICOM pixels unreadable ({type(err).__name__}: {err})") from None
    return FileSlice(pixels, "dicom", str(ds.get("Modality", "") or "").upper())


def nifti_axial_slices(path: Path | str, volume: int = 0) -> np.ndarray:
    """(z, rows, columns) float32: the axial slices of volume ``volume`` of a NIfTI file in RAS (closest
    canonical orientation), in radiological display (anterior up, the patient's right on the image's left).
    A 2D image is one slice."""
    try:
        data = np.asarray(canonical_nifti(path)[1], dtype=np.float32)
    except Exception as err:
        raise PixelReadError(f"NIfTI voxels unreadable ({type(err).__name__}: {err})") from None
    if data.ndim > 3:
        data = data.reshape(data.shape[:3] + (-1,))[..., volume]
    if data.ndim == 2:
        data = data[:, :, None]
    return np.stack([np.rot90(data[:, :, z])[:, ::-1] for z in range(data.shape[2])])


# --- Every slice of every volume (the review page's viewer) ------------------------------------------


def series_extent(series: Series) -> tuple[int, int]:
    """(slices per volume, volumes) of ``series`` as :func:`load_slice` addresses them.

    DICOM: single-frame instances at repeated slice positions form one volume per repetition (a 4D series);
    each Siemens mosaic and each multi-frame instance is one volume. NIfTI: slices along the acquisition
    plane, volumes along the 4th and higher dimensions. PNG/JPEG: one slice.
    """
    if series.format == "nifti":
        data, n_volumes = _nifti_volume(str(series.path), 0)
        return int(data.shape[0]), n_volumes
    if series.format == "image":
        return 1, 1
    layout = _dicom_layout(series)
    return len(layout[0]), len(layout)


def load_slice(series: Series, index: int, *, volume: int = 0) -> np.ndarray:
    """Slice ``index`` of volume ``volume`` of ``series`` (float32 in stored physical units, display
    orientation as :func:`load_slices`). Raises IndexError outside :func:`series_extent`, PixelReadError when
    the pixels cannot be decoded."""
    n_slices, n_volumes = series_extent(series)
    if not (0 <= volume < n_volumes and 0 <= index < n_slices):
        raise IndexError(
            f"slice {index} of volume {volume} is outside this series ({n_slices} slices x {n_volumes} volumes)"
        )
    if series.format == "nifti":
        data, _ = _nifti_volume(str(series.path), volume)
        return np.rot90(np.asarray(data[index], dtype=np.float32)).copy()
    if series.format == "image":
        return _image_grey(Path(series.path))
    inst, frame, tile = _dicom_layout(series)[volume][index]
    try:
        ds, frames = _decode_one(inst, frame)
        if tile is not None:
            frames = _split_mosaic(frames[0], ds, inst.mosaic_images)
            return frames[tile]
        return frames[0]
    except PixelReadError:
        raise
    except Exception as err:
        raise PixelReadError(f"pixel data could not be decoded ({type(err).__name__}: {err})") from None


def _decode_one(inst, frame: int | None):
    """(dataset, frames): the one ``frame`` of a multi-frame instance, or all frames of any other."""
    import pydicom

    ds = pydicom.dcmread(inst.path, force=True)
    return ds, _frames(ds, [frame] if frame is not None else None)


def _dicom_layout(series: Series) -> list[list[tuple[Any, int | None, int | None]]]:
    """Volumes of a DICOM series, each a list of (instance, frame or None, mosaic tile or None) per slice."""
    with_pixels = [m for m in series.instances if m.has_pixels and not m.pixel_issue]
    if not with_pixels:
        raise PixelReadError("series has no decodable pixel data")
    if any("MOSAIC" in m.image_type for m in with_pixels):
        n_tiles = with_pixels[0].mosaic_images
        if not n_tiles:  # count the tiles of the first mosaic
            ds, frames = _decode_one(with_pixels[0], None)
            n_tiles = len(_split_mosaic(frames[0], ds, None))
        return [[(m, None, t) for t in range(n_tiles)] for m in with_pixels]
    if any(m.n_frames > 1 for m in with_pixels):
        return [[(m, f, None) for f in range(m.n_frames)] for m in with_pixels]
    # Single-frame instances (already in slice order): repeated positions make volumes.
    at: dict[Any, list[Any]] = {}
    for m in with_pixels:
        at.setdefault(tuple(round(v, 2) for v in m.position) if m.position else m.path, []).append(m)
    counts = {len(v) for v in at.values()}
    if len(counts) != 1 or counts == {1}:
        return [[(m, None, None) for m in with_pixels]]
    for members in at.values():
        members.sort(key=lambda m: (m.instance_number or 0, m.path))
    return [[(members[t], None, None) for members in at.values()] for t in range(counts.pop())]


@lru_cache(maxsize=2)
def _nifti_volume(path: str, volume: int) -> tuple[np.ndarray, int]:
    """(volume ``volume`` as (slices, ...) along the acquisition plane, in RAS, stored dtype; number of
    volumes), cached so that scrolling a gzipped NIfTI decompresses it once."""
    from radclass.io.geometry import acquisition_axis

    try:
        img, stored = canonical_nifti(path)
        shape = img.shape
        n_volumes = int(np.prod(shape[3:])) if len(shape) > 3 else 1
        if not 0 <= volume < n_volumes:
            raise IndexError(f"volume {volume} is outside this series ({n_volumes} volumes)")
        data = stored.reshape(shape[:3] + (-1,))[..., volume] if len(shape) > 3 else stored
    except IndexError:
        raise
    except Exception as err:
        raise PixelReadError(f"NIfTI voxels unreadable ({type(err).__name__}: {err})") from None
    if data.ndim == 2:  # one slice: (1, x, y), shown as load_slices shows it
        return np.asarray(data)[None], n_volumes
    axis = acquisition_axis(img.affine, img.header.get_zooms()[:3], img.header.get_dim_info()[2], img.shape)
    return np.moveaxis(np.asarray(data), 2 if axis is None else axis, 0), n_volumes


# --- The whole first volume in patient axes (whole-volume pixel evidence) ------------------------------


def load_volume(series: Series, *, max_slices: int = 512) -> np.ndarray:
    """The first volume of ``series`` as a 3D float32 array (stored physical units) in the voxel axes closest
    to RAS+ (NIfTI's canonical order: axis 0 towards the patient's right, 1 anterior, 2 superior).

    NIfTI: :func:`nibabel.as_closest_canonical` of the image, first time point. DICOM: the instances' slices
    in slice order (``series.instances`` are sorted along the slice normal), up to ``max_slices`` evenly
    spaced ones, turned into RAS order from ImageOrientationPatient (DICOM's patient axes are LPS). Geometry is
    otherwise ignored: callers that need a physical spacing resample themselves.

    Raises
    ------
    PixelReadError
        When the pixels cannot be decoded, the slices differ in shape, or the series is 2D (PNG/JPEG).
    """
    import nibabel as nib

    if series.format == "image":
        raise PixelReadError("a 2D image has no volume")
    if series.format == "nifti":
        try:
            data = canonical_nifti(series.path)[1]
        except Exception as err:
            raise PixelReadError(f"NIfTI voxels unreadable ({type(err).__name__}: {err})") from None
        if data.ndim > 3:
            data = data.reshape(data.shape[:3] + (-1,))[..., 0]
        if data.ndim != 3:
            raise PixelReadError(f"a NIfTI of shape {data.shape} has no 3D volume")
        return np.asarray(data, dtype=np.float32)
    n = series.n_frames or len(series.instances)
    slices = _dicom_slices(series, min(max(n, 1), max_slices))
    if len({s.shape for s in slices}) != 1:
        raise PixelReadError("the slices of this series differ in shape: no single volume")
    stack = np.stack(slices).astype(np.float32, copy=False)  # (slice, row, column)
    iops = [m.orientations[0] for m in series.instances if m.orientations]
    if not iops:
        return stack
    return np.ascontiguousarray(
        nib.orientations.apply_orientation(stack, nib.orientations.io_orientation(_ras_axes(iops[0])))
    )


def load_frames(series: Series, *, max_volumes: int = 32) -> np.ndarray:
    """The volumes of a NIfTI time series (:func:`nifti_frames`).

    Raises
    ------
    PixelReadError
        When the series is not a NIfTI (a DICOM series' volumes are not split reliably enough here to be read as
        a time series), its voxels cannot be read, or it holds one volume.
    """
    if series.format != "nifti":
        raise PixelReadError(f"a {series.format} series is not read as a time series (only a NIfTI is)")
    return nifti_frames(series.path, max_volumes=max_volumes)


def nifti_frames(path: Path | str, *, max_volumes: int = 32) -> np.ndarray:
    """The volumes of the NIfTI at ``path`` as one float32 array of shape (volumes, x, y, z), in the stored
    physical units and the stored voxel order (a measure over whole frames needs neither RAS axes nor a slice
    order): its 4th and higher dimensions; above ``max_volumes``, that many evenly spaced ones, the first among
    them. Only those frames are read, in order through one open file (closed with the image), so a gzipped
    300-frame series is held a frame at a time, not whole. PixelReadError when its voxels cannot be read, or it
    holds one volume."""
    import nibabel as nib

    try:
        img: Any = nib.load(str(path), keep_file_open=True)
        shape = img.shape
        n = int(np.prod(shape[3:])) if len(shape) > 3 else 1
        if n < 2:
            raise PixelReadError(f"a NIfTI of shape {shape} holds one volume, not a time series")
        frames = []
        for i in _with_first(n, max_volumes):  # increasing: a gzipped file is read forward once
            where = tuple(int(v) for v in np.unravel_index(i, shape[3:]))
            frames.append(np.asarray(img.dataobj[(slice(None),) * 3 + where], dtype=np.float32))
        return np.stack(frames)
    except PixelReadError:
        raise
    except Exception as err:
        raise PixelReadError(f"NIfTI voxels unreadable ({type(err).__name__}: {err})") from None


def _with_first(n: int, k: int) -> list[int]:
    """Indices of ``k`` evenly spaced items of ``n`` from the first to the last (all of them when ``n <= k``)."""
    return list(range(n)) if n <= k else sorted({int(i) for i in np.linspace(0, n - 1, k).round()})


def volume_spacing(series: Series) -> tuple[float, float, float] | None:
    """The voxel size (mm) along each axis of :func:`load_volume`'s array, or None when the series does not say.

    NIfTI: the header's zooms, in the order of the closest canonical axes. DICOM: the first instance's row and
    column spacing and the distance between the first two slice positions (else the slice thickness), in the
    order :func:`load_volume` turns the slices into. A multi-frame object's frames keep the slice thickness.
    """
    import nibabel as nib

    if series.format == "nifti":
        try:
            img: Any = nib.load(str(series.path))
        except Exception:
            return None
        zooms = [float(z) for z in img.header.get_zooms()[:3]]
        if len(zooms) < 3:
            return None
        return _reordered(zooms, nib.orientations.io_orientation(img.affine))
    if series.format != "dicom" or not series.instances:
        return None
    first = series.instances[0]
    if first.pixel_spacing is None:
        return None
    between = first.slice_thickness
    if len(series.instances) > 1 and first.position and series.instances[1].position:
        step = float(np.linalg.norm(np.subtract(series.instances[1].position, first.position)))
        between = step if step > 0 else between
    if not between:
        return None
    spacing = [float(between), float(first.pixel_spacing[0]), float(first.pixel_spacing[1])]  # (slice, row, col)
    if not first.orientations:
        return (spacing[0], spacing[1], spacing[2])
    return _reordered(spacing, nib.orientations.io_orientation(_ras_axes(first.orientations[0])))


def _ras_axes(iop: Sequence[float]) -> np.ndarray:
    """The 4x4 affine (no translation) whose columns are the RAS directions of a slice stack's axes (slice, row,
    column) for ImageOrientationPatient ``iop``."""
    row, col = np.asarray(iop[:3], float), np.asarray(iop[3:6], float)
    axes = np.stack([np.cross(row, col), col, row], axis=1)  # LPS direction of each array axis
    axes[:2] *= -1  # LPS -> RAS
    return np.vstack([np.hstack([axes, np.zeros((3, 1))]), [0, 0, 0, 1]])


def _reordered(sizes: Sequence[float], ornt: np.ndarray) -> tuple[float, float, float]:
    """``sizes`` of the stored axes, in the order of the axes nibabel's orientation ``ornt`` turns them into."""
    out = [0.0, 0.0, 0.0]
    for axis, (target, _) in enumerate(ornt):
        out[int(target)] = float(sizes[axis])
    return (out[0], out[1], out[2])
