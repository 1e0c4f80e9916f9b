"""A raw element walk over a DICOM file's bytes that builds a small pydicom Dataset of the elements wanted.

pydicom builds a Dataset for every item of every undefined-length sequence while it reads a file; an enhanced
MR object (hundreds of per-frame functional groups) then costs tens of milliseconds, and a classic one about a
millisecond, mostly for elements nobody reads. :func:`fast_dataset` walks the element structure itself (tags
and lengths only, over an mmap of the file), keeps the raw bytes of the elements wanted, and hands them to
pydicom's own value converters, so every value is decoded exactly as ``dcmread`` would decode it. It only takes
files of the plain shape: Part 10 preamble, explicit or implicit VR little endian, items and delimiters where
the standard puts them, no value past the end of the file (except the pixel data, whose truncation
:func:`radclass.io.header_fields.instance_from_dataset` reports). Anything else raises :class:`Fallback` and
the caller reads the file with ``dcmread``.

The walk exists twice: compiled (:mod:`radclass.io._walk`, a C extension built on ``pip install``) and in
Python (:class:`_Walker`, :func:`_top_python`), with the same checks in the same order. The compiled one is used
when it is importable; when it is missing, or refuses a file, the Python walk reads the file.

Two callers: header reading (:mod:`radclass.io.header_reader`, :data:`HEADER_TAGS`) and pixel decoding
(:mod:`radclass.io.pixel_dataset`, its ``DECODING_GROUPS``).
"""

from __future__ import annotations

import struct
from array import array
from functools import lru_cache
from typing import Any, NamedTuple

import pydicom
from pydicom.charset import convert_encodings, default_encoding
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import RawDataElement, convert_raw_data_element
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.tag import BaseTag, Tag
from pydicom.values import convert_value

try:  # the compiled walk (src/radclass/io/_walk.c, built by pip install); the Python walk below is its fallback
    from radclass.io import _walk
except ImportError:  # pragma: no cover - a source tree without the built extension
    _walk = None  # type: ignore[assignment]

#: Whether the compiled walk is available (:func:`fast_dataset` then uses it by default).
COMPILED = _walk is not None
PIXEL_TAGS = (Tag(0x7FE0, 0x0010), Tag(0x7FE0, 0x0008), Tag(0x7FE0, 0x0009))
UNDEFINED_LENGTH = 0xFFFFFFFF

_HH = struct.Struct("<HH")
_HHL = struct.Struct("<HHL")
_HH2sH = struct.Struct("<HH2sH")
_UL = struct.Struct("<L")
_HHHH = struct.Struct("<HHHH")
_ITEM, _ITEM_END, _SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_VRS = frozenset(
    b"AE AS AT CS DA DS DT FL FD IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV".split()
)
_LONG_VRS = frozenset(b"OB OD OF OL OV OW SQ SV UC UN UR UT UV".split())  # 4-byte length in explicit VR
_VR_INTS = frozenset(int.from_bytes(v, "little") for v in _VRS)
_LONG_VR_INTS = frozenset(int.from_bytes(v, "little") for v in _LONG_VRS)
_SQ_INT = int.from_bytes(b"SQ", "little")
_PIXEL_TAG_INTS = frozenset(int(t) for t in PIXEL_TAGS)
_NOT_PLAIN_SYNTAXES = frozenset(
    {pydicom.uid.ExplicitVRBigEndian, pydicom.uid.DeflatedExplicitVRLittleEndian, *pydicom.uid.PrivateTransferSyntaxes}
)


def _tag(keyword: str) -> int:
    """The tag of a keyword of the DICOM dictionary (for this module's constants: a typo raises at import)."""
    tag = tag_for_keyword(keyword)
    if tag is None:
        raise KeyError(f"{keyword!r} is not a DICOM keyword.")
    return tag


