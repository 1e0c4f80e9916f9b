"""Realistic, vendor-varied MR acquisition protocols for every sequence class.

:func:`sample_protocol` draws one :class:`Protocol`: the DICOM header values a scanner would write for a
series of the given radclass sequence class (``T1``, ``FLAIR``, ``DWI``, ...) plus the parameters the
signal equations in :mod:`radclass.simulate.physics` need.

This module is **also the source of synthetic header feature rows** for training the header random forest,
so the ranges are meant to be physically faithful, per field strength and vendor, and follow
``shared/docs/taxonomy.md``:

* spin-echo T1: TR 400-800 ms (to ~900 at 3 T), TE 8-20 ms; T1-FLAIR (IR-SE) TR 1.8-2.8 s, TI 700-1100 ms;
* MPRAGE / IR-SPGR / 3D TFE: 3D, TI 600-1100 ms (GE BRAVO 400-650 ms), flip 7-12 degrees; GE and Philips
  report the echo spacing (TR 6-10 ms) where Siemens reports the shot interval (TR 1.6-2.5 s);
* T2 TSE/FSE: TR 2.5-7 s, TE 80-120 ms, echo train 8-24, no TI; 3D SPACE/CUBE T2 long effective TE;
* FLAIR: TR 6-11 s (2D) / 4.8-7 s (3D), TI at the CSF null for that TR, 1800-2800 ms (2D) / 1600-2200 ms
  (3D), TE 80-140 ms;
* PD: long TR, TE 8-35 ms;
* T2* GRE: 2D, TR 400-900 ms, TE 15-30 ms, flip 15-25 degrees;
* SWI: 3D flow-compensated GRE, TE 20-40 ms, magnitude / phase / SWI / minIP images;
* DWI/ADC/FA: single-shot spin-echo EPI, TR 3-10 s, TE 55-110 ms, b 0-3000 s/mm2;
* MRA: 3D time of flight, TR 18-40 ms, TE 2.5-7 ms, flip 15-25 degrees, thin slices, MIPs;
* BOLD: gradient-echo EPI, TR 0.5-3 s, TE 25-50 ms, 64-104 matrix, 100-600 volumes;
* PERFUSION: DSC (GRE-EPI with gadolinium, TR 1-2 s) or ASL (label/control, PLD 1.5-2 s) and their maps;
* FIELDMAP: dual-echo GRE (TE difference 1-2.5 ms), magnitude and phase (difference) images;
* SCOUT: very low resolution, few thick slices; OTHER: screen saves, reports, quantitative maps.

Vendor conventions (ImageType, ScanningSequence, SequenceVariant, ScanOptions, naming styles) are
approximations of what Siemens, GE, Philips, Canon and Hitachi scanners write; they are sampled so that a
classifier learns the physics and the common styles, not one site's naming.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from radclass.taxonomy import DEFAULT_CONTRAST, ORIENTATIONS, SEQUENCES

VENDORS: tuple[str, ...] = ("Siemens", "GE", "Philips", "Canon", "Hitachi")
_VENDOR_WEIGHTS = (0.36, 0.28, 0.24, 0.07, 0.05)

_MANUFACTURER = {
    "Siemens": ("SIEMENS", "Siemens Healthineers", "Siemens"),
    "GE": ("GE MEDICAL SYSTEMS", "GE HEALTHCARE"),
    "Philips": ("Philips Medical Systems", "Philips Healthcare", "Philips"),
    "Canon": ("CANON_MEC", "TOSHIBA_MEC", "Canon Medical Systems"),
    "Hitachi": ("Hitachi Medical Corporation", "HITACHI", "FUJIFILM Healthcare Corporation"),
}
_MODELS = {
    ("Siemens", 1.5): ("Avanto", "Aera", "Avanto_fit", "Sola", "Espree", "Altea"),
    ("Siemens", 3.0): ("Skyra", "Prisma", "Prisma_fit", "Verio", "TrioTim", "Vida", "Lumina"),
    ("GE", 1.5): ("SIGNA HDxt", "Optima MR450w", "SIGNA Artist", "SIGNA Explorer"),
    ("GE", 3.0): ("DISCOVERY MR750", "SIGNA Premier", "SIGNA Pioneer", "DISCOVERY MR750w", "SIGNA Architect"),
    ("Philips", 1.5): ("Ingenia", "Achieva", "Intera", "Ingenia Ambition X"),
    ("Philips", 3.0): ("Achieva dStream", "Ingenia", "Ingenia Elition X", "Achieva"),
    ("Canon", 1.5): ("Vantage Orian", "Vantage Titan", "Vantage Elan"),
    ("Canon", 3.0): ("Vantage Titan 3T", "Vantage Galan 3T", "Vantage Centurian"),
    ("Hitachi", 1.2): ("OASIS",),
    ("Hitachi", 1.5): ("ECHELON_OVAL", "Echelon Smart", "ECHELON_RX"),
    ("Hitachi", 3.0): ("TRILLIUM OVAL",),
}
_CONTRAST_AGENTS = (
    "Gadovist",
    "GADAVIST",
    "Dotarem",
    "DOTAREM 15 ML",
    "MultiHance",
    "ProHance",
    "Clariscan",
    "Gadobutrol",
    "Magnevist",
    "Omniscan",
    "GD",
    "Gd-DTPA",
    "10 ml Gadovist",
    "CONTRAST",
    "Yes",
)

# Typical acquisition planes per sequence class (weights for AX, COR, SAG, OBL).
PLANE_WEIGHTS: dict[str, tuple[float, float, float, float]] = {
    "T1": (0.45, 0.15, 0.32, 0.08),
    "T1C": (0.5, 0.22, 0.2, 0.08),
    "T2": (0.6, 0.25, 0.08, 0.07),
    "FLAIR": (0.7, 0.12, 0.12, 0.06),
    "PD": (0.7, 0.15, 0.1, 0.05),
    "T2STAR": (0.85, 0.08, 0.02, 0.05),
    "SWI": (0.9, 0.03, 0.02, 0.05),
    "DWI": (0.85, 0.06, 0.04, 0.05),
    "ADC": (0.85, 0.06, 0.04, 0.05),
    "DTI_MAP": (0.85, 0.06, 0.04, 0.05),
    "PERFUSION": (0.9, 0.03, 0.02, 0.05),
    "MRA": (0.75, 0.1, 0.1, 0.05),
    "BOLD": (0.82, 0.06, 0.04, 0.08),
    "FIELDMAP": (0.85, 0.05, 0.05, 0.05),
    "SCOUT": (0.3, 0.3, 0.35, 0.05),
    "OTHER": (0.5, 0.2, 0.2, 0.1),
}


@dataclass
class Protocol:
    """One series' acquisition: DICOM header values plus the physics parameters of its signal model.

    Times are in ms, angles in degrees, lengths in mm, b-values in s/mm2. ``physics`` holds what the signal
    equations need (e.g. an MPRAGE's inversion time and shot interval even where the vendor reports the echo
    spacing as RepetitionTime); ``image`` names what the pixels show (``"magnitude"``, ``"phase"``,
    ``"adc"``, ``"mip"``, ...). :meth:`header` gives the DICOM attributes by keyword.
    """

    sequence: str
    technique: str  # e.g. "se", "tse", "mprage", "epi_dwi"
    signal_model: str  # key of the signal equation in radclass.simulate.physics
    image: str  # what the pixels show
    orientation: str  # AX/COR/SAG/OBL, the plane the series is acquired (and named) in
    vendor: str
    manufacturer: str
    model_name: str
    field_strength: float
    series_description: str
    protocol_name: str
    image_type: tuple[str, ...]
    scanning_sequence: tuple[str, ...]
    sequence_variant: tuple[str, ...]
    scan_options: tuple[str, ...]
    sequence_name: str
    acquisition_type: str  # MRAcquisitionType: 2D or 3D
    repetition_time: float
    echo_time: float
    inversion_time: float | None
    flip_angle: float
    echo_train_length: int
    b_value: float | None
    contrast_agent: str | None
    pixel_spacing: tuple[float, float]
    slice_thickness: float
    spacing_between_slices: float
    rows: int
    columns: int
    n_slices: int
    n_volumes: int
    pixel_bandwidth: float
    n_averages: float
    percent_phase_fov: float
    partial_fourier: float  # fraction of k-space sampled along phase (1.0 = full)
    phase_direction: str  # InPlanePhaseEncodingDirection: ROW or COL
    epi: bool
    contrast: str  # pre/post/none/na
    physics: dict[str, float] = field(default_factory=dict)

    @property
    def fov(self) -> tuple[float, float]:
        """Field of view (rows, columns) in mm."""
        return self.rows * self.pixel_spacing[0], self.columns * self.pixel_spacing[1]

    def header(self) -> dict[str, Any]:
        """DICOM attributes (keyword -> value) this protocol implies; None-valued attributes are left out."""
        values: dict[str, Any] = {
            "Manufacturer": self.manufacturer,
            "ManufacturerModelName": self.model_name,
            "MagneticFieldStrength": self.field_strength,
            "SeriesDescription": self.series_description,
            "ProtocolName": self.protocol_name,
            "ImageType": list(self.image_type),
            "ScanningSequence": list(self.scanning_sequence),
            "SequenceVariant": list(self.sequence_variant),
            "ScanOptions": list(self.scan_options) if self.scan_options else "",
            "SequenceName": self.sequence_name,
            "MRAcquisitionType": self.acquisition_type,
            "RepetitionTime": self.repetition_time,
            "EchoTime": self.echo_time,
            "InversionTime": self.inversion_time,
            "FlipAngle": self.flip_angle,
            "EchoTrainLength": self.echo_train_length,
            "DiffusionBValue": self.b_value,
            "ContrastBolusAgent": self.contrast_agent,
            "PixelSpacing": list(self.pixel_spacing),
            "SliceThickness": self.slice_thickness,
            "SpacingBetweenSlices": self.spacing_between_slices,
            "Rows": self.rows,
            "Columns": self.columns,
            "NumberOfTemporalPositions": self.n_volumes if self.n_volumes > 1 else None,
            "PixelBandwidth": self.pixel_bandwidth,
            "NumberOfAverages": self.n_averages,
            "PercentPhaseFieldOfView": self.percent_phase_fov,
            "InPlanePhaseEncodingDirection": self.phase_direction,
            "ImagingFrequency": round(42.577478 * self.field_strength, 6),
        }
        return {key: value for key, value in values.items() if value is not None}

    def as_dict(self) -> dict[str, Any]:
        """All fields as a flat dict (tuples kept), e.g. for a feature table."""
        return asdict(self)


@dataclass
class _Ctx:
    """What a recipe needs: the random generator and the scanner it runs on."""

    rng: np.random.Generator
    vendor: str
    b0: float
    orientation: str
    sequence: str

    def u(self, lo: float, hi: float, step: float = 1.0) -> float:
        """Uniform draw rounded to ``step``."""
        return round(float(np.round(self.rng.uniform(lo, hi) / step) * step), 6)

    def pick(self, options: Any, p: Any = None) -> Any:
        """One of ``options`` (optionally weighted)."""
        options = list(options)
        if p is not None:
            p = np.asarray(p, dtype=float)
            p = p / p.sum()
        return options[int(self.rng.choice(len(options), p=p))]

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    @property
    def hi(self) -> bool:
        """True at 3 T (and above)."""
        return self.b0 >= 2.5


# ----------------------------------------------------------------------------------------------- naming


def _plane_token(ctx: _Ctx) -> str:
    """The plane as this vendor spells it in a SeriesDescription."""
    tokens = {
        "Siemens": {"AX": "tra", "COR": "cor", "SAG": "sag", "OBL": "tra_obl"},
        "GE": {"AX": "Ax", "COR": "Cor", "SAG": "Sag", "OBL": "Obl"},
        "Philips": {"AX": "TRA", "COR": "COR", "SAG": "SAG", "OBL": "OBL"},
        "Canon": {"AX": "ax", "COR": "cor", "SAG": "sag", "OBL": "obl"},
        "Hitachi": {"AX": "AX", "COR": "COR", "SAG": "SAG", "OBL": "OBL"},
    }[ctx.vendor][ctx.orientation]
    if ctx.vendor == "GE" and ctx.chance(0.4):
        tokens = tokens.upper()
    return tokens


# Description templates per (naming key, vendor); {p} is the vendor's plane token.
_NAMES: dict[str, dict[str, tuple[str, ...]]] = {
    "t1_se": {
        "Siemens": ("t1_se_{p}", "t1_tse_{p}", "T1_SE_{p}", "t1_tse_{p}_p2", "t1_se_{p}_512"),
        "GE": ("{p} T1", "{p} T1 SE", "{p} T1 FSE", "{p} SE T1"),
        "Philips": ("T1W_SE_{p}", "sT1W_SE", "T1W_TSE {p}", "T1_SE SENSE", "T1W_SE"),
        "Canon": ("T1WI_SE_{p}", "T1 SE {p}", "{p} T1WI"),
        "Hitachi": ("T1WI_SE_{p}", "SE_T1_{p}", "T1W {p}"),
    },
    "t1_flair": {
        "Siemens": ("t1_tirm_{p}", "t1_flair_{p}", "T1_FLAIR_{p}"),
        "GE": ("{p} T1 FLAIR", "{p} T1 FLAIR", "{p} T1FLAIR"),
        "Philips": ("T1W_IR_{p}", "T1 FLAIR {p}", "sT1W_IR"),
        "Canon": ("T1 FLAIR {p}", "T1FLAIR_{p}"),
        "Hitachi": ("T1_FLAIR_{p}", "IR_T1_{p}"),
    },
    "t1_3d": {
        "Siemens": (
            "t1_mprage_{p}",
            "t1_mprage_{p}_p2_iso",
            "MPRAGE",
            "t1_mpr_{p}_iso",
            "T1_MPRAGE_{p}",
            "T1w_MPR",
            "anat-T1w_acq-tfl",
            "t1_mprage_{p}_1mm",
        ),
        "GE": ("{p} 3D T1 BRAVO", "{p} T1 BRAVO", "3D {p} T1 MP-RAGE", "{p} IR-FSPGR", "{p} 3D FSPGR IR", "{p} MPRAGE"),
        "Philips": ("T1W_3D_TFE", "3D T1 TFE {p}", "sT1W_3D_TFE", "T1_3D_TFE SENSE", "T1W_3D_TFE_{p}"),
        "Canon": ("3D MPRAGE {p}", "3D T1 MPRAGE", "T1 3D FFE {p}"),
        "Hitachi": ("3D_RSSG_T1", "T1 3D {p}", "3D T1 IR-RSSG"),
    },
    "t1_gre": {
        "Siemens": ("t1_fl2d_{p}", "t1_fl3d_{p}", "t1_vibe_{p}", "t1_fl3d_{p}_iso", "T1_FLASH_{p}"),
        "GE": ("{p} T1 SPGR", "{p} 3D SPGR", "{p} T1 GRE", "{p} FSPGR 3D"),
        "Philips": ("T1W_FFE_{p}", "T1W_3D_FFE", "T1W_FFE", "T1 FFE {p}"),
        "Canon": ("T1 FFE {p}", "3D T1 FFE", "T1WI FE {p}"),
        "Hitachi": ("T1 RSSG {p}", "3D_RSSG", "T1W GRE {p}"),
    },
    "t2": {
        "Siemens": ("t2_tse_{p}", "t2_tse_{p}_p2", "T2_TSE_{p}", "t2_blade_{p}", "t2_tse_{p}_384", "t2_haste_{p}"),
        "GE": ("{p} T2", "{p} T2 FSE", "{p} T2 FRFSE", "{p} T2 PROPELLER", "{p} FSE T2", "{p} T2 SSFSE"),
        "Philips": ("T2W_TSE", "T2W_TSE_{p}", "sT2W_TSE", "T2W_TSE SENSE", "T2 TSE {p}", "T2W_MultiVane"),
        "Canon": ("T2WI_FSE_{p}", "T2 FSE {p}", "{p} T2WI"),
        "Hitachi": ("T2WI_FSE_{p}", "FSE_T2_{p}", "T2W {p}"),
    },
    "t2_3d": {
        "Siemens": ("t2_space_{p}_p2_iso", "T2_SPACE_{p}", "t2_spc_{p}_iso"),
        "GE": ("{p} CUBE T2", "{p} T2 CUBE", "3D T2 CUBE {p}"),
        "Philips": ("3D T2W VISTA", "T2W_3D_VISTA {p}", "VISTA T2"),
        "Canon": ("3D T2 MVOX", "T2 3D FSE {p}"),
        "Hitachi": ("3D T2 isoFSE", "T2 3D {p}"),
    },
    "flair": {
        "Siemens": ("t2_tirm_{p}_dark-fluid", "t2_flair_{p}", "T2_FLAIR_{p}", "t2_tirm_{p}_dark-fluid_p2", "flair_{p}"),
        "GE": ("{p} T2 FLAIR", "{p} FLAIR", "{p} T2FLAIR", "{p} T2 FLAIR FS"),
        "Philips": ("T2W_FLAIR", "sT2W/FLAIR SENSE", "FLAIR_{p}", "T2W_FLAIR_{p}", "sT2W_FLAIR"),
        "Canon": ("FLAIR_{p}", "T2 FLAIR {p}", "{p} FLAIR"),
        "Hitachi": ("FLAIR_{p}", "T2 FLAIR {p}", "FLAIR"),
    },
    "flair_3d": {
        "Siemens": ("t2_space_dark-fluid_{p}_p2_iso", "T2_FLAIR_3D_{p}", "t2_spc_da-fl_{p}_iso", "3D_FLAIR"),
        "GE": ("{p} CUBE FLAIR", "{p} T2 FLAIR CUBE", "3D {p} FLAIR"),
        "Philips": ("3D FLAIR", "3D_Brain_VIEW_FLAIR_SAG", "VISTA FLAIR", "3D FLAIR SENSE"),
        "Canon": ("3D FLAIR {p}", "FLAIR 3D MVOX"),
        "Hitachi": ("3D FLAIR", "FLAIR 3D {p}"),
    },
    "pd": {
        "Siemens": ("pd_tse_{p}", "PD_TSE_{p}", "pd+t2_tse_{p}", "pd_tse_{p}_p2"),
        "GE": ("{p} PD", "{p} PD FSE", "{p} PD/T2", "{p} PROTON DENSITY"),
        "Philips": ("PDW_TSE", "PDW_TSE_{p}", "sPDW_TSE", "PD/T2 TSE"),
        "Canon": ("PDWI_FSE_{p}", "PD FSE {p}"),
        "Hitachi": ("PDWI_FSE_{p}", "PD {p}"),
    },
    "t2star": {
        "Siemens": ("t2_fl2d_{p}_hemo", "t2_gre_{p}", "T2*_GRE_{p}", "t2_fl2d_{p}", "t2_me2d_{p}"),
        "GE": ("{p} GRE", "{p} T2* GRE", "{p} GRE T2*", "{p} T2 STAR"),
        "Philips": ("T2*W_FFE", "T2*_FFE_{p}", "sT2*W_FFE", "T2FFE {p}"),
        "Canon": ("T2*WI_{p}", "T2* FE {p}"),
        "Hitachi": ("T2*WI_{p}", "T2* GRE {p}"),
    },
    "swi": {
        "Siemens": ("t2_swi_{p}_p2_1.5mm", "SWI_{p}", "swi_{p}"),
        "GE": ("{p} SWAN", "SWAN", "{p} SWI"),
        "Philips": ("SWIp", "SWIp_{p}", "SWI_{p}", "sSWIp"),
        "Canon": ("FSBB {p}", "SWI {p}", "SWI"),
        "Hitachi": ("BSI {p}", "SWI_{p}"),
    },
    "dwi": {
        "Siemens": (
            "ep2d_diff_3scan_trace_p2",
            "ep2d_diff_{p}",
            "DWI_{p}",
            "resolve_diff_{p}",
            "ep2d_diff_mddw_20",
            "DTI_30dir",
            "dMRI_dir98_AP",
            "DWI_dir80_AP",
        ),
        "GE": ("{p} DWI 1000", "{p} DWI", "{p} DIFFUSION", "{p} DWI ASSET", "{p} DTI 30 dir", "{p} DWI b1000"),
        "Philips": ("DWI SENSE", "DWI_{p}", "sDWI", "DTI_32dir", "DWI_b1000", "DWI_MultiShot"),
        "Canon": ("DWI {p}", "DWI_b1000_{p}", "DTI {p}"),
        "Hitachi": ("DWI_{p}", "DWI b1000 {p}"),
    },
    "bold": {
        "Siemens": (
            "ep2d_bold_moco",
            "ep2d_bold",
            "rfMRI_REST_AP",
            "BOLD_resting",
            "fMRI_task",
            "cmrr_mbep2d_bold",
            "ep2d_bold_{p}",
        ),
        "GE": ("{p} fMRI", "rsfMRI", "{p} BOLD", "fMRI resting state", "{p} EPI fMRI"),
        "Philips": ("fMRI_rest", "FE_EPI_BOLD", "BOLD_rs", "fMRI SENSE", "rs_fMRI"),
        "Canon": ("BOLD {p}", "fMRI EPI"),
        "Hitachi": ("BOLD_{p}", "fMRI"),
    },
    "fieldmap": {
        "Siemens": ("gre_field_mapping", "field_map", "fmap_gre", "gre_field_mapping_{p}"),
        "GE": ("B0map", "{p} B0 Map", "FIELDMAP", "fmap"),
        "Philips": ("B0_map", "B0 Map", "fieldmap_{p}"),
        "Canon": ("B0 map", "FieldMap"),
        "Hitachi": ("B0map", "FieldMap"),
    },
    "tof": {
        "Siemens": ("tof_fl3d_{p}_p2_multi-slab", "TOF_3D_multi-slab", "tof3d_{p}", "fl3d_tof_{p}"),
        "GE": ("{p} 3D TOF", "3D TOF MRA", "{p} TOF MOTSA", "3D TOF COW"),
        "Philips": ("TOF_3D_multi-chunk", "sTOF", "3D TOF SENSE", "TOF {p}"),
        "Canon": ("3D TOF", "TOF MRA {p}"),
        "Hitachi": ("3D TOF", "MRA TOF"),
    },
    "dsc": {
        "Siemens": ("ep2d_perf", "ep2d_perf_p2", "PERFUSION", "DSC_perf"),
        "GE": ("{p} PERFUSION", "PWI", "{p} DSC PERFUSION", "{p} GRE-EPI PERF"),
        "Philips": ("PERFUSION", "DSC_perf", "sPERF"),
        "Canon": ("Perfusion", "DSC {p}"),
        "Hitachi": ("PERFUSION", "DSC"),
    },
    "asl": {
        "Siemens": ("asl_2d_tra", "ep2d_pasl", "tgse_pcasl", "pcasl_3d", "ep2d_pcasl"),
        "GE": ("{p} 3D ASL", "3D ASL (non-contrast)", "eASL", "{p} ASL"),
        "Philips": ("pCASL", "SOURCE - pCASL", "ASL", "pCASL_{p}"),
        "Canon": ("ASL {p}", "pCASL"),
        "Hitachi": ("ASL", "ASL {p}"),
    },
    "scout": {
        "Siemens": ("localizer", "AAHead_Scout", "AAHead_Scout_32ch-head-coil", "localizer_3plane", "scout"),
        "GE": ("3-Plane Loc", "3Plane Loc SSFSE", "LOC", "Localizer", "3 PLANE LOC"),
        "Philips": ("Survey", "SURVEY", "SmartBrain_Survey", "sSurvey", "Ref_Head"),
        "Canon": ("Locator", "loc", "Scout"),
        "Hitachi": ("Scanogram", "SCANO", "Pilot"),
    },
}
_POST_MARKERS = {
    "Siemens": ("_post", "_KM", "_+C", "_GD", "_post_contrast", " +C"),
    "GE": (" +C", " POST", " +GAD", " C+", " post"),
    "Philips": ("_Gd", " +C", "_POST", " Gd", "+C"),
    "Canon": (" +C", " Gd", " post"),
    "Hitachi": (" +C", "_Gd", " POST"),
}


def _describe(ctx: _Ctx, key: str, post: bool = False) -> str:
    """A vendor-styled SeriesDescription for naming key ``key`` (post-contrast marked most of the time)."""
    name = ctx.pick(_NAMES[key][ctx.vendor]).format(p=_plane_token(ctx))
    if post and ctx.chance(0.88):
        marker = ctx.pick(_POST_MARKERS[ctx.vendor])
        name = (marker.strip() + " " + name) if ctx.chance(0.12) else name + marker
    return name


# ------------------------------------------------------------------------------------- vendor conventions


def _image_type(ctx: _Ctx, family: str, image: str = "M") -> tuple[str, ...]:
    """ImageType for an ORIGINAL magnitude/phase image of a family ("SE", "IR", "FFE", ...)."""
    v = ctx.vendor
    if v == "Siemens":
        tail = ctx.pick(
            (("ND", "NORM"), ("NORM", "DIS2D"), ("ND",), ("NORM", "DIS3D", "DIS2D")), p=(0.4, 0.3, 0.2, 0.1)
        )
        return ("ORIGINAL", "PRIMARY", image, *tail)
    if v == "GE":
        return ("ORIGINAL", "PRIMARY", "OTHER")
    if v == "Philips":
        return ("ORIGINAL", "PRIMARY", f"{image}_{family}", image, family)
    if v == "Canon":
        return ctx.pick((("ORIGINAL", "PRIMARY", "OTHER"), ("ORIGINAL", "PRIMARY", "MR", family)))
    return ctx.pick((("ORIGINAL", "PRIMARY"), ("ORIGINAL", "PRIMARY", "OTHER")))


def _variant(ctx: _Ctx, siemens: tuple[str, ...]) -> tuple[str, ...]:
    """SequenceVariant: the Siemens-style flags, thinned or replaced as other vendors do."""
    if ctx.vendor in ("Siemens", "GE"):
        return siemens
    if ctx.vendor == "Philips":
        keep = tuple(f for f in siemens if f in ("SK", "MP", "SS", "MTC")) or ("SK",)
        return keep
    return ctx.pick((siemens, ("NONE",)), p=(0.5, 0.5))


def _options(ctx: _Ctx, *flags: str, fat_sat: bool = False) -> tuple[str, ...]:
    """ScanOptions with vendor suffixes (GE ``_GEMS``) and optional fat saturation."""
    opts = list(flags)
    if fat_sat:
        opts.append("FS")
    if ctx.chance(0.3):
        opts.append(ctx.pick(("PFP", "PFF", "SAT1", "SAT2")))
    if ctx.vendor == "GE":
        opts = [o if o in ("FS", "PFP", "PFF", "FC", "SAT1", "SAT2") else o + "_GEMS" for o in opts]
        opts += ctx.pick((["FAST_GEMS", "EDR_GEMS"], ["EDR_GEMS", "FILTERED_GEMS"], ["FAST_GEMS", "ACC_GEMS"]))
    elif ctx.vendor in ("Canon", "Hitachi") and ctx.chance(0.5):
        opts = []
    return tuple(dict.fromkeys(opts))


# ------------------------------------------------------------------------------------------ geometry


def _geometry(ctx: _Ctx, kind: str) -> dict[str, Any]:
    """FOV, matrix, slice thickness and slice count of a geometry class."""
    u, pick = ctx.u, ctx.pick
    if kind == "2d":
        fov, matrix, thick = u(200, 250, 10), pick((256, 256, 320, 384, 448, 512)), pick((3.0, 4.0, 5.0, 5.0, 6.0))
        gap, n = pick((0.0, 0.1, 0.2, 0.3)), int(u(19, 40))
    elif kind == "3d":
        fov, matrix, thick = pick((240.0, 256.0, 250.0)), pick((240, 256, 256, 256)), u(0.8, 1.2, 0.1)
        gap, n = 0.0, int(u(144, 208, 16))
    elif kind == "3d_slab":  # SWI-like 3D axial slab
        fov, matrix, thick = u(210, 240, 10), pick((256, 320, 384)), u(1.0, 2.5, 0.5)
        gap, n = 0.0, int(u(48, 120, 8))
    elif kind == "tof":
        fov, matrix, thick = u(180, 220, 10), pick((320, 384, 448, 512)), u(0.5, 0.8, 0.1)
        gap, n = 0.0, int(u(100, 180, 4))
    elif kind == "epi_dwi":
        fov, matrix, thick = u(220, 250, 10), pick((96, 128, 128, 144, 160, 192)), u(3.0, 5.0, 0.5)
        gap, n = pick((0.0, 0.0, 0.1, 0.2)), int(u(20, 45))
    elif kind == "epi_bold":
        fov, matrix, thick = u(192, 240, 8), pick((64, 64, 72, 80, 96, 104)), u(2.0, 4.0, 0.5)
        gap, n = pick((0.0, 0.0, 0.1, 0.25)), int(u(30, 72))
    elif kind == "lowres":  # ASL, fieldmap
        fov, matrix, thick = u(220, 240, 10), pick((64, 64, 80, 96)), u(3.0, 6.0, 0.5)
        gap, n = pick((0.0, 0.1, 0.25)), int(u(16, 40))
    elif kind == "scout":
        fov, matrix, thick = u(250, 300, 10), pick((128, 160, 192, 256)), u(5.0, 10.0, 1.0)
        gap, n = pick((0.0, 0.5, 1.0)), int(u(1, 5))
    else:
        raise ValueError(f"unknown geometry kind {kind!r}")
    pfov = 1.0 if ctx.chance(0.55) else u(0.75, 0.94, 0.01)
    spacing = fov / matrix
    rows, cols = matrix, matrix
    if pfov < 1.0 and ctx.orientation in ("AX", "COR"):  # rectangular FOV: the head is narrower left-right
        cols = int(round(max(matrix * pfov, 185.0 / spacing) / 2) * 2)  # but never narrower than a head
        cols = min(cols, matrix)
    return {
        "pixel_spacing": (round(spacing, 4), round(spacing, 4)),
        "rows": rows,
        "columns": cols,
        "slice_thickness": thick,
        "spacing_between_slices": round(thick * (1.0 + gap), 3),
        "n_slices": max(1, n),
        "percent_phase_fov": round(100.0 * cols / rows, 2),
        "phase_direction": "ROW" if ctx.orientation in ("AX", "OBL") else "COL",
    }


# --------------------------------------------------------------------------------------------- recipes
# Each recipe returns the sequence-specific Protocol fields; _finish fills in the rest.

Recipe = Callable[[_Ctx], dict[str, Any]]


def _se_t1(ctx: _Ctx) -> dict[str, Any]:
    tse = ctx.chance(0.5)
    tr, te = ctx.u(400, 900 if ctx.hi else 800, 10), ctx.u(8, 20, 0.5)
    etl = int(ctx.u(2, 5)) if tse else 1
    post = ctx.sequence == "T1C"
    return dict(
        technique="tse" if tse else "se",
        signal_model="se",
        name="t1_se",
        geometry="2d",
        scanning_sequence=("SE",),
        sequence_variant=_variant(ctx, ("SK", "SP", "OSP") if tse else ("SP",)),
        scan_options=_options(ctx, fat_sat=post and ctx.chance(0.35)),
        family="SE",
        sequence_name=f"*tse2d1_{etl}" if tse else "*se2d1",
        tr=tr,
        te=te,
        ti=None,
        flip=ctx.pick((90.0, 90.0, 70.0, 150.0)) if tse else 90.0,
        etl=etl,
        physics={"tr": tr, "te": te, "etl": etl},
    )


def _csf_null_ti(ctx: _Ctx, tr: float) -> float:
    """Inversion time that nulls CSF (T1 ~ 3.8-4.3 s) at this TR: T1 ln(2 / (1 + exp(-TR/T1))), +-3 %."""
    t1_csf = ctx.u(3800, 4300)
    return t1_csf * float(np.log(2.0 / (1.0 + np.exp(-tr / t1_csf)))) * ctx.u(0.97, 1.03, 0.001)


def _t1_flair(ctx: _Ctx) -> dict[str, Any]:
    tr, te = ctx.u(1800, 2800, 10), ctx.u(8, 25, 0.5)
    ti = _csf_null_ti(ctx, tr)  # ~ 800-1150 ms: dark CSF and strong grey/white contrast
    etl = int(ctx.u(4, 10))
    return dict(
        technique="ir_se",
        signal_model="ir",
        name="t1_flair",
        geometry="2d",
        scanning_sequence=("SE", "IR"),
        sequence_variant=_variant(ctx, ("SK", "SP", "MP", "OSP")),
        scan_options=_options(ctx, "IR"),
        family="IR",
        sequence_name=f"*tir2d1_{etl}",
        tr=tr,
        te=te,
        ti=round(ti),
        flip=90.0,
        etl=etl,
        physics={"tr": tr, "te": te, "ti": round(ti)},
    )


def _mprage(ctx: _Ctx) -> dict[str, Any]:
    ti = ctx.u(600, 1100, 10) if ctx.vendor != "GE" else ctx.u(400, 650, 10)
    esp, flip = ctx.u(6.0, 10.0, 0.1), ctx.u(7, 12)
    shot = ctx.u(1600, 2500, 10)
    te = ctx.u(2.0, 4.6, 0.01)
    scan_seq: tuple[str, ...]
    var: tuple[str, ...]
    if ctx.vendor == "Siemens":
        tr_hdr, scan_seq, var, seq_name = shot, ("GR", "IR"), ("SK", "SP", "MP"), "*tfl3d1_16ns"
    elif ctx.vendor == "GE":
        tr_hdr, scan_seq, var, seq_name = esp, ("GR",), ("SS", "SK"), "efgre3d"
    elif ctx.vendor == "Philips":
        tr_hdr, scan_seq, var, seq_name = esp, ("GR",), ("MP",), "T1TFE"
    else:
        tr_hdr, scan_seq, var, seq_name = ctx.pick((shot, esp)), ("GR", "IR"), ("SK", "SP", "MP"), "3D_MPRAGE"
    report_ti = ti if ctx.vendor != "Philips" or ctx.chance(0.5) else None
    return dict(
        technique="mprage",
        signal_model="mprage",
        name="t1_3d",
        geometry="3d",
        scanning_sequence=scan_seq,
        sequence_variant=_variant(ctx, var),
        scan_options=_options(ctx, "IR"),
        family="FFE" if ctx.vendor == "Philips" else "IR",
        sequence_name=seq_name,
        acquisition="3D",
        tr=tr_hdr,
        te=te,
        ti=report_ti,
        flip=flip,
        etl=1 if ctx.vendor == "Siemens" else int(ctx.u(128, 256, 8)),
        physics={"ti": ti, "tr_shot": shot, "esp": esp, "flip": flip, "te": te, "n_exc": 176.0},
    )


def _spgr(ctx: _Ctx) -> dict[str, Any]:
    three_d = ctx.chance(0.65)
    if three_d:
        tr, te, flip = ctx.u(5.0, 25.0, 0.1), ctx.u(1.8, 6.0, 0.01), ctx.u(12, 30)
    else:  # 2D FLASH T1: moderate TR, large flip
        tr, te, flip = ctx.u(150, 350, 1), ctx.u(2.4, 5.0, 0.01), ctx.u(60, 80)
    return dict(
        technique="spgr3d" if three_d else "gre2d_t1",
        signal_model="spgr",
        name="t1_gre",
        geometry="3d" if three_d else "2d",
        acquisition="3D" if three_d else "2D",
        scanning_sequence=("GR",),
        sequence_variant=_variant(ctx, ("SP",) if ctx.chance(0.5) else ("SK", "SP")),
        scan_options=_options(ctx, fat_sat=ctx.sequence == "T1C" and ctx.chance(0.4)),
        family="FFE",
        sequence_name="*fl3d1" if three_d else "*fl2d1",
        tr=tr,
        te=te,
        ti=None,
        flip=flip,
        etl=1,
        physics={"tr": tr, "te": te, "flip": flip},
    )


def _t2(ctx: _Ctx) -> dict[str, Any]:
    style = ctx.pick(("tse", "tse", "tse", "tse_3d", "haste"))
    physics_tr = None
    if style == "tse_3d":
        tr, te, etl = ctx.u(2500, 3200, 10), ctx.u(300, 450, 1), int(ctx.u(100, 250))
        physics_te = ctx.u(90, 130, 1)  # effective T2 weighting of the variable-flip echo train
        geometry, name, acq, seq_name = "3d", "t2_3d", "3D", "*spc_314ns"
    elif style == "haste":
        tr, te, etl = ctx.u(1000, 2200, 10), ctx.u(80, 120, 1), int(ctx.u(64, 160))
        physics_te, geometry, name, acq, seq_name = te, "2d", "t2", "2D", "*haste_120"
        physics_tr = 10000.0  # single shot: each slice is excited once, from full recovery
    else:
        tr, te, etl = ctx.u(2500, 7000 if ctx.hi else 6000, 10), ctx.u(80, 120, 1), int(ctx.u(8, 25))
        physics_te, geometry, name, acq, seq_name = te, "2d", "t2", "2D", f"*tse2d1_{etl}"
    return dict(
        technique=style,
        signal_model="se",
        name=name,
        geometry=geometry,
        acquisition=acq,
        scanning_sequence=("SE",),
        sequence_variant=_variant(ctx, ("SK", "SP", "OSP")),
        scan_options=_options(ctx, fat_sat=ctx.chance(0.1)),
        family="SE",
        sequence_name=seq_name,
        tr=tr,
        te=te,
        ti=None,
        flip=ctx.pick((90.0, 150.0, 120.0)) if acq == "2D" else 120.0,
        etl=etl,
        physics={"tr": physics_tr or tr, "te": physics_te, "etl": etl},
    )


def _pd(ctx: _Ctx) -> dict[str, Any]:
    tr, te, etl = ctx.u(2000, 4500, 10), ctx.u(8, 35, 0.5), int(ctx.u(3, 12))
    return dict(
        technique="tse",
        signal_model="se",
        name="pd",
        geometry="2d",
        scanning_sequence=("SE",),
        sequence_variant=_variant(ctx, ("SK", "SP", "OSP")),
        scan_options=_options(ctx, fat_sat=ctx.chance(0.15)),
        family="SE",
        sequence_name=f"*tse2d1_{etl}",
        tr=tr,
        te=te,
        ti=None,
        flip=90.0,
        etl=etl,
        physics={"tr": tr, "te": te, "etl": etl},
    )


def _flair(ctx: _Ctx) -> dict[str, Any]:
    if ctx.chance(0.3):  # 3D SPACE/CUBE/VISTA FLAIR
        tr = ctx.u(4800, 7000, 10)
        ti = float(np.clip(_csf_null_ti(ctx, tr), 1600, 2200))
        te = ctx.u(300, 450, 1) if ctx.vendor == "Siemens" else ctx.u(90, 140, 1)
        etl, physics_te, geometry, name, acq, seq_name = (
            int(ctx.u(140, 280)),
            ctx.u(90, 130, 1),
            "3d",
            "flair_3d",
            "3D",
            "*spcir_278ns",
        )
    else:
        tr = ctx.u(6000, 11000, 10)
        ti = float(np.clip(_csf_null_ti(ctx, tr), 1800, 2800))  # ~ 1.9-2.6 s
        te = ctx.u(80, 140, 1)
        etl, physics_te, geometry, name, acq, seq_name = int(ctx.u(12, 28)), te, "2d", "flair", "2D", "*tir2d1_16"
    return dict(
        technique="tse_ir",
        signal_model="ir",
        name=name,
        geometry=geometry,
        acquisition=acq,
        scanning_sequence=("SE", "IR"),
        sequence_variant=_variant(ctx, ("SK", "SP", "MP", "OSP")),
        scan_options=_options(ctx, "IR", fat_sat=ctx.chance(0.15)),
        family="IR",
        sequence_name=seq_name,
        tr=tr,
        te=te,
        ti=ti,
        flip=ctx.pick((90.0, 150.0, 120.0)) if acq == "2D" else 120.0,
        etl=etl,
        physics={"tr": tr, "te": physics_te, "ti": ti},
    )


def _t2star(ctx: _Ctx) -> dict[str, Any]:
    tr, flip = ctx.u(400, 900, 5), ctx.u(15, 25)
    te = ctx.u(15, 22, 0.5) if ctx.hi else ctx.u(20, 30, 0.5)
    return dict(
        technique="gre2d",
        signal_model="gre",
        name="t2star",
        geometry="2d",
        scanning_sequence=("GR",),
        sequence_variant=_variant(ctx, ("SP",)),
        scan_options=_options(ctx),
        family="FFE",
        sequence_name="*fl2d1",
        tr=tr,
        te=te,
        ti=None,
        flip=flip,
        etl=1,
        physics={"tr": tr, "te": te, "flip": flip},
    )


def _swi(ctx: _Ctx) -> dict[str, Any]:
    tr, flip = ctx.u(25, 50, 0.5), ctx.u(12, 20)
    te = ctx.u(18, 25, 0.5) if ctx.hi else ctx.u(35, 45, 0.5)
    image = ctx.pick(("magnitude", "phase", "swi", "mnip"), p=(0.25, 0.2, 0.3, 0.25))
    if ctx.vendor == "Siemens":
        image_type = {
            "magnitude": ("ORIGINAL", "PRIMARY", "M", "SWI", "NORM", "DIS2D"),
            "phase": ("ORIGINAL", "PRIMARY", "P", "SWI", "ND"),
            "swi": ("DERIVED", "PRIMARY", "SWI", "NORM", "DIS2D"),
            "mnip": ("DERIVED", "PRIMARY", "MNIP", "SWI", "NORM", "DIS2D"),
        }[image]
        suffix = {"magnitude": "_Mag", "phase": "_Pha", "swi": "_SWI_Images", "mnip": "_mIP_Images(SW)"}[image]
    elif ctx.vendor == "Philips":
        image_type = {
            "magnitude": ("ORIGINAL", "PRIMARY", "M_FFE", "M", "FFE"),
            "phase": ("ORIGINAL", "PRIMARY", "P_FFE", "P", "FFE"),
            "swi": ("DERIVED", "PRIMARY", "SWI", "SWI"),
            "mnip": ("DERIVED", "PRIMARY", "MNIP", "SWI"),
        }[image]
        suffix = {"magnitude": "", "phase": "_Pha", "swi": "", "mnip": " mIP"}[image]
    else:
        image_type = {
            "magnitude": ("ORIGINAL", "PRIMARY", "M", "SWI"),
            "phase": ("ORIGINAL", "PRIMARY", "P", "PHASE"),
            "swi": ("ORIGINAL", "PRIMARY", "SWI"),
            "mnip": ("DERIVED", "SECONDARY", "REFORMATTED", "MNIP"),
        }[image]
        suffix = {"magnitude": "", "phase": " Phase", "swi": "", "mnip": " MinIP"}[image]
    return dict(
        technique="swi3d",
        signal_model="swi",
        image=image,
        name="swi",
        geometry="3d_slab",
        acquisition="3D",
        scanning_sequence=("GR",),
        sequence_variant=_variant(ctx, ("SP",)),
        scan_options=_options(ctx, "FC"),
        family="FFE",
        sequence_name="*swi3d1r",
        image_type=image_type,
        name_suffix=suffix,
        tr=tr,
        te=te,
        ti=None,
        flip=flip,
        etl=1,
        physics={"tr": tr, "te": te, "flip": flip},
    )


def _epi_dwi_common(ctx: _Ctx) -> dict[str, Any]:
    tr = ctx.u(3000, 10000, 100)
    te = ctx.u(55, 85, 1) if ctx.hi else ctx.u(70, 110, 1)
    scan_seq = ("EP",) if ctx.vendor == "Siemens" else ctx.pick((("EP", "SE"), ("SE", "EP"), ("EP",)))
    return dict(
        signal_model="dwi",
        name="dwi",
        geometry="epi_dwi",
        scanning_sequence=scan_seq,
        sequence_variant=_variant(ctx, ("SK", "SP")),
        scan_options=_options(ctx, "PFP", fat_sat=True),
        family="SE",
        sequence_name="*ep_b1000#1",
        tr=tr,
        te=te,
        ti=None,
        flip=90.0,
        etl=int(ctx.u(48, 128)),
        epi=True,
    )


def _dwi(ctx: _Ctx) -> dict[str, Any]:
    base = _epi_dwi_common(ctx)
    image = ctx.pick(("trace", "b0", "direction"), p=(0.55, 0.2, 0.25))
    b = 0.0 if image == "b0" else ctx.pick((1000.0, 1000.0, 1000.0, 800.0, 1500.0, 2000.0, 3000.0, 500.0))
    image_type: tuple[str, ...]
    if ctx.vendor == "Siemens":
        image_type = (
            ("DERIVED", "PRIMARY", "DIFFUSION", "TRACEW", "ND")
            if image == "trace"
            else ("ORIGINAL", "PRIMARY", "DIFFUSION", "NONE", "ND", "MOSAIC")
        )
        suffix = {"trace": "_TRACEW", "b0": "", "direction": ""}[image] if ctx.chance(0.5) else ""
    elif ctx.vendor == "Philips":
        image_type = (
            ("DERIVED", "PRIMARY", "DIFFUSION", "ISOTROPIC")
            if image == "trace"
            else ("ORIGINAL", "PRIMARY", "M_SE", "M", "SE")
        )
        suffix = ""
    else:
        image_type, suffix = _image_type(ctx, "SE") + (("DIFFUSION",) if ctx.chance(0.3) else ()), ""
    n_dirs = 1 if image != "direction" else int(ctx.pick((6, 12, 20, 30, 32, 64)))
    base.update(
        technique="epi_dwi",
        image=image,
        image_type=image_type,
        name_suffix=suffix,
        b=b,
        n_volumes=(2 if image != "direction" else n_dirs + 1),
        physics={"tr": base["tr"], "te": base["te"], "b": b},
    )
    return base


def _adc(ctx: _Ctx) -> dict[str, Any]:
    base = _epi_dwi_common(ctx)
    image_type = {
        "Siemens": ("DERIVED", "PRIMARY", "DIFFUSION", "ADC", "ND"),
        "GE": ("DERIVED", "SECONDARY", "ADC", "ADC"),
        "Philips": ("DERIVED", "PRIMARY", "ADC_SE", "ADC", "SE"),
    }.get(ctx.vendor, ("DERIVED", "SECONDARY", "ADC"))
    suffix = ctx.pick(("_ADC", " ADC", "_ADC", " Apparent Diffusion Coefficient (mm2/s)", "_dADC"))
    base.update(
        technique="epi_dwi",
        signal_model="adc",
        image="adc",
        image_type=image_type,
        name_suffix=suffix,
        b=ctx.pick((1000.0, None)),
        physics={"tr": base["tr"], "te": base["te"]},
    )
    return base


def _dti_map(ctx: _Ctx) -> dict[str, Any]:
    base = _epi_dwi_common(ctx)
    image = ctx.pick(("fa", "colfa"), p=(0.7, 0.3))
    image_type = {
        "Siemens": ("DERIVED", "PRIMARY", "DIFFUSION", "FA", "ND")
        if image == "fa"
        else ("DERIVED", "PRIMARY", "DIFFUSION", "FA", "ND", "COLOR"),
        "GE": ("DERIVED", "SECONDARY", "FA"),
        "Philips": ("DERIVED", "PRIMARY", "FA", "FA"),
    }.get(ctx.vendor, ("DERIVED", "SECONDARY", "FA"))
    suffix = "_FA" if image == "fa" else "_ColFA"
    base.update(
        technique="epi_dti",
        signal_model="fa",
        image=image,
        image_type=image_type,
        name_suffix=suffix,
        b=None,
        n_volumes=1,
        physics={"tr": base["tr"], "te": base["te"]},
    )
    return base


def _bold(ctx: _Ctx) -> dict[str, Any]:
    tr = ctx.u(500, 3000, 10)
    te = ctx.u(25, 35, 1) if ctx.hi else ctx.u(35, 50, 1)
    flip = ctx.u(50, 90) if tr > 1200 else ctx.u(35, 62)
    image_type = {
        "Siemens": ctx.pick(
            (
                ("ORIGINAL", "PRIMARY", "M", "ND", "MOSAIC"),
                ("ORIGINAL", "PRIMARY", "FMRI", "NONE", "ND", "MOSAIC"),
                ("DERIVED", "PRIMARY", "M", "ND", "MOCO", "MOSAIC"),
            )
        ),
        "GE": ("ORIGINAL", "PRIMARY", "EPI", "NONE"),
        "Philips": ("ORIGINAL", "PRIMARY", "M_FFE", "M", "FFE"),
    }.get(ctx.vendor, ("ORIGINAL", "PRIMARY", "OTHER"))
    return dict(
        technique="epi_bold",
        signal_model="bold",
        name="bold",
        geometry="epi_bold",
        scanning_sequence=("EP",) if ctx.vendor == "Siemens" else ctx.pick((("EP", "GR"), ("GR", "EP"), ("EP",))),
        sequence_variant=_variant(ctx, ("SK", "SS")),
        scan_options=_options(ctx, fat_sat=True),
        family="FFE",
        sequence_name="*epfid2d1_64",
        image_type=image_type,
        tr=tr,
        te=te,
        ti=None,
        flip=flip,
        etl=int(ctx.u(32, 96)),
        epi=True,
        n_volumes=int(ctx.u(100, 600, 10)),
        physics={"tr": tr, "te": te, "flip": flip},
    )


def _perfusion(ctx: _Ctx) -> dict[str, Any]:
    if ctx.chance(0.45):  # DSC: T2*-weighted GRE-EPI during a gadolinium bolus
        tr = ctx.u(1000, 2000, 10)
        te = ctx.u(25, 35, 1) if ctx.hi else ctx.u(35, 50, 1)
        image = ctx.pick(("dsc_raw", "rcbv"), p=(0.7, 0.3))
        image_type = {
            "Siemens": ("ORIGINAL", "PRIMARY", "PERFUSION", "NONE", "ND", "MOSAIC")
            if image == "dsc_raw"
            else ("DERIVED", "PRIMARY", "PERFUSION", "RELCBV"),
            "Philips": ("ORIGINAL", "PRIMARY", "M_FFE", "M", "FFE")
            if image == "dsc_raw"
            else ("DERIVED", "PRIMARY", "CBV"),
        }.get(ctx.vendor, ("ORIGINAL", "PRIMARY", "OTHER") if image == "dsc_raw" else ("DERIVED", "PRIMARY", "RCBV"))
        return dict(
            technique="epi_dsc",
            signal_model="dsc",
            image=image,
            name="dsc",
            geometry="epi_bold",
            scanning_sequence=("EP",) if ctx.vendor == "Siemens" else ("EP", "GR"),
            sequence_variant=_variant(ctx, ("SK", "SS")),
            scan_options=_options(ctx, fat_sat=True),
            family="FFE",
            sequence_name="*epfid2d1_128",
            image_type=image_type,
            name_suffix="" if image == "dsc_raw" else "_rCBV",
            tr=tr,
            te=te,
            ti=None,
            flip=ctx.u(60, 90),
            etl=int(ctx.u(48, 96)),
            epi=True,
            n_volumes=int(ctx.u(40, 120)) if image == "dsc_raw" else 1,
            contrast_agent=True,
            physics={"tr": tr, "te": te, "flip": 90.0, "bolus": ctx.u(0.0, 1.0, 0.01)},
        )
    # ASL: pulsed / pseudo-continuous labelling, 2D EPI or 3D GRASE / spiral FSE readout
    pld = ctx.u(1500, 2025, 25)
    image = ctx.pick(("asl_raw", "pwi", "cbf"), p=(0.4, 0.3, 0.3))
    three_d = ctx.vendor == "GE" or ctx.chance(0.3)
    image_type = {
        "asl_raw": ("ORIGINAL", "PRIMARY", "ASL", "NONE", "ND", "MOSAIC")
        if ctx.vendor == "Siemens"
        else ("ORIGINAL", "PRIMARY", "ASL"),
        "pwi": ("DERIVED", "PRIMARY", "ASL", "PERFUSION", "SUBTRACTION"),
        "cbf": ("DERIVED", "PRIMARY", "ASL", "RCBF") if ctx.vendor == "Siemens" else ("DERIVED", "PRIMARY", "CBF"),
    }[image]
    tr = ctx.u(3500, 5500, 50) if not three_d else ctx.u(4500, 5500, 50)
    return dict(
        technique="asl",
        signal_model="asl",
        image=image,
        name="asl",
        geometry="lowres",
        acquisition="3D" if three_d else "2D",
        scanning_sequence=("EP",) if not three_d else ("SE", "EP") if ctx.vendor == "Siemens" else ("RM",),
        sequence_variant=_variant(ctx, ("SK",)),
        scan_options=_options(ctx, fat_sat=True),
        family="SE",
        sequence_name="*tgse3d1_16" if three_d else "*epfid2d1_64",
        image_type=image_type,
        name_suffix={"asl_raw": "", "pwi": "_Perfusion_Weighted", "cbf": "_relCBF"}[image],
        tr=tr,
        te=ctx.u(10, 20, 0.5) if three_d else ctx.u(12, 20, 0.5),
        ti=pld,
        flip=90.0,
        etl=int(ctx.u(8, 64)),
        epi=not three_d,
        n_volumes=int(ctx.u(10, 80, 2)) if image == "asl_raw" else 1,
        physics={"pld": pld, "label_duration": ctx.u(1400, 1800, 50), "phase": float(ctx.chance(0.5))},
    )


def _tof(ctx: _Ctx) -> dict[str, Any]:
    tr, te, flip = ctx.u(18, 40, 0.5), ctx.u(2.5, 7.0, 0.05), ctx.u(15, 25)
    mip = ctx.chance(0.35)
    if mip:
        image_type = {
            "Siemens": ("DERIVED", "PRIMARY", "MIP", "ND", "RADIAL"),
            "GE": ("DERIVED", "SECONDARY", "REFORMATTED", "MIP"),
            "Philips": ("DERIVED", "PRIMARY", "PROJECTION IMAGE", "MIP"),
        }.get(ctx.vendor, ("DERIVED", "SECONDARY", "MIP"))
    else:
        image_type = _image_type(ctx, "FFE")
    return dict(
        technique="tof3d",
        signal_model="tof",
        image="mip" if mip else "magnitude",
        name="tof",
        geometry="tof",
        acquisition="3D",
        scanning_sequence=("GR",),
        sequence_variant=_variant(ctx, ("SK", "SP", "OSP", "MTC")),
        scan_options=_options(ctx, "SAT2", "TOF" if ctx.vendor == "GE" else "SAT2"),
        family="FFE",
        sequence_name="*fl3d1r_t70",
        image_type=image_type,
        name_suffix=ctx.pick(("_MIP_SAG", "_MIP_COR", " MIP")) if mip else "",
        tr=tr,
        te=te,
        ti=None,
        flip=flip,
        etl=1,
        physics={"tr": tr, "te": te, "flip": flip},
    )


def _fieldmap(ctx: _Ctx) -> dict[str, Any]:
    te1 = ctx.u(4.0, 5.2, 0.01)
    dte = 2.46 if ctx.hi and ctx.vendor == "Siemens" else ctx.u(1.0, 2.5, 0.01)
    image = ctx.pick(("magnitude", "phase"), p=(0.55, 0.45))
    tr, flip = ctx.u(400, 750, 1), ctx.u(45, 60)
    image_type: tuple[str, ...]
    if ctx.vendor == "Siemens":
        image_type = ("ORIGINAL", "PRIMARY", "M" if image == "magnitude" else "P", "ND")
    elif ctx.vendor == "Philips":
        image_type = (
            ("ORIGINAL", "PRIMARY", "M_FFE", "M", "FFE")
            if image == "magnitude"
            else ("ORIGINAL", "PRIMARY", "B0 MAP", "B0", "UNSPECIFIED")
        )
    else:
        image_type = ("ORIGINAL", "PRIMARY", "OTHER")
    return dict(
        technique="gre_fieldmap",
        signal_model="fieldmap",
        image=image,
        name="fieldmap",
        geometry="lowres",
        scanning_sequence=("GR",),
        sequence_variant=_variant(ctx, ("SP",)),
        scan_options=_options(ctx),
        family="FFE",
        sequence_name="*fm2d2r",
        image_type=image_type,
        tr=tr,
        te=round(te1 + dte, 2) if image == "phase" else te1,
        ti=None,
        flip=flip,
        etl=1,
        physics={"tr": tr, "te": te1, "te2": round(te1 + dte, 2), "flip": flip},
    )


def _scout(ctx: _Ctx) -> dict[str, Any]:
    ssfp = ctx.chance(0.3)
    tr, te, flip = (
        (ctx.u(3.0, 5.0, 0.01), ctx.u(1.2, 2.5, 0.01), ctx.u(40, 70))
        if ssfp
        else (ctx.u(7.0, 20.0, 0.1), ctx.u(2.5, 5.0, 0.01), ctx.u(15, 40))
    )
    image_type = {
        "Siemens": ("ORIGINAL", "PRIMARY", "M", "NORM", "DIS2D"),
        "GE": ("ORIGINAL", "PRIMARY", "LOCALIZER"),
        "Philips": ("ORIGINAL", "PRIMARY", "M_FFE", "M", "FFE"),
    }.get(ctx.vendor, ("ORIGINAL", "PRIMARY", "LOCALIZER"))
    return dict(
        technique="ssfp_scout" if ssfp else "gre_scout",
        signal_model="scout",
        name="scout",
        geometry="scout",
        scanning_sequence=("GR",),
        sequence_variant=_variant(ctx, ("SP",) if not ssfp else ("SK",)),
        scan_options=_options(ctx),
        family="FFE",
        sequence_name="*fl2d1" if not ssfp else "*tfi2d1",
        image_type=image_type,
        tr=tr,
        te=te,
        ti=None,
        flip=flip,
        etl=1,
        physics={"tr": tr, "te": te, "flip": flip, "ssfp": float(ssfp)},
    )


def _other(ctx: _Ctx) -> dict[str, Any]:
    kind = ctx.pick(("screen", "spectrum", "qmap", "noise"), p=(0.3, 0.25, 0.3, 0.15))
    names = {
        "screen": ("PhoenixZIPReport", "Screen Save", "Dose Report", "Evidence Document", "MR Report"),
        "spectrum": ("SpectroscopySVS", "svs_se_30", "MRS PRESS TE30", "CSI_SE_135", "PROBE-SV 35"),
        "qmap": ("T2 Map", "T2_map_MSME", "T2map_SyMRI", "MESE_T2_MAP"),
        "noise": ("noise_scan", "Research_seq", "Prescan", "coil_check", "unknown_research"),
    }[kind]
    image_type = {
        "screen": ("DERIVED", "SECONDARY", "SCREEN SAVE"),
        "spectrum": ("DERIVED", "SECONDARY", "SPECTROSCOPY"),
        "qmap": ("DERIVED", "PRIMARY", "T2 MAP"),
        "noise": ("ORIGINAL", "PRIMARY", "OTHER"),
    }[kind]
    tr, te = ctx.u(1000, 3000, 10), ctx.u(10, 150, 1)
    return dict(
        technique=kind,
        signal_model="other",
        image=kind,
        name=None,
        description=ctx.pick(names),
        geometry="lowres" if kind != "screen" else "scout",
        scanning_sequence=ctx.pick((("SE",), ("GR",), ("RM",))),
        sequence_variant=("NONE",),
        scan_options=(),
        family="SE",
        sequence_name=ctx.pick(("*svs_se", "*csi_se", "*mdme", "*se_mc")),
        image_type=image_type,
        tr=tr,
        te=te,
        ti=None,
        flip=90.0,
        etl=1,
        physics={"tr": tr, "te": te},
    )


_RECIPES: dict[str, tuple[tuple[float, Recipe], ...]] = {
    "T1": ((0.35, _se_t1), (0.12, _t1_flair), (0.38, _mprage), (0.15, _spgr)),
    "T1C": ((0.35, _se_t1), (0.05, _t1_flair), (0.4, _mprage), (0.2, _spgr)),
    "T2": ((1.0, _t2),),
    "FLAIR": ((1.0, _flair),),
    "PD": ((1.0, _pd),),
    "T2STAR": ((1.0, _t2star),),
    "SWI": ((1.0, _swi),),
    "DWI": ((1.0, _dwi),),
    "ADC": ((1.0, _adc),),
    "DTI_MAP": ((1.0, _dti_map),),
    "PERFUSION": ((1.0, _perfusion),),
    "MRA": ((1.0, _tof),),
    "BOLD": ((1.0, _bold),),
    "FIELDMAP": ((1.0, _fieldmap),),
    "SCOUT": ((1.0, _scout),),
    "OTHER": ((1.0, _other),),
}


# ------------------------------------------------------------------------------------------- sampling


def _pick_field_strength(ctx_rng: np.random.Generator, vendor: str) -> float:
    options = [b for (v, b) in _MODELS if v == vendor]
    weights = np.array([{1.2: 0.15, 1.5: 0.5, 3.0: 0.5}[b] for b in options])
    return float(options[int(ctx_rng.choice(len(options), p=weights / weights.sum()))])


def _finish(ctx: _Ctx, spec: dict[str, Any]) -> Protocol:
    """Fill the common fields (scanner, names, geometry, image type) around a recipe's output."""
    models = (
        _MODELS.get((ctx.vendor, ctx.b0))
        or _MODELS[(ctx.vendor, min((b for v, b in _MODELS if v == ctx.vendor), key=lambda b: abs(b - ctx.b0)))]
    )
    post = ctx.sequence == "T1C" or bool(spec.get("contrast_agent"))
    if spec.get("name"):
        description = _describe(ctx, spec["name"], post=ctx.sequence == "T1C") + spec.get("name_suffix", "")
    else:
        description = spec["description"]
    protocol_name = description if ctx.chance(0.7) else description.replace(" ", "_").upper()
    geometry = _geometry(ctx, spec["geometry"])
    if spec.get("epi"):
        geometry["phase_direction"] = "COL"
    pf = 1.0 if ctx.chance(0.5) else ctx.pick((7 / 8, 6 / 8, 5 / 8) if spec.get("epi") else (7 / 8, 6 / 8))
    bandwidth = ctx.u(1300, 2300, 2) if spec.get("epi") else ctx.u(80, 400, 1)
    image_type = spec.get("image_type") or _image_type(ctx, spec["family"])
    agent = ctx.pick(_CONTRAST_AGENTS) if post else None
    contrast = "post" if post else DEFAULT_CONTRAST[ctx.sequence]
    return Protocol(
        sequence=ctx.sequence,
        technique=spec["technique"],
        signal_model=spec["signal_model"],
        image=spec.get("image", "magnitude"),
        orientation=ctx.orientation,
        vendor=ctx.vendor,
        manufacturer=ctx.pick(_MANUFACTURER[ctx.vendor]),
        model_name=ctx.pick(models),
        field_strength=ctx.b0,
        series_description=description,
        protocol_name=protocol_name,
        image_type=tuple(image_type),
        scanning_sequence=tuple(spec["scanning_sequence"]),
        sequence_variant=tuple(spec["sequence_variant"]),
        scan_options=tuple(spec["scan_options"]),
        sequence_name=spec["sequence_name"],
        acquisition_type=spec.get("acquisition", "2D"),
        repetition_time=round(float(spec["tr"]), 2),
        echo_time=round(float(spec["te"]), 2),
        inversion_time=None if spec.get("ti") is None else round(float(spec["ti"]), 1),
        flip_angle=float(spec["flip"]),
        echo_train_length=int(spec["etl"]),
        b_value=spec.get("b"),
        contrast_agent=agent,
        n_volumes=int(spec.get("n_volumes", 1)),
        pixel_bandwidth=bandwidth,
        n_averages=float(ctx.pick((1, 1, 1, 2))) if not spec.get("epi") else 1.0,
        partial_fourier=round(pf, 4),
        epi=bool(spec.get("epi", False)),
        contrast=contrast,
        physics={k: float(v) for k, v in spec.get("physics", {}).items()},
        **geometry,
    )


