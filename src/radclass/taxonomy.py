"""The label vocabulary (``shared/docs/taxonomy.md``): sequences, orientations, contrast, BIDS names."""

from __future__ import annotations

from typing import Final

SEQUENCES: Final[tuple[str, ...]] = (
    "T1",
    "T1C",
    "T2",
    "FLAIR",
    "PD",
    "T2STAR",
    "SWI",
    "DWI",
    "ADC",
    "DTI_MAP",
    "PERFUSION",
    "MRA",
    "BOLD",
    "FIELDMAP",
    "SCOUT",
    "OTHER",
)
ORIENTATIONS: Final[tuple[str, ...]] = ("AX", "COR", "SAG", "OBL")
UNKNOWN: Final[str] = "UNKNOWN"  # an output, never a training label
CONTRASTS: Final[tuple[str, ...]] = ("pre", "post", "none", "na")  # the contrast column's values

# BIDS suffix (with entities) for each sequence; None where BIDS excludes or has no raw datatype.
BIDS: Final[dict[str, tuple[str, str] | None]] = {
    "T1": ("anat", "T1w"),
    "T1C": ("anat", "ce-gadolinium_T1w"),
    "T2": ("anat", "T2w"),
    "FLAIR": ("anat", "FLAIR"),
    "PD": ("anat", "PDw"),
    "T2STAR": ("anat", "T2starw"),
    "SWI": ("swi", "swi"),
    "DWI": ("dwi", "dwi"),
    "ADC": ("derivatives", "ADC"),
    "DTI_MAP": ("derivatives", "FA"),
    "PERFUSION": ("perf", "asl"),
    "MRA": ("anat", "angio"),
    "BOLD": ("func", "bold"),
    "FIELDMAP": ("fmap", "fieldmap"),
    "SCOUT": None,
    "OTHER": None,
}

# Contrast implied by the sequence when nothing else is known.
DEFAULT_CONTRAST: Final[dict[str, str]] = {
    "T1": "pre",
    "T1C": "post",
    "T2": "pre",
    "FLAIR": "pre",
    "PD": "pre",
    "T2STAR": "pre",
    "SWI": "pre",
    "DWI": "none",
    "ADC": "none",
    "DTI_MAP": "none",
    "PERFUSION": "na",
    "MRA": "na",
    "BOLD": "none",
    "FIELDMAP": "none",
    "SCOUT": "none",
    "OTHER": "na",
}


def bids_suffix(sequence: str) -> str:
    """BIDS suffix (entities included) for a sequence label, '' when BIDS has none."""
    entry = BIDS.get(sequence)
    return entry[1] if entry else ""