# Keywords read by radclass.io.header_fields (keep the two in step); private tags read for b-values / mosaics,
# with their private creators (an implicit VR private element needs its creator for its VR).
_HEADER_KEYWORDS = (
    "SpecificCharacterSet",
    "SOPClassUID",
    "SOPInstanceUID",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "Modality",
    "Manufacturer",
    "ManufacturerModelName",
    "MagneticFieldStrength",
    "SeriesDescription",
    "ProtocolName",
    "StudyDescription",
    "BodyPartExamined",
    "SeriesNumber",
    "InstanceNumber",
    "ImageType",
    "ScanningSequence",
    "SequenceVariant",
    "ScanOptions",
    "SequenceName",
    "PulseSequenceName",
    "MRAcquisitionType",
    "RepetitionTime",
    "EchoTime",
    "InversionTime",
    "EchoTrainLength",
    "FlipAngle",
    "EchoNumbers",
    "PixelSpacing",
    "SliceThickness",
    "Rows",
    "Columns",
    "NumberOfFrames",
    "PhotometricInterpretation",
    "NumberOfTemporalPositions",
    "ContrastBolusAgent",
    "ContrastBolusIngredient",
    "ContrastBolusRoute",
    "ContrastBolusVolume",
    "ContrastBolusTotalDose",
    "ContrastBolusIngredientConcentration",
    "ImageOrientationPatient",
    "ImagePositionPatient",
    "EchoPulseSequence",
    "EchoPlanarPulseSequence",
    "BitsAllocated",
    "SamplesPerPixel",
    "DiffusionBValue",
    "SharedFunctionalGroupsSequence",
    "PerFrameFunctionalGroupsSequence",
)
_SHARED_FG = _tag("SharedFunctionalGroupsSequence")
_PIXEL_VALUE_TRANSFORM = _tag("PixelValueTransformationSequence")
_PER_FRAME_FG = _tag("PerFrameFunctionalGroupsSequence")
HEADER_TAGS = frozenset(
    {_tag(k) for k in _HEADER_KEYWORDS}
    | {0x0019100C, 0x00431039, 0x20011003, 0x0019100A}
    | {(g << 16) | e for g in (0x0019, 0x0043, 0x2001) for e in range(0x10, 0x100)}
    | _PIXEL_TAG_INTS
)
# Per-frame functional groups read by header_fields' enhanced-MR mapping: the first frame's (``first()``) and
# every frame's (loop).
_EVERY_FRAME_SEQS = frozenset(
    _tag(k) for k in ("PlaneOrientationSequence", "MRDiffusionSequence", "PlanePositionSequence")
)
# What the loop reads inside them (a light item holds only these).
_FRAME_VALUES = frozenset(_tag(k) for k in ("ImageOrientationPatient", "DiffusionBValue", "ImagePositionPatient"))
_FIRST_FRAME_SEQS = _EVERY_FRAME_SEQS | frozenset(
    _tag(k)
    for k in (
        "MRImageFrameTypeSequence",
        "MRTimingAndRelatedParametersSequence",
        "MREchoSequence",
        "MRModifierSequence",
        "PixelMeasuresSequence",
        "ContrastBolusUsageSequence",
    )
)
# One BaseTag object per tag read: dict lookups with the same object are decided by identity, without
# BaseTag.__eq__ (a Python method) on every hit.
_BASE_TAGS = {t: BaseTag(t) for t in HEADER_TAGS | _FRAME_VALUES | {_tag(k) for k in _HEADER_KEYWORDS}}
_VR_TEXT = {v: v.decode() for v in _VRS}
# Keywords the fast Dataset converts directly (plain VRs: no sequence, no ambiguous or private VR).
_FAST_KEYWORDS = {
    k: _BASE_TAGS[_tag(k)]
    for k in _HEADER_KEYWORDS
    if dictionary_VR(_tag(k)) in {v.decode() for v in _VRS - {b"SQ", b"UN"}}
}
_FAST_VRS = {tag: dictionary_VR(tag) for tag in _FAST_KEYWORDS.values()}
# Plain int keys for the walked elements' dicts (a BaseTag key would compare through its Python __eq__).
_KEYWORD_TAGS = {k: _tag(k) for k in _HEADER_KEYWORDS}
_FAST_KEYWORD_INTS = {k: int(t) for k, t in _FAST_KEYWORDS.items()}
_FAST_VR_INTS = {int(t): vr for t, vr in _FAST_VRS.items()}


class Fallback(Exception):
    """The file is not of the plain shape the raw element walk handles (the caller reads it with ``dcmread``)."""


def _is_sequence_implicit(tag: int, data, pos: int) -> bool:
    """pydicom's rule for an implicit VR element of undefined length: a sequence when the dictionary says SQ,
    or, for an unknown private tag, when an item tag follows."""
    try:
        return dictionary_VR(tag) == "SQ"
    except KeyError:
        if tag >> 16 & 1:
            return data[pos : pos + 4] == b"\xfe\xff\x00\xe0"
    return False