def sample_protocol(
    sequence: str,
    rng: np.random.Generator,
    *,
    vendor: str | None = None,
    field_strength: float | None = None,
    orientation: str | None = None,
) -> Protocol:
    """Draw a realistic protocol for a radclass sequence class.

    Parameters
    ----------
    sequence:
        One of :data:`radclass.taxonomy.SEQUENCES`.
    rng:
        Source of randomness (the only one used, so a seeded generator reproduces the protocol).
    vendor:
        Siemens, GE, Philips, Canon or Hitachi; drawn by market share when None.
    field_strength:
        Tesla (1.5 or 3.0 typically; Hitachi also 1.2); drawn for the vendor when None.
    orientation:
        AX/COR/SAG/OBL, used for names and the phase direction; drawn from the class's usual planes when None.

    Returns
    -------
    Protocol
        Header values in the ranges documented at the top of this module, plus ``physics`` parameters.
    """
    if sequence not in SEQUENCES:
        raise ValueError(f"unknown sequence {sequence!r}; expected one of {SEQUENCES}")
    if vendor is None:
        vendor = VENDORS[int(rng.choice(len(VENDORS), p=_VENDOR_WEIGHTS))]
    if vendor not in VENDORS:
        raise ValueError(f"unknown vendor {vendor!r}; expected one of {VENDORS}")
    b0 = float(field_strength) if field_strength is not None else _pick_field_strength(rng, vendor)
    if orientation is None:
        weights = np.asarray(PLANE_WEIGHTS[sequence])
        orientation = ORIENTATIONS[int(rng.choice(len(ORIENTATIONS), p=weights / weights.sum()))]
    if orientation not in ORIENTATIONS:
        raise ValueError(f"unknown orientation {orientation!r}; expected one of {ORIENTATIONS}")
    ctx = _Ctx(rng=rng, vendor=vendor, b0=b0, orientation=orientation, sequence=sequence)
    recipes = _RECIPES[sequence]
    weights = np.array([w for w, _ in recipes])
    recipe = recipes[int(rng.choice(len(recipes), p=weights / weights.sum()))][1]
    return _finish(ctx, recipe(ctx))


def with_orientation(protocol: Protocol, orientation: str) -> Protocol:
    """The same protocol acquired in another plane (names keep their original plane token)."""
    return replace(protocol, orientation=orientation)
