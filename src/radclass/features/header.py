"""Header feature vector of a series, for the random forest.

Only acquisition physics and vendor-neutral conventions are used (ImageType, ScanningSequence,
SequenceVariant, ScanOptions, MRAcquisitionType, TR/TE/TI/flip/ETL, b-values, contrast agent, geometry):
never the free-text SeriesDescription/ProtocolName, which the label rules read instead and which anonymised
archives often remove. Missing values are -1, as in the literature.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from radclass.values import as_number, as_text

MISSING = -1.0

IMAGE_TYPE_TOKENS: tuple[str, ...] = (
    "ORIGINAL",
    "DERIVED",
    "PRIMARY",
    "SECONDARY",
    "M",
    "P",
    "R",
    "I",
    "MAG",
    "PHASE",
    "DIFFUSION",
    "ADC",
    "TRACEW",
    "TRACE",
    "FA",
    "TENSOR",
    "EXP",
    "MOSAIC",
    "FMRI",
    "ASL",
    "PERFUSION",
    "CBF",
    "CBV",
    "MTT",
    "TTP",
    "SWI",
    "MNIP",
    "MIP",
    "MPR",
    "PROJECTION IMAGE",
    "NORM",
    "DIS2D",
    "DIS3D",
    "LOCALIZER",
    "EPI",
    "OTHER",
    "T1",
    "T2",
    "PD",
    "FLAIR",
    "M_FFE",
    "FFE",
    "M_SE",
    "SE",
    "M_IR",
    "IR",
    "R_FFE",
    "PHASE MAP",
    "B0",
    "FM",
    "FIELDMAP",
    "VELOCITY",
    "CALC_BVALUE",
    "EADC",
    "ISODWI",
    "CMB",
    "COLFA",
    "FILTERED",
    "NONE",
    "ND",
    "SUB",
    "MOCO",
    "GDC",
    "REFORMATTED",
    "SCREEN SAVE",
    "CSA REPORT",
    "ANGIO",
    "TOF",
    "COLLAPSE",
)
ACQ_CONTRAST_TOKENS: tuple[str, ...] = (
    "T1",
    "T2",
    "PROTON_DENSITY",
    "DIFFUSION",
    "FLOW_ENCODED",
    "FLUID_ATTENUATED",
    "PERFUSION",
    "T2_STAR",
    "DIFFUSION_ANISO",
    "MIXED",
    "UNKNOWN",
)
SCANNING_SEQUENCE_TOKENS: tuple[str, ...] = ("SE", "IR", "GR", "EP", "RM")
SEQUENCE_VARIANT_TOKENS: tuple[str, ...] = ("SK", "MTC", "SS", "TRSS", "SP", "MP", "OSP", "NONE")
SCAN_OPTION_PREFIXES: tuple[str, ...] = (
    "IR",
    "PFP",
    "PFF",
    "FS",
    "SAT",
    "FC",
    "PER",
    "RG",
    "CG",
    "PPG",
    "EPI",
    "FAST",
    "SEQ",
    "ACC",
    "MP",
    "TOF",
    "SP",
    "FILTERED",
)
# Vendor sequence-name fragments that name the technique (Siemens *tfl3d1, GE efgre3d, Philips T1TFE...).
SEQUENCE_NAME_PATTERNS: tuple[tuple[str, str], ...] = (
    ("tfl", r"tfl|mprage|bravo|tfe|ir_?fspgr|fspgr"),
    ("tse", r"tse|fse|tir|haste|space|cube|vista|frfse"),
    ("epi_diff", r"ep_b|ep2d_diff|epse|dwi|diff|ep_seg_b"),
    ("epi_bold", r"epfid|ep2d_bold|epi_?bold|fmri"),
    ("gre", r"fl[23]d|fl2d|gre|ffe|spgr|fgre"),
    ("swi", r"swi|swan|ven_?bold"),
    ("tof", r"tof|fl3d1r|inhance|fl3d1r_t"),
    ("fieldmap", r"fm2d|fieldmap|b0map"),
    ("asl", r"asl|tgse|pcasl|pasl|ep2d_pasl"),
)
# The same patterns compiled once, and the features of a row without scan options / sequence name.
_SEQUENCE_NAME_RES = tuple(re.compile(pat) for _, pat in SEQUENCE_NAME_PATTERNS)
_NO_SCAN_OPTIONS = [0.0] * len(SCAN_OPTION_PREFIXES)
_NO_SEQUENCE_NAME = [0.0] * len(SEQUENCE_NAME_PATTERNS)
NUMERIC_FIELDS: tuple[str, ...] = (
    "repetition_time",
    "echo_time",
    "inversion_time",
    "flip_angle",
    "echo_train_length",
    "slice_thickness",
    "field_strength",
)


#: Header fields that name the sequence technique. A header that has acquisition timing but none of these (a
#: NIfTI volume without its sidecar, a stripped export) is judged by the timing model, not the header forest.
SEQUENCE_FIELDS: tuple[str, ...] = (
    "image_type",
    "frame_type",
    "acquisition_contrast",
    "scanning_sequence",
    "sequence_variant",
    "sequence_name",
)
#: The scan-row fields a NIfTI header alone can give (:func:`radclass.io.volumes.nifti_series`): dcm2niix's TE
#: and TR, the b-values of a ``.bval`` file, the volumes, the voxel size.
TIMING_FIELDS: tuple[str, ...] = (
    "modality",
    "repetition_time",
    "echo_time",
    "b_values",
    "temporal_positions",
    "pixel_spacing",
    "slice_thickness",
)
#: The header features the timing model reads: those of :data:`TIMING_FIELDS` that mean the same in a DICOM
#: series and in its NIfTI conversion (not the matrix or the frame count, which a mosaic changes).
TIMING_FEATURES: tuple[str, ...] = (
    "repetition_time",
    "echo_time",
    "log_tr",
    "te_over_tr",
    "pixel_spacing",
    "slice_thickness",
    "temporal_positions",
    "b_max",
    "n_b_values",
)


def timing_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """``row`` with every field but :data:`TIMING_FIELDS` blanked: what its series would tell as a NIfTI volume
    without a sidecar (how the timing model's training rows are made from full headers)."""
    return {k: (v if k in TIMING_FIELDS else None) for k, v in row.items()}


def feature_names() -> list[str]:
    """Column names of :func:`header_features`, in order."""
    names = [f"it_{t}" for t in IMAGE_TYPE_TOKENS]
    names += [f"ac_{t}" for t in ACQ_CONTRAST_TOKENS]
    names += [f"ss_{t}" for t in SCANNING_SEQUENCE_TOKENS]
    names += [f"sv_{t}" for t in SEQUENCE_VARIANT_TOKENS]
    names += [f"so_{t}" for t in SCAN_OPTION_PREFIXES]
    names += [f"sn_{name}" for name, _ in SEQUENCE_NAME_PATTERNS]
    names += [
        "acq_3d",
        "acq_2d",
        *NUMERIC_FIELDS,
        "log_tr",
        "te_over_tr",
        "ti_over_tr",
        "pixel_spacing",
        "matrix",
        "log_n_frames",
        "temporal_positions",
        "b_max",
        "n_b_values",
        "contrast_agent",
        "n_echoes",
        "has_image_type",
        "has_scanning_sequence",
        "modality_mr",
    ]
    return names


def header_features(row: Mapping[str, Any]) -> np.ndarray:
    """Feature vector (float32) of one scan row (see ``radclass.io.series.HEADER_COLUMNS``)."""
    image_type = _tokens(row.get("image_type")) | _tokens(row.get("frame_type"))
    acq_contrast = as_text(row.get("acquisition_contrast")).upper()
    ss = _tokens(row.get("scanning_sequence"))
    sv = _tokens(row.get("sequence_variant"))
    so = _tokens(row.get("scan_options"))
    seq_name = as_text(row.get("sequence_name")).lower()
    feats: list[float] = [float(t in image_type) for t in IMAGE_TYPE_TOKENS]
    feats += [float(acq_contrast == t) for t in ACQ_CONTRAST_TOKENS]
    feats += [float(t in ss) for t in SCANNING_SEQUENCE_TOKENS]
    feats += [float(t in sv) for t in SEQUENCE_VARIANT_TOKENS]
    feats += [float(any(o.startswith(p) for o in so)) for p in SCAN_OPTION_PREFIXES] if so else _NO_SCAN_OPTIONS
    feats += [float(pat.search(seq_name) is not None) for pat in _SEQUENCE_NAME_RES] if seq_name else _NO_SEQUENCE_NAME
    acq = as_text(row.get("mr_acquisition_type") or row.get("acquisition")).upper()
    feats += [float(acq == "3D"), float(acq == "2D")]
    nums = {f: as_number(row.get(f)) for f in NUMERIC_FIELDS}
    feats += [v if v is not None else MISSING for v in nums.values()]
    tr, te, ti = nums["repetition_time"], nums["echo_time"], nums["inversion_time"]
    feats.append(math.log10(tr) if tr and tr > 0 else MISSING)
    feats.append(te / tr if tr and te is not None and tr > 0 else MISSING)
    feats.append(ti / tr if tr and ti is not None and tr > 0 else MISSING)
    spacing = [s for s in (as_number(v) for v in as_text(row.get("pixel_spacing")).split("\\") if v) if s is not None]
    feats.append(float(np.mean(spacing)) if spacing else MISSING)
    rows, cols = as_number(row.get("rows")), as_number(row.get("columns"))
    feats.append(max(rows, cols) if rows and cols else MISSING)
    n_frames = as_number(row.get("n_frames"))
    feats.append(math.log10(n_frames) if n_frames and n_frames > 0 else MISSING)
    tp = as_number(row.get("temporal_positions"))
    feats.append(tp if tp is not None else MISSING)
    b = [x for x in (as_number(v) for v in as_text(row.get("b_values")).split("\\") if v) if x is not None]
    feats += [max(b) if b else MISSING, float(len(b))]
    feats.append(float(bool(as_text(row.get("contrast_agent")))))
    echoes = [e for e in as_text(row.get("echo_numbers")).split("\\") if e]
    feats.append(float(len(echoes)) if echoes else MISSING)
    feats += [float(bool(image_type)), float(bool(ss)), float(as_text(row.get("modality")).upper() == "MR")]
    return np.asarray(feats, dtype=np.float32)


def header_matrix(rows: Sequence[Mapping[str, Any]], names: Sequence[str] | None = None) -> np.ndarray:
    """Stack :func:`header_features` of many rows into an (n, d) matrix.

    ``names`` (a bundle's stored ``feature_names``) picks the columns by name, in that order, so a model keeps
    receiving the inputs it was trained on when the feature list changes (an older list named ``so_PFF``
    twice). A name this version does not compute is an error.
    """
    current = feature_names()
    X = np.stack([header_features(r) for r in rows]) if rows else np.zeros((0, len(current)), np.float32)
    if names is None or list(names) == current:
        return X
    index = {n: i for i, n in enumerate(current)}
    unknown = [n for n in names if n not in index]
    if unknown:
        raise ValueError(f"The model expects header features this version does not compute: {unknown[:5]}.")
    return X[:, [index[n] for n in names]]


_TOKEN_SEPARATORS = re.compile(r"[\\,]")


def _tokens(v: Any) -> set[str]:
    return {t.strip().upper() for t in _TOKEN_SEPARATORS.split(as_text(v)) if t.strip()}