class _Walker:
    """Tags and lengths of the elements of one file (little endian), over its bytes (an mmap)."""

    def __init__(self, data, implicit: bool, compiled: bool = False):
        self.data, self.size, self.implicit, self.compiled = data, len(data), implicit, compiled

    def is_sequence(self, tag: int, vpos: int) -> bool:
        """:func:`_is_sequence_implicit` at ``vpos`` of this file (asked by the compiled walk)."""
        return _is_sequence_implicit(tag, self.data, vpos)

    def element(self, pos: int) -> tuple[int, bytes | None, int, int] | None:
        """(tag, VR or None, length, value offset) of the element at ``pos``; None at the end of the data."""
        data = self.data
        if pos + 8 > self.size:
            return None
        if self.implicit:
            g, e, length = _HHL.unpack_from(data, pos)
            return g << 16 | e, None, length, pos + 8
        g, e, vr, length = _HH2sH.unpack_from(data, pos)
        if g == 0xFFFE:
            return g << 16 | e, None, _UL.unpack_from(data, pos + 4)[0], pos + 8
        if vr in _LONG_VRS:
            if pos + 12 > self.size:
                raise Fallback("short element header")
            return g << 16 | e, vr, _UL.unpack_from(data, pos + 8)[0], pos + 12
        if vr not in _VRS:
            raise Fallback("unknown VR")
        return g << 16 | e, vr, length, pos + 8

    def value_end(self, tag: int, vr: bytes | None, length: int, vpos: int) -> int:
        """Offset after a value; undefined-length sequences are walked (pydicom parses them while reading)."""
        if length != 0xFFFFFFFF:
            end = vpos + length
            if end > self.size:
                raise Fallback("value past the end of the file")
            return end
        if vr == b"SQ" or (vr is None and _is_sequence_implicit(tag, self.data, vpos)):
            return self.sequence_end(vpos)
        raise Fallback("undefined length value that is not a sequence")

    def sequence_end(self, pos: int) -> int:
        """Offset after an undefined-length sequence value starting at ``pos`` (iterative walk)."""
        size, data, implicit = self.size, self.data, self.implicit
        unpack4, unpack_ul = _HHHH.unpack_from, _UL.unpack_from
        long_vrs, vrs = _LONG_VR_INTS, _VR_INTS
        stack: list[int] = [-1]  # -1: in a sequence of undefined length; -2: in an item of undefined length;
        while stack:  # >= 0: in an item that ends at that offset
            top = stack[-1]
            if top == -1:  # expect an item or the sequence delimiter
                if pos + 8 > size:
                    raise Fallback("end of file inside a sequence")
                g, e, _, _ = unpack4(data, pos)
                if g != 0xFFFE:
                    raise Fallback("not an item")
                if e == 0xE0DD:
                    stack.pop()
                elif e == 0xE000:
                    ilen = unpack_ul(data, pos + 4)[0]
                    stack.append(-2 if ilen == 0xFFFFFFFF else pos + 8 + ilen)
                else:
                    raise Fallback("not an item")
                pos += 8
                continue
            while True:  # the elements of an item, until its end or a nested undefined-length sequence
                if top >= 0 and pos >= top:
                    if pos != top:
                        raise Fallback("item length mismatch")
                    stack.pop()
                    break
                if pos + 8 > size:
                    raise Fallback("end of file inside a sequence")
                g, e, vr, length = unpack4(data, pos)
                if g == 0xFFFE:
                    if e == 0xE00D and top == -2:
                        stack.pop()
                        pos += 8
                        break
                    raise Fallback("delimiter inside an item")
                if implicit:
                    length = unpack_ul(data, pos + 4)[0]
                    vpos = pos + 8
                    is_sq = None
                elif vr in long_vrs:
                    length = unpack_ul(data, pos + 8)[0]
                    vpos = pos + 12
                    is_sq = vr == _SQ_INT
                elif vr in vrs:
                    vpos = pos + 8
                    is_sq = False
                else:
                    raise Fallback("unknown VR")
                if length == 0xFFFFFFFF:
                    if is_sq or (is_sq is None and _is_sequence_implicit(g << 16 | e, data, vpos)):
                        stack.append(-1)
                        pos = vpos
                        break
                    raise Fallback("undefined length value that is not a sequence")
                pos = vpos + length
                if pos > size:
                    raise Fallback("value past the end of the file")
        return pos

    def items(self, vpos: int, length: int) -> tuple[list[list[tuple[int, bytes | None, int, int, int]]], int]:
        """Items of a sequence value: per item, its elements as (tag, VR, length, start, end); offset after."""
        if self.compiled:
            return _walk.items(self.data, vpos, length, self.implicit, self.is_sequence)
        end = vpos + length if length != 0xFFFFFFFF else None
        pos = vpos
        out: list[list[tuple[int, bytes | None, int, int, int]]] = []
        while end is None or pos < end:
            h = self.element(pos)
            if h is None or h[0] != _ITEM:
                if h is not None and h[0] == _SEQ_END and end is None:
                    return out, h[3]
                raise Fallback("not an item")
            ilen, ipos = h[2], h[3]
            iend = ipos + ilen if ilen != 0xFFFFFFFF else None
            pos = ipos
            elements = []
            while iend is None or pos < iend:
                h = self.element(pos)
                if h is None:
                    raise Fallback("end of file inside an item")
                tag, vr, elen, epos = h
                if tag == _ITEM_END and iend is None:
                    pos = epos
                    break
                if tag >> 16 == 0xFFFE:
                    raise Fallback("delimiter inside an item")
                nxt = self.value_end(tag, vr, elen, epos)
                elements.append((tag, vr, elen, pos, nxt))
                pos = nxt
            else:
                if pos != iend:
                    raise Fallback("item length mismatch")
            out.append(elements)
        if pos != end:
            raise Fallback("sequence length mismatch")
        return out, pos


def _item_bytes(data, elements) -> bytes:
    body = b"".join(data[start:end] for _, _, _, start, end in elements)
    return b"\xfe\xff\x00\xe0" + _UL.pack(len(body)) + body


_VALUE_CACHE: dict[tuple, Any] = {}
_VALUE_CACHE_SIZE = 8192
_MISSING = object()


_CHARSET = _BASE_TAGS[_tag("SpecificCharacterSet")]
_TRANSFER_SYNTAX = BaseTag(_tag("TransferSyntaxUID"))


