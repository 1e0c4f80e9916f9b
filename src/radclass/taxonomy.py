"""The label vocabulary (``shared/docs/taxonomy.md``): sequences, planes, contrast, statuses, flags, BIDS names.

Each closed vocabulary is a :class:`~enum.StrEnum`: a member *is* its string (``SequenceClass.T1 == "T1"``), so
tables, JSON and SQLite see plain text, and code compares members with strings freely. The tuples below
(:data:`SEQUENCES`, :data:`ORIENTATIONS`, :data:`CONTRASTS`) are the label sets models are trained on.

Series flags travel between layers as tuples of :class:`Flag` members (or :class:`FlagNote` for a flag with
a detail, ``pixel_issue:truncated ...``); :func:`join_flags` makes the ``;``-joined column of the output
tables, :func:`parse_flags` reads it back.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Final


class SequenceClass(StrEnum):
    """What an MR series is: the sequence classes of ``shared/docs/taxonomy.md`` ("Sequence"), plus UNKNOWN.

    UNKNOWN is an output, never a training label: the model declines to decide (abstention).
    """

    T1 = "T1"
    """T1-weighted, no contrast agent (SE, (IR-)GRE, MPRAGE/IR-SPGR/TFE)."""
    T1C = "T1C"
    """T1-weighted after gadolinium."""
    T2 = "T2"
    """T2-weighted SE/TSE/FSE, HASTE, SPACE/CUBE."""
    FLAIR = "FLAIR"
    """T2 fluid-attenuated inversion recovery."""
    PD = "PD"
    """Proton-density weighted."""
    T2STAR = "T2STAR"
    """Gradient-echo T2*-weighted."""
    SWI = "SWI"
    """Susceptibility-weighted (magnitude, phase, minIP/MIP)."""
    DWI = "DWI"
    """Diffusion-weighted: raw DWI/DTI, trace-weighted, b0."""
    ADC = "ADC"
    """Apparent diffusion coefficient map."""
    DTI_MAP = "DTI_MAP"
    """FA, colour FA, tensor maps."""
    PERFUSION = "PERFUSION"
    """DSC, DCE, ASL and their CBF/CBV maps."""
    MRA = "MRA"
    """Time-of-flight and contrast MR angiography, MIPs."""
    BOLD = "BOLD"
    """Functional EPI time series."""
    FIELDMAP = "FIELDMAP"
    """B0 field maps (magnitude/phase)."""
    SCOUT = "SCOUT"
    """Localizer / scout / survey."""
    OTHER = "OTHER"
    """Anything else (spectroscopy screenshots, screen saves, unknown research sequences)."""
    UNKNOWN = "UNKNOWN"
    """The model declines to decide (an output only)."""


class Plane(StrEnum):
    """Acquisition plane of a series, the ``orientation`` column.

    AX/COR/SAG/OBL are the planes of DICOM CID 6312 (SCT Axial, Coronal, Sagittal, Oblique), decided by the
    rules of ``shared/docs/taxonomy.md`` ("Orientation"): the largest component of the slice normal, OBL when it
    is below 0.8. MIXED (DCM 'Multiple planes') and NA are outputs of the geometry, never training labels.
    """

    AX = "AX"
    """Axial (transverse): the slice normal runs along z."""
    COR = "COR"
    """Coronal: the slice normal runs along y."""
    SAG = "SAG"
    """Sagittal: the slice normal runs along x."""
    OBL = "OBL"
    """Oblique: no component of the slice normal reaches 0.8."""
    MIXED = "MIXED"
    """The slices of one series lie in several planes (typically a localizer)."""
    NA = "NA"
    """No acquisition plane: no geometry (2D images) or not recoverable (isotropic template-space volumes)."""


class Contrast(StrEnum):
    """Contrast-agent state, the ``contrast`` column (``shared/docs/taxonomy.md``, "Contrast"); ``post`` follows
    the sequence (T1C) or the Contrast/Bolus Agent (0018,0010) of the DICOM Contrast/Bolus module."""

    PRE = "pre"
    """Before (without) a contrast agent."""
    POST = "post"
    """After a contrast agent."""
    NONE = "none"
    """Not applicable to the sequence (e.g. DWI, field maps)."""
    NA = "na"
    """Unknown."""


class Status(StrEnum):
    """Outcome of one output row, the ``status`` column (README, "Output of annotate")."""

    OK = "ok"
    """The series was classified."""
    UNKNOWN = "unknown"
    """The series was looked at, and the model abstained (the reason says why)."""
    SKIPPED = "skipped"
    """Not classified on purpose: a non-MR series, or a file that belongs to no series."""
    ERROR = "error"
    """Nothing could be classified: an unreadable file, or a series with neither pixels nor header physics."""


class Flag(StrEnum):
    """A remark on one series, the ``flags`` column (README, "Output of annotate"; ``;``-joined there)."""

    NO_PIXELS = "no_pixels"
    """No instance of the series carries pixel data."""
    PIXEL_ISSUE = "pixel_issue"
    """Pixel data are present but unusable (truncated, wrong length); written with a detail (:class:`FlagNote`)."""
    INCONSISTENT_MATRIX = "inconsistent_matrix"
    """The instances of the series have different matrices."""
    MOSAIC = "mosaic"
    """Siemens mosaic images (several slices tiled in one frame)."""
    SIDECAR_UNREADABLE = "sidecar_unreadable"
    """The JSON sidecar of a NIfTI file could not be read; written with the error type (:class:`FlagNote`)."""
    HEADER_UNINFORMATIVE = "header_uninformative"
    """The header carries no acquisition physics: the header forest has no vote."""
    PIXELS_SKIPPED = "pixels_skipped"
    """``--pixels auto``: the pixels could change no published column, so they were not decoded."""
    NO_USABLE_PIXELS = "no_usable_pixels"
    """The series has pixel data, but no slice could be used by the pixel model."""
    PIXELS_HEADER_DISAGREE = "pixels_header_disagree"
    """A pixel model confident at the bundle's validated level contradicts the header forest."""
    DESCRIPTION_DISAGREES = "description_disagrees"
    """The label rules applied to SeriesDescription/ProtocolName contradict the models."""
    ORIENTATION_FROM_PIXELS = "orientation_from_pixels"
    """No usable geometry: the plane is the pixel model's guess."""
    NON_BRAIN = "non_brain"
    """The anatomy gate found a non-brain series: the pixel model has no vote."""
    SEQUENCE_FROM_PIXELS = "sequence_from_pixels"
    """No acquisition header: the sequence is the pixel-signature model's, given only where its class's
    out-of-fold precision reached the bundle's validated level (docs/pixel_model.md)."""
    SEQUENCE_FROM_TIMING = "sequence_from_timing"
    """The header gives acquisition timing but no technique (a NIfTI volume without its sidecar: dcm2niix's TE and
    TR, a ``.bval`` file): the sequence is the bundle's timing model's, given only where its class's out-of-fold
    precision reached the validated level (docs/pixel_model.md)."""
    CONTRAST_FROM_PIXELS = "contrast_from_pixels"
    """A T1 series whose header names no contrast agent was called T1C: its brain's brightest voxels outshine the
    deep tissue past the bundle's validated gadolinium threshold; written with the measured ratio
    (:class:`FlagNote`; docs/pixel_model.md)."""
    FLUID_FROM_PIXELS = "fluid_from_pixels"
    """The timing model called the series T2 family (T2 or FLAIR: their TR and TE are alike), and its brain's
    fluid decided which: bright fluid a T2, dark fluid a FLAIR, past the bundle's validated band; or a volume with
    no acquisition header at all was called T2 for its bright fluid (with ``sequence_from_pixels``, where the
    bundle's validation allows it); written with the measured reading (:class:`FlagNote`; docs/pixel_model.md)."""
    GREY_WHITE_FROM_PIXELS = "grey_white_from_pixels"
    """A volume with no acquisition header at all, whose fluid is dark, was called T1 (white matter brighter than
    grey) or FLAIR (darker) from its deep parenchyma, past the bundle's validated band (with
    ``sequence_from_pixels``, where the bundle's validation allows it); written with the fluid and grey/white
    readings (:class:`FlagNote`; docs/pixel_model.md)."""
    DIFFUSION_FROM_PIXELS = "diffusion_from_pixels"
    """A time series with no acquisition header at all was called DWI: some of its frames are much darker than its
    brightest one, and in them free water lost more of its signal than the rest of the head (with
    ``sequence_from_pixels``); written with the attenuation and free-water readings (:class:`FlagNote`;
    docs/pixel_model.md)."""
    CONTRAST_UNCHECKED = "contrast_unchecked"
    """A T1 whose header names no contrast agent, which the bundle's gadolinium test did not measure (too few
    slices, the field strength, not a whole brain, uneven intensity, outside the brain): nothing tells it from a T1
    after gadolinium; written with the reason (:class:`FlagNote`; docs/pixel_model.md)."""

    def note(self, detail: str) -> FlagNote:
        """This flag with a ``detail`` (``pixel_issue:truncated at byte 100``)."""
        return FlagNote(self, detail)