def _converted(vr: str, raw: RawDataElement, encoding, encoding_key) -> Any:
    """``convert_value(vr, raw, encoding)``, remembered: the conversion is a function of (VR, bytes, byte order,
    character set), and the files of a series repeat most values (the callers never modify them)."""
    cache_key = (vr, raw.value, raw.is_little_endian, encoding_key)
    value = _VALUE_CACHE.get(cache_key, _MISSING)
    if value is _MISSING:
        value = convert_value(vr, raw, encoding)
        if len(_VALUE_CACHE) >= _VALUE_CACHE_SIZE:
            _VALUE_CACHE.clear()
        _VALUE_CACHE[cache_key] = value
    return value


class _FastDataset(Dataset):
    """A Dataset of raw elements whose plain keyword values are converted without the DataElement machinery
    (same converter, same VR; anything unusual goes through Dataset.get)."""

    value_key = None  # see HeaderElements.value_key: these values are not remembered by the readers

    def get(self, key, default=None):
        tag = _FAST_KEYWORDS.get(key) if isinstance(key, str) else None
        if tag is not None:
            raw = self._dict.get(tag)
            if raw is None:
                return default
            if isinstance(raw, RawDataElement) and raw.VR != "UN" and raw.value is not None:
                vr = raw.VR or _FAST_VRS[tag]  # implicit VR: the dictionary's VR, as pydicom's raw_element_vr hook
                try:
                    return _converted(vr, raw, self._fast_encoding, self._fast_encoding_key)
                except Exception:
                    return super().get(key, default)
        return super().get(key, default)


class _LightItem:
    """One item of a per-frame functional-group sequence: ``in``, ``get`` and attribute access by keyword,
    values converted by pydicom from the raw element (cached per file, frames repeat their values)."""

    __slots__ = ("_raw", "_encoding", "_cache")

    def __init__(self, raw: dict[int, RawDataElement], encoding, cache: dict):
        self._raw, self._encoding, self._cache = raw, encoding, cache

    def __contains__(self, keyword: str) -> bool:
        return tag_for_keyword(keyword) in self._raw

    def get(self, keyword: str, default=None):
        tag = tag_for_keyword(keyword)
        raw = self._raw.get(tag) if tag is not None else None
        if raw is None:
            return default
        key = (tag, raw.VR, raw.value)
        if key not in self._cache:  # public tags only: the implicit VR lookup needs no parent dataset
            self._cache[key] = convert_raw_data_element(raw, encoding=self._encoding).value
        return self._cache[key]

    def __getattr__(self, keyword: str):
        if keyword.startswith("_"):
            raise AttributeError(keyword)
        if tag_for_keyword(keyword) not in self._raw:
            raise AttributeError(keyword)
        return self.get(keyword)


class _LightGroup:
    """A per-frame functional group: ``get(sequence keyword)`` -> list of :class:`_LightItem`."""

    __slots__ = ("_seqs",)

    def __init__(self, seqs: dict[int, list[_LightItem]]):
        self._seqs = seqs

    def get(self, keyword: str, default=None):
        tag = tag_for_keyword(keyword)
        return self._seqs.get(tag, default) if tag is not None else default


def fast_dataset(
    data,
    keep: frozenset[int],
    *,
    header: bool,
    frames: frozenset[int] | None = None,
    keep_groups: frozenset[int] = frozenset(),
    compiled: bool | None = None,
) -> Dataset | HeaderElements:
    """A dataset of the top-level elements of ``data`` whose tags are in ``keep`` or groups in ``keep_groups``.

    ``header``: per-frame functional groups reduced to what the enhanced-MR mapping of
    :mod:`radclass.io.header_fields` reads (the first frame in the dataset, later frames as light items), pixel
    data located but not loaded; a file without functional groups gives a :class:`HeaderElements` (no pydicom
    Dataset is built unless the mapping asks for more than plain values). Otherwise (pixel decoding): the
    pixel data value is loaded and the functional groups keep their PixelValueTransformationSequence only,
    and when ``frames`` is given only in the first item and those in ``frames`` (the item count is kept).
    ``compiled``: None (default) walks with the compiled extension when it is available, and with the Python
    walk when it is missing or refuses the file; True: the compiled walk only; False: the Python walk only
    (True and False are for tests and benchmarks).

    Raises
    ------
    Fallback
        When the file is not of the plain shape the walk handles (or, with ``compiled=True``, when the compiled
        walk is missing or refuses it).
    """
    if compiled is not False and _walk is not None:
        try:
            return _walked_dataset(data, keep, header, frames, keep_groups, compiled=True)
        except _walk.Refused as err:
            if compiled:
                raise Fallback(f"compiled walk: {err}") from None
            # the Python walk decides (it refuses the same files; a difference would only cost time)
    elif compiled:
        raise Fallback("the compiled walk (radclass.io._walk) is not built")
    return _walked_dataset(data, keep, header, frames, keep_groups, compiled=False)


@lru_cache(maxsize=16)
def _tag_arrays(keep: frozenset[int], keep_groups: frozenset[int]) -> tuple[bytes, bytes]:
    """``keep`` and ``keep_groups`` as the sorted native arrays the compiled walk searches."""
    tags, groups = array("I", sorted(keep)), array("H", sorted(keep_groups))
    if tags.itemsize != 4 or groups.itemsize != 2:  # pragma: no cover - no such platform is supported
        raise RuntimeError("The compiled walk needs 4-byte unsigned int and 2-byte unsigned short arrays.")
    return tags.tobytes(), groups.tobytes()


_STOP_TAGS = array("I", sorted({_SHARED_FG, _PER_FRAME_FG})).tobytes()
_Entry = tuple[int, bytes | None, int, int, int]


def _top_python(
    walker: _Walker, pos: int, keep: frozenset[int], keep_groups: frozenset[int]
) -> tuple[list[_Entry], int, _Entry | None]:
    """The Python twin of the compiled ``_walk.top``: the kept top-level elements from ``pos`` on, as (tag,
    VR, length, value offset, end), until the end of the data, a top-level item delimiter or a kept, non-empty
    functional-group sequence (returned as the third value, with its element start as its end, for the caller
    to read item by item)."""
    data, size, implicit = walker.data, walker.size, walker.implicit
    unpack4, unpack_ul = _HHHH.unpack_from, _UL.unpack_from
    out: list[_Entry] = []
    while pos + 8 <= size:
        g, e, vr_int, length = unpack4(data, pos)
        tag = g << 16 | e
        vr = None
        if implicit or g == 0xFFFE:
            length = unpack_ul(data, pos + 4)[0]
            vpos = pos + 8
        elif vr_int in _LONG_VR_INTS:
            if pos + 12 > size:
                raise Fallback("short element header")
            length = unpack_ul(data, pos + 8)[0]
            vpos = pos + 12
        elif vr_int in _VR_INTS:
            vpos = pos + 8
        else:
            raise Fallback("unknown VR")
        kept = tag in keep or g in keep_groups
        if not kept and length != 0xFFFFFFFF and g != 0xFFFE:
            pos = vpos + length  # an element nobody reads
            if pos > size:
                raise Fallback("value past the end of the file")
            continue
        if not implicit and g != 0xFFFE:
            vr = data[pos + 4 : pos + 6]
        if tag == _ITEM_END:
            break  # pydicom ends a top-level dataset here too
        if tag >> 16 == 0xFFFE:
            raise Fallback("delimiter at top level")
        if tag in _PIXEL_TAG_INTS:
            end = _encapsulated_end(data, vpos) if length == 0xFFFFFFFF else vpos + length
            if kept:
                out.append((tag, vr, length, vpos, end))
            pos = end
            continue
        if kept and length and tag in (_SHARED_FG, _PER_FRAME_FG):
            return out, pos, (tag, vr, length, vpos, pos)
        end = walker.value_end(tag, vr, length, vpos)
        if kept:
            out.append((tag, vr, length, vpos, end))
        pos = end
    return out, pos, None


def _walked_dataset(
    data,
    keep: frozenset[int],
    header: bool,
    frames: frozenset[int] | None,
    keep_groups: frozenset[int],
    *,
    compiled: bool,
) -> Dataset | HeaderElements:
    """:func:`fast_dataset` with the compiled walk or the Python one."""
    if data[128:132] != b"DICM":
        raise Fallback("no Part 10 preamble")
    walker = _Walker(data, implicit=False)
    pos, meta = 132, dict[BaseTag, RawDataElement]()
    while pos + 6 <= walker.size and _HH.unpack_from(data, pos)[0] == 2:
        if not meta and not (0x40 < data[pos + 4] < 0x5B and 0x40 < data[pos + 5] < 0x5B):
            raise Fallback("implicit VR file meta")
        tag, vr, length, vpos = walker.element(pos)  # type: ignore[misc]
        if vr is None or length == 0xFFFFFFFF or vpos + length > walker.size:
            raise Fallback("unusual file meta")
        meta[BaseTag(tag)] = RawDataElement(
            BaseTag(tag), vr.decode(), length, data[vpos : vpos + length], vpos, False, True
        )
        pos = vpos + length
    file_meta: FileMetaDataset | None = None  # built when needed (the header path reads the syntax only)
    ts = meta.get(_TRANSFER_SYNTAX)
    if ts is not None and ts.VR == "UI" and ts.value:  # the usual case: a remembered conversion
        syntax = _converted("UI", ts, default_encoding, default_encoding)
    else:
        file_meta = _file_meta(meta)
        syntax = file_meta.get("TransferSyntaxUID")
    if not syntax or syntax in _NOT_PLAIN_SYNTAXES or pos + 8 > walker.size:
        raise Fallback("transfer syntax")
    implicit = walker.implicit = syntax == pydicom.uid.ImplicitVRLittleEndian
    walker.compiled = compiled
    if _HH.unpack_from(data, pos)[0] == 0:
        raise Fallback("command set")
    if (0x40 < data[pos + 4] < 0x5B and 0x40 < data[pos + 5] < 0x5B) == implicit:
        raise Fallback("VR encoding differs from the transfer syntax")
    raw: dict[BaseTag, RawDataElement] = {}
    later: list[_LightGroup] = []
    # header: the shared group and the first frame's as light groups too (None: not walked, pydicom reads them)
    light_shared: _LightGroup | None = None
    light_first: list[_LightGroup] | None = None
    if compiled:
        keep_array, group_array = _tag_arrays(keep, keep_groups)
    first = True
    while True:
        if compiled:
            elements, pos, stopped = _walk.top(
                data, pos, implicit, keep_array, group_array, _STOP_TAGS, walker.is_sequence
            )
        else:
            elements, pos, stopped = _top_python(walker, pos, keep, keep_groups)
        if first and header and stopped is None:  # no functional groups: no Dataset needed to read the header
            return HeaderElements(data, elements, implicit, meta, file_meta, syntax)
        first = False
        _add_raw_elements(raw, data, elements, implicit, header)
        if stopped is None:
            break
        tag, vr, length, vpos, _ = stopped
        vr_str = vr.decode() if vr is not None else None
        if vr not in (None, b"SQ") or (vr is None and not _is_sequence_implicit(tag, data, vpos)):
            raise Fallback("functional groups not a sequence")
        items, pos = walker.items(vpos, length)
        if tag == _SHARED_FG:
            wanted = _FIRST_FRAME_SEQS if header else frozenset({_PIXEL_VALUE_TRANSFORM})
            value = b"".join(_item_bytes(data, [el for el in item if el[0] in wanted]) for item in items)
            if header and items:
                light_shared = _light_group(walker, items[0], _FIRST_FRAME_SEQS, None)
        elif header:
            value = _item_bytes(data, [el for el in items[0] if el[0] in _FIRST_FRAME_SEQS]) if items else b""
            light_first = [_light_group(walker, items[0], _FIRST_FRAME_SEQS, None)] if items else []
            later = _distinct_frames(walker, items[1:])
        else:  # pixel decoding reads the rescale of the frames it decodes
            value = b"".join(
                _item_bytes(
                    data,
                    [el for el in item if el[0] == _PIXEL_VALUE_TRANSFORM]
                    if frames is None or i == 0 or i in frames
                    else [],
                )
                for i, item in enumerate(items)
            )
        raw[BaseTag(tag)] = RawDataElement(BaseTag(tag), vr_str, len(value), value, vpos, implicit, True)
    ds, encoding = _fast_dataset_of(raw, implicit, file_meta or _file_meta(meta))
    lights = [*([light_shared] if light_shared else []), *(light_first or []), *later]
    if lights:
        cache: dict = {}
        for group in lights:
            for light_items in group._seqs.values():
                for light in light_items:
                    light._encoding, light._cache = encoding, cache
    if later:
        ds._later_frames = later
    if light_shared is not None or light_first is not None:
        ds._light_groups = (light_shared, light_first)
    return ds