class FlagNote(str):
    """A :class:`Flag` with a detail, written ``flag:detail``; a string, like a :class:`Flag` member.

    Parameters
    ----------
    flag
        The flag.
    detail
        What a person needs to know; it must not contain ``;`` (the separator of the flags column).
    """

    flag: Flag
    detail: str

    def __new__(cls, flag: Flag, detail: str) -> FlagNote:
        if not isinstance(flag, Flag):
            raise TypeError(f"A flag note needs a Flag member, not {flag!r}.")
        if ";" in detail:
            raise ValueError(f"A flag's detail cannot contain ';' (it separates flags): {detail!r}.")
        note = super().__new__(cls, f"{flag.value}:{detail}")
        note.flag, note.detail = flag, detail
        return note

    def __reduce__(self):  # pickled as its parts (process pools, Ray), not as a plain string
        return (FlagNote, (self.flag, self.detail))


#: A series flag as it travels between layers.
SeriesFlag = Flag | FlagNote
#: The separator of the ``flags`` column.
FLAG_SEPARATOR: Final[str] = ";"


def join_flags(flags: Iterable[str]) -> str:
    """The ``flags`` column of an output row: ``;``-joined, each flag once, in first-seen order."""
    return FLAG_SEPARATOR.join(dict.fromkeys(f for f in flags if f))