def _file_meta(meta: dict[BaseTag, RawDataElement]) -> FileMetaDataset:
    """The file meta group as pydicom holds it."""
    file_meta = FileMetaDataset(meta)  # type: ignore[arg-type]  # as for _FastDataset below
    file_meta.set_original_encoding(False, True, default_encoding)
    return file_meta


def _add_raw_elements(raw: dict[BaseTag, RawDataElement], data, elements, implicit: bool, header: bool) -> None:
    """The walked top-level ``elements`` (tag, VR, length, value offset, end) as pydicom's raw elements, into
    ``raw``: pixel data located (``header``) or loaded, an undefined-length sequence kept as its items (and
    delimiter), read back by pydicom on access."""
    for tag, vr, length, vpos, end in elements:
        vr_str = _VR_TEXT[vr] if vr is not None else None
        base = _BASE_TAGS.get(tag) or BaseTag(tag)
        if tag in _PIXEL_TAG_INTS:
            if length == 0xFFFFFFFF:
                value = None if header else data[vpos : end - 8]  # as pydicom: without the delimiter
            else:
                value = None if header else data[vpos:end]
                if value is not None and len(value) != length:
                    raise Fallback("truncated pixel data")
            raw[base] = RawDataElement(base, vr_str, length, value, vpos, implicit, True)
            continue
        raw[base] = RawDataElement(
            base, vr_str, length if length != 0xFFFFFFFF else end - vpos, data[vpos:end], vpos, implicit, True
        )


def _fast_dataset_of(
    raw: dict[BaseTag, RawDataElement], implicit: bool, file_meta: FileMetaDataset
) -> tuple[_FastDataset, Any]:
    """(the dataset of ``raw``, its character set as pydicom's converters take it)."""
    ds = _FastDataset(raw)  # type: ignore[arg-type]  # Dataset stores RawDataElements (dict is invariant)
    encoding = convert_encodings(convert_raw_data_element(raw[_CHARSET]).value) if _CHARSET in raw else default_encoding
    ds.set_original_encoding(implicit, True, encoding)
    ds.file_meta = file_meta
    ds._fast_encoding = ds._character_set
    ds._fast_encoding_key = tuple(ds._fast_encoding) if isinstance(ds._fast_encoding, list) else ds._fast_encoding
    return ds, encoding


class _SyntaxOnlyMeta:
    """The file meta group of a :class:`HeaderElements`: the transfer syntax at once, anything else from
    pydicom's FileMetaDataset, built when first asked."""

    __slots__ = ("_meta", "_syntax", "_full")

    def __init__(self, meta: dict[BaseTag, RawDataElement], syntax: Any, full: FileMetaDataset | None):
        self._meta, self._syntax, self._full = meta, syntax, full

    def dataset(self) -> FileMetaDataset:
        if self._full is None:
            self._full = _file_meta(self._meta)
        return self._full

    def get(self, key, default=None):
        return self._syntax if key == "TransferSyntaxUID" else self.dataset().get(key, default)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.dataset(), name)


_CHARSET_CACHE: dict[tuple, tuple[Any, Any]] = {}


def _character_set(charset: RawDataElement | None, implicit: bool, meta: _SyntaxOnlyMeta) -> tuple[Any, Any]:
    """(the character set of a dataset whose SpecificCharacterSet is ``charset``, as a cache key): what
    :func:`_fast_dataset_of` gives, remembered per value."""
    if charset is None:
        return default_encoding, default_encoding
    key = (charset.VR, charset.value, implicit)
    if key not in _CHARSET_CACHE:
        if len(_CHARSET_CACHE) >= 256:
            _CHARSET_CACHE.clear()
        ds = _fast_dataset_of({_CHARSET: charset}, implicit, meta.dataset())[0]
        _CHARSET_CACHE[key] = (ds._fast_encoding, ds._fast_encoding_key)
    return _CHARSET_CACHE[key]


# VRs whose elements ``HeaderElements[tag]`` converts itself (numbers and short text).
_PLAIN_ITEM_VRS = frozenset({"CS", "DS", "FD", "FL", "IS", "LO", "SH", "SL", "SS", "UL", "US"})


class _PlainElement(NamedTuple):
    """An element's value, as ``ds[tag].value`` reads it."""

    value: Any


class HeaderElements:
    """The header of a file without functional groups, read as
    :func:`radclass.io.header_fields.instance_from_dataset` reads it, without building a pydicom Dataset.

    ``len``, ``in`` (keyword or tag), ``get`` of the plain keywords (pydicom's converter on the element's bytes,
    remembered as in :func:`_converted`), ``file_meta``'s transfer syntax and the located pixel data element
    (``_dict``) are answered from the walked elements. Any other access (``ds[tag]``, an attribute, another
    keyword, a value the plain conversion refuses) goes to the :class:`_FastDataset` of the same elements,
    built on first need, so every value is the one pydicom gives.
    """

    __slots__ = (
        "_data",
        "_elements",
        "_implicit",
        "_entries",
        "_dict",
        "_full",
        "_encoding",
        "_encoding_key",
        "file_meta",
    )

    def __init__(
        self,
        data,
        elements: list[_Entry],
        implicit: bool,
        meta: dict[BaseTag, RawDataElement],
        file_meta: FileMetaDataset | None,
        syntax: Any,
    ):
        self.file_meta = _SyntaxOnlyMeta(meta, syntax, file_meta)
        self._data, self._elements, self._implicit = data, elements, implicit
        self._entries = {e[0]: e for e in elements}
        self._full: _FastDataset | None = None
        self._dict: dict[BaseTag, RawDataElement] = {}  # the pixel data element, located (_locate_pixels)
        charset = None
        for tag, vr, length, vpos, end in elements:
            if tag in _PIXEL_TAG_INTS:
                base = _BASE_TAGS[tag]
                self._dict[base] = RawDataElement(
                    base, _VR_TEXT[vr] if vr is not None else None, length, None, vpos, implicit, True
                )
            elif tag == 0x00080005:  # SpecificCharacterSet (an int compare, not BaseTag.__eq__)
                vr_str = _VR_TEXT[vr] if vr is not None else None
                charset = RawDataElement(_CHARSET, vr_str, length, data[vpos:end], vpos, implicit, True)
        if charset is None:
            self._encoding = self._encoding_key = default_encoding
        else:
            self._encoding, self._encoding_key = _character_set(charset, implicit, self.file_meta)

    def _dataset(self) -> _FastDataset:
        if self._full is None:
            raw: dict[BaseTag, RawDataElement] = {}
            _add_raw_elements(raw, self._data, self._elements, self._implicit, True)
            self._full = _fast_dataset_of(raw, self._implicit, self.file_meta.dataset())[0]
        return self._full

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key) -> bool:
        if isinstance(key, int):  # a tag (BaseTag is an int): pydicom looks it up in the same elements
            return int(key) in self._entries
        tag = _KEYWORD_TAGS.get(key) if isinstance(key, str) else None
        return tag in self._entries if tag is not None else key in self._dataset()

    def get(self, key, default=None):
        tag = _FAST_KEYWORD_INTS.get(key) if isinstance(key, str) else None
        if tag is None:
            return self._dataset().get(key, default)
        entry = self._entries.get(tag)
        if entry is None:
            return default
        vr = entry[1]
        value = self._value(entry, _VR_TEXT[vr] if vr is not None else _FAST_VR_INTS[tag])
        return self._dataset().get(key, default) if value is _MISSING else value

    def value_key(self, key: str) -> tuple | None:
        """What the value of the plain keyword ``key`` is a function of (tag, VR as written, bytes, character
        set), for readers that remember what they made of it (:mod:`radclass.io.header_values`); None for
        another keyword."""
        tag = _FAST_KEYWORD_INTS.get(key)
        if tag is None:
            return None
        entry = self._entries.get(tag)
        if entry is None:
            return (tag,)
        return (tag, entry[1], self._data[entry[3] : entry[4]], self._encoding_key)

    def _value(self, entry: _Entry, vr: str) -> Any:
        """pydicom's conversion of the element ``entry`` with VR ``vr`` (remembered), or _MISSING for a VR or a
        value it does not convert plainly."""
        tag, _, length, vpos, end = entry
        if vr == "UN":
            return _MISSING
        value = self._data[vpos:end]
        out = _VALUE_CACHE.get((vr, value, True, self._encoding_key), _MISSING)
        if out is _MISSING:
            try:
                raw = RawDataElement(_BASE_TAGS.get(tag) or BaseTag(tag), vr, length, value, vpos, self._implicit, True)
                out = _converted(vr, raw, self._encoding, self._encoding_key)
            except Exception:
                return _MISSING
        return out

    def __getitem__(self, key):
        """``ds[tag].value`` of an explicit VR element of a plain VR (the private b-values and mosaic count),
        else pydicom's element."""
        if isinstance(key, int) and not self._implicit:
            entry = self._entries.get(int(key))
            if entry is not None and entry[1] is not None and _VR_TEXT[entry[1]] in _PLAIN_ITEM_VRS:
                value = self._value(entry, _VR_TEXT[entry[1]])
                if value is not _MISSING:
                    return _PlainElement(value)
        return self._dataset()[key]

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._dataset(), name)