def parse_flags(text: str | None) -> tuple[SeriesFlag, ...]:
    """The flags of a ``flags`` column read back; ValueError naming the flag for a word not in :class:`Flag`."""
    out: list[SeriesFlag] = []
    for word in (text or "").split(FLAG_SEPARATOR):
        if not word:
            continue
        name, sep, detail = word.partition(":")
        try:
            flag = Flag(name)
        except ValueError:
            known = ", ".join(f.value for f in Flag)
            raise ValueError(f"Unknown series flag {word!r}: the flags are {known}.") from None
        out.append(flag.note(detail) if sep else flag)
    return tuple(dict.fromkeys(out))


# The label sets the models are trained on (UNKNOWN, MIXED and NA are outputs only).
SEQUENCES: Final[tuple[SequenceClass, ...]] = tuple(s for s in SequenceClass if s is not SequenceClass.UNKNOWN)
ORIENTATIONS: Final[tuple[Plane, ...]] = (Plane.AX, Plane.COR, Plane.SAG, Plane.OBL)
UNKNOWN: Final = SequenceClass.UNKNOWN  # an output, never a training label
CONTRASTS: Final[tuple[Contrast, ...]] = tuple(Contrast)  # the contrast column's values

# BIDS suffix (with entities) for each sequence; None where BIDS excludes or has no raw datatype.
BIDS: Final[dict[str, tuple[str, str] | None]] = {
    SequenceClass.T1: ("anat", "T1w"),
    SequenceClass.T1C: ("anat", "ce-gadolinium_T1w"),
    SequenceClass.T2: ("anat", "T2w"),
    SequenceClass.FLAIR: ("anat", "FLAIR"),
    SequenceClass.PD: ("anat", "PDw"),
    SequenceClass.T2STAR: ("anat", "T2starw"),
    SequenceClass.SWI: ("swi", "swi"),
    SequenceClass.DWI: ("dwi", "dwi"),
    SequenceClass.ADC: ("derivatives", "ADC"),
    SequenceClass.DTI_MAP: ("derivatives", "FA"),
    SequenceClass.PERFUSION: ("perf", "asl"),
    SequenceClass.MRA: ("anat", "angio"),
    SequenceClass.BOLD: ("func", "bold"),
    SequenceClass.FIELDMAP: ("fmap", "fieldmap"),
    SequenceClass.SCOUT: None,
    SequenceClass.OTHER: None,
}

# Contrast implied by the sequence when nothing else is known.
DEFAULT_CONTRAST: Final[dict[str, Contrast]] = {
    SequenceClass.T1: Contrast.PRE,
    SequenceClass.T1C: Contrast.POST,
    SequenceClass.T2: Contrast.PRE,
    SequenceClass.FLAIR: Contrast.PRE,
    SequenceClass.PD: Contrast.PRE,
    SequenceClass.T2STAR: Contrast.PRE,
    SequenceClass.SWI: Contrast.PRE,
    SequenceClass.DWI: Contrast.NONE,
    SequenceClass.ADC: Contrast.NONE,
    SequenceClass.DTI_MAP: Contrast.NONE,
    SequenceClass.PERFUSION: Contrast.NA,
    SequenceClass.MRA: Contrast.NA,
    SequenceClass.BOLD: Contrast.NONE,
    SequenceClass.FIELDMAP: Contrast.NONE,
    SequenceClass.SCOUT: Contrast.NONE,
    SequenceClass.OTHER: Contrast.NA,
}


def bids_suffix(sequence: str) -> str:
    """BIDS suffix (entities included) for a sequence label, '' when BIDS has none."""
    entry = BIDS.get(sequence)
    return entry[1] if entry else ""