def _group_sequences(walker: _Walker, elements, seq_tags: frozenset[int]) -> dict[int, list[list[_Entry]]]:
    """The items (their elements) of the sequences ``seq_tags`` of one functional-groups item."""
    seqs: dict[int, list[list[_Entry]]] = {}
    for tag, vr, length, start, _ in elements:
        if tag not in seq_tags:
            continue
        if vr not in (None, b"SQ"):
            raise Fallback("functional group not a sequence")
        seqs[tag] = walker.items(start + (8 if vr is None else 12), length)[0] if length else []
    return seqs


def _light_group(
    walker: _Walker,
    elements,
    seq_tags: frozenset[int] = _EVERY_FRAME_SEQS,
    values: frozenset[int] | None = _FRAME_VALUES,
    seqs: dict[int, list[list[_Entry]]] | None = None,
) -> _LightGroup:
    """The sequences ``seq_tags`` of one functional-groups item as light items holding the elements ``values``
    (None: every element of defined length). Default: what :mod:`radclass.io.header_fields` reads per frame.
    ``seqs``: the item's :func:`_group_sequences`, when already walked."""
    data, implicit = walker.data, walker.implicit
    if seqs is None:
        seqs = _group_sequences(walker, elements, seq_tags)
    return _LightGroup(
        {
            tag: [
                _LightItem(
                    {
                        _BASE_TAGS.get(t) or BaseTag(t): RawDataElement(
                            _BASE_TAGS.get(t) or BaseTag(t),
                            _VR_TEXT[v] if v is not None else None,
                            n,
                            data[s + (8 if v is None or v not in _LONG_VRS else 12) : e],
                            s,
                            implicit,
                            True,
                        )
                        for t, v, n, s, e in item
                        if (values is None or t in values) and n != 0xFFFFFFFF
                    },
                    None,
                    {},
                )
                for item in items
            ]
            for tag, items in seqs.items()
        }
    )


_IMAGE_POSITION = _tag("ImagePositionPatient")


def _distinct_frames(walker: _Walker, items: list[list[_Entry]]) -> list[_LightGroup]:
    """The light groups of the per-frame items ``items``, a frame left out when an earlier one holds the same
    bytes for every value the mapping reads except the position, and a position too if it has one.

    :func:`radclass.io.header_fields._read_enhanced` collects the distinct orientations and b-values over the
    frames and takes the first position; such a frame adds nothing (its orientation and b-value are already
    collected, and a position, if it has one, was already taken from the earlier frame). Every frame is still
    walked, so a malformed one refuses the file as before.
    """
    data = walker.data
    seen: set[tuple] = set()
    out: list[_LightGroup] = []
    for elements in items:
        seqs = _group_sequences(walker, elements, _EVERY_FRAME_SEQS)
        key = tuple(
            (
                tag,
                tuple(
                    tuple(
                        (t, v, n, None if t == _IMAGE_POSITION else data[s:e])
                        for t, v, n, s, e in item
                        if t in _FRAME_VALUES and n != 0xFFFFFFFF
                    )
                    for item in seq_items
                ),
            )
            for tag, seq_items in seqs.items()
        )
        if key not in seen:
            seen.add(key)
            out.append(_light_group(walker, elements, seqs=seqs))
    return out


def _encapsulated_end(data, pos: int) -> int:
    """Offset after encapsulated (compressed) pixel data: its items, then the sequence delimiter."""
    size = len(data)
    while True:
        if pos + 8 > size:
            raise Fallback("end of file inside encapsulated pixel data")
        g, e, length = _HHL.unpack_from(data, pos)
        if (g, e) == (0xFFFE, 0xE0DD):
            return pos + 8
        if (g, e) != (0xFFFE, 0xE000) or length == 0xFFFFFFFF:
            raise Fallback("not an item in encapsulated pixel data")
        pos += 8 + length
