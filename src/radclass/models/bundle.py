"""The one model bundle type: a folder with ``bundle.json``, the model files it names, and a model card.

Every consumer loads its models through :class:`ModelBundle`: ``radclass annotate`` (header forest + slice CNN),
``radclass predict`` (a diagnostic image classifier), ``radclass explain`` and the review page (the CNN's torch
weights), the DICOM listener and training (fine-tuning from a base bundle). ``bundle.json`` is read into
:class:`BundleMetadata`, whose parts are validated when they are built:

* :class:`Classes`: the output classes of each head (``classes``, ``orient_classes``, ``forest_classes``) and the
  ``positive`` class of a diagnostic model;
* :class:`Preprocessing`: how images become network inputs (``input_size``, ``slices_per_series``; a diagnostic
  bundle's ``preprocess`` table: ``load_size``, ``channels``, ``window``, ``mean``/``std``);
* :class:`Fusion` and :class:`Thresholds`: the log-linear pool of the forest and the CNN, and the abstention
  thresholds (``bundle.json``'s ``fusion`` table);
* the model files (``cnn``, ``forest``, ``onnx``, ``torch_weights``, ``sklearn_forest``), opened on first use,
  ONNX ones through :func:`onnx_session`.

Nothing here imports torch: loading the torch weights is left to :mod:`radclass.explain.run`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from radclass.config import BUNDLED_DIR
from radclass.values import is_missing

if TYPE_CHECKING:
    from radclass.features.diffusion import DiffusionReading

__all__ = [
    "DEFAULT_BUNDLE",
    "BundleError",
    "BundleMetadata",
    "BundleNotFoundError",
    "Channels",
    "Classes",
    "ContrastEnhancement",
    "Fusion",
    "ModelBundle",
    "Preprocessing",
    "Thresholds",
    "onnx_session",
    "write_bundle_json",
]

DEFAULT_BUNDLE = "mri-series"
META_NAME = "bundle.json"
#: bundle.json keys that name a model file of the bundle.
MODEL_KEYS = ("cnn", "forest", "onnx", "torch_weights", "sklearn_forest", "pixel_signature", "brain_mask", "timing")
#: Default file of a model key that bundle.json may leave out.
DEFAULT_FILES = {"onnx": "model.onnx", "torch_weights": "model.pt"}
_ORIENTATIONS = ("AX", "COR", "SAG")


class BundleError(ValueError):
    """A model bundle cannot be used: its ``bundle.json`` is invalid (the message says what and where)."""


class BundleNotFoundError(BundleError, FileNotFoundError):
    """A model bundle, or a file its ``bundle.json`` names, does not exist."""


class Channels(StrEnum):
    """Input channels of a diagnostic image classifier (three, as torchvision's ImageNet networks expect)."""

    GREY = "grey"
    """The slice replicated three times (a CT slice in HU is windowed first)."""
    MULTIWINDOW = "multiwindow"
    """One CT window per channel (brain, blood, stroke); needs values in Hounsfield units (DICOM PS3.3 C.11.1)."""


def onnx_session(path: Path | str, threads: int = 1) -> Any:
    """An ONNX Runtime inference session of ``path`` on the CPU: ``threads`` intra-op threads, one inter-op
    thread, warnings off. The one factory of the project's ONNX sessions (``onnxruntime.InferenceSession``)."""
    import onnxruntime as ort

    if threads < 1:
        raise ValueError(f"An ONNX session needs at least one thread, not {threads}.")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def _names(value: Any, key: str, source: str, *, distinct: bool = True) -> tuple[str, ...]:
    """A tuple of non-empty names (``distinct``: each once) from a JSON list, or a BundleError naming ``key``."""
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise BundleError(f"{source}: '{key}' must be a list of names, not {value!r}.")
    names = tuple(str(v) for v in value)
    if any(not n for n in names):
        raise BundleError(f"{source}: '{key}' holds an empty name.")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if distinct and repeated:
        raise BundleError(f"{source}: '{key}' names {', '.join(repeated)} more than once.")
    return names


def _numbers(value: Any, key: str, source: str) -> tuple[float, ...]:
    """A tuple of finite numbers from a JSON list, or a BundleError naming ``key``."""
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise BundleError(f"{source}: '{key}' must be a list of numbers, not {value!r}.")
    return tuple(_number({key: v}, key, 0.0, source) for v in value)


def _number(table: Mapping[str, Any], key: str, default: float, source: str) -> float:
    value = table.get(key, default)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BundleError(f"{source}: '{key}' must be a number, not {value!r}.") from None
    if not math.isfinite(number):
        raise BundleError(f"{source}: '{key}' must be a finite number, not {value!r}.")
    return number


def _whole(table: Mapping[str, Any], key: str, default: int | None, source: str) -> int | None:
    value = table.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        raise BundleError(f"{source}: '{key}' must be a whole number, not {value!r}.")
    return int(value)


@dataclass(frozen=True)
class Classes:
    """The output classes of a bundle's heads.

    Parameters
    ----------
    sequence
        The main head's classes in output order (``classes``: MR sequences, or a diagnostic model's labels).
    orientation
        The CNN's orientation head (``orient_classes``); empty when the network has none.
    forest
        The header forest's classes in its output order (``forest_classes``; empty: as ``sequence``).
    positive
        The class whose probability a diagnostic model reports (``positive``; empty for the MRI model).
    """

    sequence: tuple[str, ...]
    orientation: tuple[str, ...] = ()
    forest: tuple[str, ...] = ()
    positive: str = ""

    def __post_init__(self) -> None:
        if not self.sequence:
            raise BundleError("A bundle needs at least one class in 'classes'.")
        for key, names in (("classes", self.sequence), ("orient_classes", self.orientation)):
            if len(set(names)) != len(names):
                raise BundleError(f"The bundle's '{key}' repeat a class name: {list(names)}.")
        stray = sorted(set(self.forest) - set(self.sequence))
        if stray:
            raise BundleError(f"The forest classes {stray} are not among the bundle's classes {list(self.sequence)}.")
        if self.positive and self.positive not in self.sequence:
            raise BundleError(
                f"The positive class {self.positive!r} is not one of the bundle's classes {list(self.sequence)}."
            )


@dataclass(frozen=True)
class Preprocessing:
    """How images become network inputs, identical at training and inference time.

    Parameters
    ----------
    input_size
        Side of the square network input, in pixels.
    slices_per_series
        Slices decoded per series at inference (the MRI annotator; ``bundle.json``'s ``slices_per_series``).
    load_size
        Side an image is resized to before the centre crop to ``input_size`` (diagnostic models; ``None``: none).
    channels
        Input channels of a diagnostic model (:class:`Channels`).
    window
        CT display window preset applied to slices in HU (diagnostic models, ``grey`` channels).
    mean, std
        Per-channel normalisation after scaling to [0, 1]; empty: none (the MRI CNN scales each slice by its
        foreground percentiles, :func:`radclass.features.slices.normalise`).
    """

    input_size: int = 128
    slices_per_series: int = 5
    load_size: int | None = None
    channels: Channels | str = Channels.GREY
    window: str = "brain"
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.input_size < 1:
            raise BundleError(f"The input size must be a positive number of pixels, not {self.input_size}.")
        if self.slices_per_series < 1:
            raise BundleError(f"A series needs at least one slice per series, not {self.slices_per_series}.")
        if self.load_size is not None and self.load_size < self.input_size:
            raise BundleError(
                f"The load size ({self.load_size}) must be at least the input size ({self.input_size}): "
                "the input is a crop of the loaded image."
            )
        try:
            object.__setattr__(self, "channels", Channels(self.channels))
        except ValueError:
            raise BundleError(
                f"The channels must be one of {[c.value for c in Channels]}, not {self.channels!r}."
            ) from None
        if len(self.mean) != len(self.std):
            raise BundleError(f"The normalisation gives {len(self.mean)} means but {len(self.std)} deviations.")
        if any(s <= 0 for s in self.std):
            raise BundleError(f"Every normalisation deviation must be positive, not {list(self.std)}.")

    @property
    def load_side(self) -> int:
        """The side an image is resized to before the centre crop (``load_size``, else ``input_size``)."""
        return self.load_size or self.input_size

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``bundle.json``'s ``preprocess`` table; lists for the tuples)."""
        return {
            "input_size": self.input_size,
            "slices_per_series": self.slices_per_series,
            "load_size": self.load_size,
            "channels": str(self.channels),
            "window": self.window,
            "mean": list(self.mean),
            "std": list(self.std),
        }

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any], source: str = "bundle.json") -> Preprocessing:
        """The preprocessing of a ``bundle.json``: its ``preprocess`` table, else its top-level keys."""
        table = meta.get("preprocess", meta)
        if not isinstance(table, Mapping):
            raise BundleError(f"{source}: 'preprocess' must be a table, not {table!r}.")
        defaults = cls()
        return cls(
            input_size=_whole(table, "input_size", defaults.input_size, source) or 0,
            slices_per_series=_whole(
                table if "slices_per_series" in table else meta, "slices_per_series", defaults.slices_per_series, source
            )
            or 0,
            load_size=_whole(table, "load_size", None, source),
            channels=str(table.get("channels", Channels.GREY)),
            window=str(table.get("window", defaults.window)),
            mean=_numbers(table.get("mean", ()), "mean", source),
            std=_numbers(table.get("std", ()), "std", source),
        )


@dataclass(frozen=True)
class Fusion:
    """The log-linear pool of the slice CNN and the header forest (:func:`radclass.models.ensemble.fuse`).

    Parameters
    ----------
    w_cnn, w_forest
        Weights of the CNN's and the forest's log-probabilities (non-negative, not both zero).
    temperature
        Divides the pooled log-probabilities before the softmax (positive).
    disagree_confidence
        When set, a confidence below which a disagreement of the two models is flagged.
    """

    w_cnn: float = 1.0
    w_forest: float = 1.0
    temperature: float = 1.0
    disagree_confidence: float | None = None

    def __post_init__(self) -> None:
        if self.w_cnn < 0 or self.w_forest < 0:
            raise BundleError(
                f"The fusion weights must not be negative (w_cnn {self.w_cnn}, w_forest {self.w_forest})."
            )
        if self.w_cnn + self.w_forest <= 0:
            raise BundleError("At least one fusion weight (w_cnn or w_forest) must be positive.")
        if self.temperature <= 0:
            raise BundleError(f"The fusion temperature must be positive, not {self.temperature}.")
        if self.disagree_confidence is not None and not 0 <= self.disagree_confidence <= 1:
            raise BundleError(f"disagree_confidence must lie in [0, 1], not {self.disagree_confidence}.")

    @classmethod
    def from_meta(cls, table: Mapping[str, Any], source: str = "bundle.json") -> Fusion:
        """The fusion parameters of ``bundle.json``'s ``fusion`` table (missing keys: the defaults)."""
        level = table.get("disagree_confidence")
        return cls(
            w_cnn=_number(table, "w_cnn", 1.0, source),
            w_forest=_number(table, "w_forest", 1.0, source),
            temperature=_number(table, "temperature", 1.0, source),
            disagree_confidence=None if level is None else _number(table, "disagree_confidence", 0.0, source),
        )


@dataclass(frozen=True)
class Thresholds:
    """Abstention thresholds on the fused confidence: below them a series is ``unknown``.

    Parameters
    ----------
    header
        For series whose header informed the forest (``threshold_header``).
    pixels
        For series classified from pixels alone (``threshold_pixels``).
    max_error_rate
        The error rate among accepted series the thresholds were chosen for (training's record; may be absent).
    """

    header: float = 0.5
    pixels: float = 0.5
    max_error_rate: float | None = None

    def __post_init__(self) -> None:
        for name, value in (("threshold_header", self.header), ("threshold_pixels", self.pixels)):
            if not 0 <= value <= 1:
                raise BundleError(f"The abstention threshold {name} must lie in [0, 1], not {value}.")
        if self.max_error_rate is not None and not 0 <= self.max_error_rate <= 1:
            raise BundleError(f"max_error_rate must lie in [0, 1], not {self.max_error_rate}.")

    @classmethod
    def from_meta(cls, table: Mapping[str, Any], source: str = "bundle.json") -> Thresholds:
        """The thresholds of a ``fusion`` table; a lone legacy ``threshold`` serves both kinds of evidence."""
        common = _number(table, "threshold", 0.5, source)
        rate = table.get("max_error_rate")
        return cls(
            header=_number(table, "threshold_header", common, source),
            pixels=_number(table, "threshold_pixels", common, source),
            max_error_rate=None if rate is None else _number(table, "max_error_rate", 0.0, source),
        )

    def for_evidence(self, has_header: bool) -> float:
        """The threshold of a series with (``has_header``) or without an informative header."""
        return self.header if has_header else self.pixels


def _class_thresholds(table: Mapping[str, Any], model: str, source: str) -> dict[str, float]:
    """The ``thresholds`` table (class -> confidence) of a per-class-threshold model's table in ``bundle.json``."""
    thresholds = table.get("thresholds") or {}
    if not isinstance(thresholds, Mapping):
        raise BundleError(f"{source}: the {model} 'thresholds' must be a table of class -> number.")
    return {str(k): float(v) for k, v in thresholds.items()}


def _check_class_thresholds(thresholds: Mapping[str, float], classes: Sequence[str], model: str) -> None:
    """A per-class-threshold model's thresholds name only its classes and lie in (0, 1]."""
    stray = sorted(set(thresholds) - set(classes))
    if stray:
        raise BundleError(f"The {model} thresholds name classes the model lacks: {stray}.")
    bad = {c: t for c, t in thresholds.items() if not 0.0 < float(t) <= 1.0}
    if bad:
        raise BundleError(f"{model[0].upper()}{model[1:]} thresholds must lie in (0, 1]; these do not: {bad}.")


@dataclass(frozen=True)
class PixelSignature:
    """The pixel-signature model of a bundle (``bundle.json``'s ``pixel_signature_model`` table): a classifier
    over the tissue-contrast signature (:mod:`radclass.features.contrast`), with per-class thresholds chosen on
    inner folds so that a series labelled from its pixels alone is rarely wrong.

    Parameters
    ----------
    features
        Signature values the model reads, in order (names of :data:`radclass.features.contrast.FEATURE_NAMES`).
    classes
        The model's output classes, in order.
    thresholds
        Class -> confidence from which a pixel-only answer of that class is given; a class without one abstains.
    slices
        Slices per series read for the signature.
    """

    features: tuple[str, ...]
    classes: tuple[str, ...]
    thresholds: Mapping[str, float]
    slices: int = 12

    def __post_init__(self) -> None:
        from radclass.features.contrast import FEATURE_NAMES

        unknown = [f for f in self.features if f not in FEATURE_NAMES]
        if not self.features or unknown:
            raise BundleError(
                f"The pixel-signature model reads signature values this version does not compute: {unknown or '[]'}."
            )
        _check_class_thresholds(self.thresholds, self.classes, "pixel-signature")
        if self.slices < 1:
            raise BundleError(f"The pixel-signature model needs at least one slice per series, not {self.slices}.")

    @classmethod
    def from_meta(cls, table: Any, source: str = "bundle.json") -> PixelSignature:
        if not isinstance(table, Mapping):
            raise BundleError(f"{source}: 'pixel_signature_model' must be a table, not {table!r}.")
        return cls(
            features=_names(table.get("features"), "pixel_signature_model.features", source),
            classes=_names(table.get("classes"), "pixel_signature_model.classes", source),
            thresholds=_class_thresholds(table, "pixel-signature", source),
            slices=_whole(table, "slices", 12, source) or 12,
        )


@dataclass(frozen=True)
class TimingModel:
    """The timing model of a bundle (``bundle.json``'s ``timing_model`` table, the ``timing`` file): a forest over
    the acquisition timing alone (TR, TE, b-values, volumes, voxel size:
    :data:`radclass.features.header.TIMING_FEATURES`), for headers that name no technique, such as a NIfTI volume
    whose sidecar is gone (:func:`radclass.models.decision.header_is_timing_only`).

    Parameters
    ----------
    features
        Header features the model reads, in order (names of :func:`radclass.features.header.feature_names`).
    classes
        The model's output classes, in order. T1 stands for the T1 family: the timing of a T1 series does not
        change with gadolinium, so the bundle's gadolinium test decides T1C.
    thresholds
        Class -> confidence from which the model's answer is given, chosen on inner dataset folds so that the
        answers are rarely wrong; a class without one abstains.
    families
        Class -> the sequences it stands for, where the timing cannot tell them apart and the pixels decide:
        ``{"T2": ("T2", "FLAIR")}`` (no inversion time survives in a NIfTI header; the bundle's fluid test,
        :class:`FluidContrast`, decides). A class not listed stands for itself (T1 for T1 and T1C: the
        gadolinium test may turn it into T1C).
    """

    features: tuple[str, ...]
    classes: tuple[str, ...]
    thresholds: Mapping[str, float]
    families: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from radclass.features.header import feature_names

        known = set(feature_names())
        unknown = [f for f in self.features if f not in known]
        if not self.features or unknown:
            missing = unknown or "[]"
            raise BundleError(f"The timing model reads header features this version does not compute: {missing}.")
        _check_class_thresholds(self.thresholds, self.classes, "timing-model")
        for family, members in self.families.items():
            if family not in self.classes or family not in members or len(members) < 2:
                raise BundleError(
                    f"The timing model's family {family!r} must be one of its classes and name itself among two or "
                    f"more sequences, not {list(members)}."
                )

    def family(self, label: str) -> tuple[str, ...]:
        """The sequences the model's class ``label`` stands for (``(label,)`` when it stands for itself)."""
        return tuple(self.families.get(label, (label,)))

    @classmethod
    def from_meta(cls, table: Any, source: str = "bundle.json") -> TimingModel:
        if not isinstance(table, Mapping):
            raise BundleError(f"{source}: 'timing_model' must be a table, not {table!r}.")
        families = table.get("families") or {}
        if not isinstance(families, Mapping):
            raise BundleError(f"{source}: 'timing_model.families' must be a table, not {families!r}.")
        return cls(
            features=_names(table.get("features"), "timing_model.features", source),
            classes=_names(table.get("classes"), "timing_model.classes", source),
            thresholds=_class_thresholds(table, "timing-model", source),
            families={str(k): _names(v, f"timing_model.families.{k}", source) for k, v in families.items()},
        )


T = TypeVar("T")


def read_table(name: str, table: Any, source: str, build: Callable[[Mapping[str, Any]], T]) -> T:
    """``build(table)`` for ``bundle.json``'s table ``name`` (read from ``source``), with a full-sentence
    :class:`BundleError` when it is not a table, lacks a key, or holds a value that is not a number or that the
    table's own validation refuses."""
    if not isinstance(table, Mapping):
        raise BundleError(f"{source}: '{name}' must be a table, not {table!r}.")
    try:
        return build(table)
    except KeyError as err:
        raise BundleError(f"{source}: '{name}' gives no {err}.") from None
    except BundleError as err:  # the table's own validation: its sentence, with where it was read
        raise BundleError(f"{source}: '{name}': {err}") from None
    except (TypeError, ValueError) as err:
        raise BundleError(f"{source}: '{name}' holds a value that is not a number ({err}).") from None


@dataclass(frozen=True)
class ContrastEnhancement:
    """The bundle's gadolinium test (``bundle.json``'s ``contrast_enhancement`` table): a T1 series whose header
    says nothing of a contrast agent is called T1C when the enhancement ratio of its volume
    (:func:`radclass.features.enhancement.enhancement_ratio`, brain mask from the ``brain_mask`` model) reaches
    :attr:`threshold`, chosen on inner dataset folds (docs/pixel_model.md).

    Parameters
    ----------
    threshold
        The enhancement ratio from which a T1 volume is taken to be after gadolinium.
    flatten
        The bias-flattening width the ratio is measured with (voxels of the 128^3 cube; ``None``: none).
    min_slices
        Fewer slices (or frames) than this and the series is not measured: a slab does not show a brain.
    precision
        The lower 95% bound of the T1C calls' out-of-fold precision: the confidence such a call is published
        with, at most.
    max_field_strength
        Series acquired at a higher field (tesla) are not measured: at 7 T the transmit field varies across the
        head so much that bright tissue is no sign of gadolinium (a physical bound, not fitted: the pool has no
        such T1).
    """

    threshold: float
    flatten: float | None = None
    min_slices: int = 16
    precision: float = 0.5
    max_field_strength: float = 4.0

    def __post_init__(self) -> None:
        if not self.threshold > 1.0:
            raise BundleError(
                f"The enhancement threshold must exceed 1 (a ratio to deep tissue), not {self.threshold}."
            )
        if self.flatten is not None and not self.flatten > 0:
            raise BundleError(f"The bias-flattening width must be positive voxels, not {self.flatten}.")
        if self.min_slices < 2:
            raise BundleError(f"An enhancement measure needs a volume of at least 2 slices, not {self.min_slices}.")
        if not 0.0 < self.precision <= 1.0:
            raise BundleError(f"The enhancement calls' precision must lie in (0, 1], not {self.precision}.")

    def not_measured(self, header: Mapping[str, Any], n_frames: int | None) -> str:
        """Why a series with scan header ``header`` and ``n_frames`` slices is outside the test ('' when it is
        not): its header names a contrast agent, it has too few slices, or it was acquired above the field
        strength."""
        if not is_missing(header.get("contrast_agent")):
            return "the header names a contrast agent"
        if (n_frames or 0) < self.min_slices:
            return f"{n_frames or 0} slices, fewer than {self.min_slices}"
        field: Any = header.get("field_strength")
        try:
            tesla = 0.0 if is_missing(field) else float(field)
        except (TypeError, ValueError):
            tesla = 0.0
        if tesla > self.max_field_strength:
            return f"acquired at {tesla:g} T, above {self.max_field_strength:g} T"
        return ""

    @classmethod
    def from_meta(cls, table: Any, source: str = "bundle.json") -> ContrastEnhancement:
        def build(t: Mapping[str, Any]) -> ContrastEnhancement:
            flatten = t.get("flatten")
            return cls(
                threshold=float(t["threshold"]),
                flatten=None if flatten is None else float(flatten),
                min_slices=int(t.get("min_slices", 16)),
                precision=float(t.get("precision", 0.5)),
                max_field_strength=float(t.get("max_field_strength") or 4.0),
            )

        return read_table("contrast_enhancement", table, source, build)


def coarse_voxel_refusal(
    spacing: Sequence[float] | None, limit_mm: float, detail: Sequence[float] | None = None
) -> str | None:
    """Why a volume of voxel size ``spacing`` (mm) is too coarse for a pixel-only call (its two finest sides above
    ``limit_mm``: a structural scan is acquired finer than diffusion, BOLD, perfusion and field maps), or has no
    voxel size; None when it is fine enough. ``detail``, the voxel size its pixels hold
    (:func:`radclass.features.resolution.effective_spacing`), refuses a volume interpolated from a coarser
    acquisition: its finest side must be within ``limit_mm`` too."""
    if spacing is None:
        return "the volume gives no voxel size"
    finest = sorted(float(d) for d in spacing)[:2]
    if finest[-1] > limit_mm:
        return (
            f"its voxels ({finest[0]:g} x {finest[1]:g} mm at the finest) are coarser than a structural "
            f"scan's ({limit_mm:g} mm)"
        )
    if detail is not None and min(float(d) for d in detail) > limit_mm:
        return (
            f"its pixels hold the detail of {min(float(d) for d in detail):.2f} mm voxels at the finest "
            f"(interpolated to {finest[0]:.3g} mm from a coarser acquisition), coarser than a structural scan's "
            f"({limit_mm:g} mm)"
        )
    return None


@dataclass(frozen=True)
class FluidContrast:
    """The bundle's fluid test (``bundle.json``'s ``fluid_contrast`` table): a volume that the timing model calls
    T2 family (T2 or FLAIR, :attr:`TimingModel.families`) is a T2 when its fluid is bright, a FLAIR when it is
    dark (:func:`radclass.features.fluid.fluid_contrast`, brain mask from the ``brain_mask`` model). Between
    :attr:`flair_below` and :attr:`t2_from` (a band around the threshold, chosen on inner dataset folds) the test
    abstains (docs/pixel_model.md).

    Parameters
    ----------
    measure
        The reading (:data:`radclass.features.fluid.MEASURES`), chosen on inner dataset folds.
    flair_below
        A reading below this is a FLAIR.
    t2_from
        A reading at or above this is a T2 (at least :attr:`flair_below`).
    min_slices
        Fewer slices (or frames) than this and the series is not measured: a slab does not show a brain.
    precision
        The lower 95% bound of the test's out-of-fold precision: the confidence its calls are published with,
        at most.
    pixel_only_voxel_mm
        For a volume with no acquisition header at all: a reading at or above :attr:`t2_from` is a T2 when its
        two finest voxel sides are at most this many mm (diffusion, BOLD, perfusion and field maps, whose fluid
        is bright too, are acquired coarser); None: such a volume is never called from its fluid.
    pixel_only_precision
        The lower 95% bound of the out-of-fold precision of those pixel-only T2 calls (their confidence, at
        most).
    """

    measure: str
    flair_below: float
    t2_from: float
    min_slices: int = 16
    precision: float = 0.5
    pixel_only_voxel_mm: float | None = None
    pixel_only_precision: float = 0.5

    def __post_init__(self) -> None:
        from radclass.features.fluid import MEASURES

        if self.measure not in MEASURES:
            raise BundleError(f"The fluid test's reading must be one of {', '.join(MEASURES)}, not {self.measure!r}.")
        if not (math.isfinite(self.flair_below) and math.isfinite(self.t2_from)) or self.t2_from < self.flair_below:
            raise BundleError(
                f"The fluid test's T2 bound ({self.t2_from}) must be finite and at least its FLAIR bound "
                f"({self.flair_below})."
            )
        if self.min_slices < 2:
            raise BundleError(f"A fluid measure needs a volume of at least 2 slices, not {self.min_slices}.")
        for name in ("precision", "pixel_only_precision"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise BundleError(f"The fluid test's {name} must lie in (0, 1], not {getattr(self, name)}.")
        limit = self.pixel_only_voxel_mm
        if limit is not None and not (math.isfinite(limit) and limit > 0):
            raise BundleError(f"The fluid test's pixel_only_voxel_mm must be a positive number of mm, not {limit}.")

    def call(self, reading: float) -> str | None:
        """``"T2"``, ``"FLAIR"``, or None where the reading lies in the band where both were found."""
        if reading < self.flair_below:
            return "FLAIR"
        if reading >= self.t2_from:
            return "T2"
        return None

    def pixel_only_refusal(self, spacing: Sequence[float] | None, detail: Sequence[float] | None = None) -> str | None:
        """Why a volume with no acquisition header, of voxel size ``spacing`` (mm) and, once read, ``detail``
        (:func:`coarse_voxel_refusal`), is not measured for a pixel-only T2 call; None when it is."""
        if self.pixel_only_voxel_mm is None:
            return "the bundle's fluid test makes no pixel-only calls"
        return coarse_voxel_refusal(spacing, self.pixel_only_voxel_mm, detail)

    @classmethod
    def from_meta(cls, table: Any, source: str = "bundle.json") -> FluidContrast:
        def build(t: Mapping[str, Any]) -> FluidContrast:
            limit = t.get("pixel_only_voxel_mm")
            return cls(
                measure=str(t["measure"]),
                flair_below=float(t["flair_below"]),
                t2_from=float(t["t2_from"]),
                min_slices=int(t.get("min_slices", 16)),
                precision=float(t.get("precision", 0.5)),
                pixel_only_voxel_mm=None if limit is None else float(limit),
                pixel_only_precision=float(t.get("pixel_only_precision", 0.5)),
            )

        return read_table("fluid_contrast", table, source, build)


@dataclass(frozen=True)
class GreyWhiteContrast:
    """The bundle's grey/white test (``bundle.json``'s ``grey_white_contrast`` table): a volume with no acquisition
    header at all whose fluid is dark (its fluid reading below the fluid test's FLAIR bound, so not a T2) is a T1
    when its deep parenchyma reads below :attr:`t1_below`, a FLAIR from :attr:`flair_from`
    (:func:`radclass.features.grey_white.grey_white_measure`: white matter brighter than grey on a T1, darker on a
    FLAIR); between them, UNKNOWN (docs/pixel_model.md). A T1 call goes on to the gadolinium test.

    Parameters
    ----------
    measure
        The reading (:data:`radclass.features.grey_white.MEASURES`), chosen on inner dataset folds.
    t1_below
        A reading below this is a T1.
    flair_from
        A reading at or above this is a FLAIR (at least :attr:`t1_below`).
    pixel_only_voxel_mm
        Only a volume whose two finest voxel sides are at most this many mm is called (diffusion trace maps are
        fluid-dark too, and coarser); None: the bundle makes no such calls (their validation did not allow it).
    precision
        The lower 95% bound of the out-of-fold precision of these calls: their confidence, at most.
    """

    measure: str
    t1_below: float
    flair_from: float
    pixel_only_voxel_mm: float | None = None
    precision: float = 0.5

    def __post_init__(self) -> None:
        from radclass.features.grey_white import MEASURES

        if self.measure not in MEASURES:
            raise BundleError(
                f"The grey/white test's reading must be one of {', '.join(MEASURES)}, not {self.measure!r}."
            )
        if not (math.isfinite(self.t1_below) and math.isfinite(self.flair_from)) or self.flair_from < self.t1_below:
            raise BundleError(
                f"The grey/white test's FLAIR bound ({self.flair_from}) must be finite and at least its T1 bound "
                f"({self.t1_below})."
            )
        if not 0.0 < self.precision <= 1.0:
            raise BundleError(f"The grey/white test's precision must lie in (0, 1], not {self.precision}.")
        limit = self.pixel_only_voxel_mm
        if limit is not None and not (math.isfinite(limit) and limit > 0):
            raise BundleError(
                f"The grey/white test's pixel_only_voxel_mm must be a positive number of mm, not {limit}."
            )

    def call(self, reading: float) -> str | None:
        """``"T1"``, ``"FLAIR"``, or None where the reading lies in the band where both were found."""
        if reading < self.t1_below:
            return "T1"
        if reading >= self.flair_from:
            return "FLAIR"
        return None

    def pixel_only_refusal(self, spacing: Sequence[float] | None, detail: Sequence[float] | None = None) -> str | None:
        """Why a volume with no acquisition header, of voxel size ``spacing`` (mm) and, once read, ``detail``
        (:func:`coarse_voxel_refusal`), is not called by this test; None when it is."""
        if self.pixel_only_voxel_mm is None:
            return "the bundle's grey/white test makes no pixel-only calls"
        return coarse_voxel_refusal(spacing, self.pixel_only_voxel_mm, detail)

    @classmethod
    def from_meta(cls, table: Any, source: str = "bundle.json") -> GreyWhiteContrast:
        def build(t: Mapping[str, Any]) -> GreyWhiteContrast:
            limit = t.get("pixel_only_voxel_mm")
            return cls(
                measure=str(t["measure"]),
                t1_below=float(t["t1_below"]),
                flair_from=float(t["flair_from"]),
                pixel_only_voxel_mm=None if limit is None else float(limit),
                precision=float(t.get("precision", 0.5)),
            )

        return read_table("grey_white_contrast", table, source, build)


@dataclass(frozen=True)
class DiffusionTest:
    """The bundle's diffusion test (``bundle.json``'s ``diffusion_test`` table): a time series with no acquisition
    header (or one whose timing the timing model abstains on) is a DWI when some of its frames are much darker
    than its brightest one and, in those frames, free water (the brightest voxels of the brightest frame) has lost
    more of its signal than the middle of the head has (:func:`radclass.features.diffusion.diffusion_reading`,
    :func:`radclass.models.decision.diffusion_decision`).
    Other time series (BOLD, perfusion, field maps) stay UNKNOWN: their frames alone do not tell them apart.

    Parameters
    ----------
    attenuated_below
        A DWI's weighted frames hold at most this share of its brightest frame's mean head signal (at most
        :data:`radclass.features.diffusion.WEIGHTED_BELOW`, which decides which frames are weighted).
    free_water_below
        ... and in them its free water keeps less than this share of what the middle of the head keeps (below 1:
        echo decay and an ASL series' M0 frame are above it).
    precision
        The lower 95% bound of the test's precision on the development pool: the confidence of its calls.
    """

    attenuated_below: float
    free_water_below: float
    precision: float = 0.5

    def __post_init__(self) -> None:
        from radclass.features.diffusion import WEIGHTED_BELOW

        if not 0.0 < self.attenuated_below <= WEIGHTED_BELOW:
            raise BundleError(
                f"The diffusion test's attenuated_below must lie in (0, {WEIGHTED_BELOW}] (the share below which a "
                f"frame counts as weighted), not {self.attenuated_below}."
            )
        if not 0.0 < self.free_water_below <= 1.0:
            raise BundleError(
                f"The diffusion test's free_water_below must lie in (0, 1]: free water falls further than the rest "
                f"of the head only below 1, not at {self.free_water_below}."
            )
        if not 0.0 < self.precision <= 1.0:
            raise BundleError(f"The diffusion test's precision must lie in (0, 1], not {self.precision}.")

    def call(self, reading: DiffusionReading) -> bool:
        """Whether ``reading`` is a DWI's."""
        return (
            reading.weighted > 0
            and reading.attenuation < self.attenuated_below
            and reading.free_water is not None
            and reading.free_water < self.free_water_below
        )

    @classmethod
    def from_meta(cls, table: Any, source: str = "bundle.json") -> DiffusionTest:
        def build(t: Mapping[str, Any]) -> DiffusionTest:
            return cls(
                attenuated_below=float(t["attenuated_below"]),
                free_water_below=float(t["free_water_below"]),
                precision=float(t.get("precision", 0.5)),
            )

        return read_table("diffusion_test", table, source, build)


@dataclass(frozen=True)
class PixelOnlyReadings:
    """What :meth:`ModelBundle.pixel_only_readings` measured of a volume with no acquisition header: its fluid
    reading and whether the fluid test may call it T2 from that (``t2_in_scope``), its grey/white reading (None
    where it could not be taken, or the bundle's grey/white test does not call such a volume), and its
    enhancement ratio (None unless the other two make a T1 call; then ``enhancement_skipped`` says why not)."""

    fluid: float
    t2_in_scope: bool = False
    grey_white: float | None = None
    enhancement: float | None = None
    enhancement_skipped: str = ""


@dataclass(frozen=True)
class BundleMetadata:
    """``bundle.json``, typed. Unknown keys stay in :attr:`ModelBundle.meta` (training's records).

    Parameters
    ----------
    name, version
        The bundle's name and version (``model_version`` in the outputs is ``name-version``).
    classes, preprocessing, fusion, thresholds
        See :class:`Classes`, :class:`Preprocessing`, :class:`Fusion`, :class:`Thresholds`.
    files
        Model key (``cnn``, ``forest``, ``onnx``, ``torch_weights``, ``sklearn_forest``) -> file name.
    network
        The CNN architecture (:func:`radclass.networks.build_network` name), when the bundle has one.
    network_kwargs
        Further constructor arguments of the network.
    feature_names
        The header features the forest was trained on, in order (``None``: the current list).
    task
        What a diagnostic model decides, in words.
    pixel_signature
        The pixel-signature model's reading (:class:`PixelSignature`), when the bundle has one.
    contrast_enhancement
        The gadolinium test (:class:`ContrastEnhancement`), when the bundle has one.
    timing
        The timing model's reading (:class:`TimingModel`), when the bundle has one.
    fluid_contrast
        The fluid test (:class:`FluidContrast`), when the bundle has one.
    grey_white_contrast
        The grey/white test (:class:`GreyWhiteContrast`), when the bundle has one.
    diffusion_test
        The diffusion test (:class:`DiffusionTest`), when the bundle has one.
    """

    name: str
    version: str
    classes: Classes
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    fusion: Fusion = field(default_factory=Fusion)
    thresholds: Thresholds = field(default_factory=Thresholds)
    files: Mapping[str, str] = field(default_factory=dict)
    network: str = ""
    network_kwargs: Mapping[str, Any] = field(default_factory=dict)
    feature_names: tuple[str, ...] | None = None
    task: str = ""
    pixel_signature: PixelSignature | None = None
    contrast_enhancement: ContrastEnhancement | None = None
    timing: TimingModel | None = None
    fluid_contrast: FluidContrast | None = None
    grey_white_contrast: GreyWhiteContrast | None = None
    diffusion_test: DiffusionTest | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise BundleError("A bundle needs a name.")
        unknown = sorted(set(self.files) - set(MODEL_KEYS))
        if unknown:
            raise BundleError(f"Unknown model keys {unknown}: a bundle's model files are {list(MODEL_KEYS)}.")
        for key, name in self.files.items():
            if not name or Path(name).name != name:
                raise BundleError(f"The {key} model must be a file name inside the bundle folder, not {name!r}.")

    @classmethod
    def from_json(cls, meta: Mapping[str, Any], source: str = "bundle.json", default_name: str = "") -> BundleMetadata:
        """Validate a parsed ``bundle.json`` (``source`` names it in the errors)."""
        if not isinstance(meta, Mapping):
            raise BundleError(f"{source} must hold a JSON object, not {type(meta).__name__}.")
        if "classes" not in meta:
            raise BundleError(f"{source} gives no 'classes' (the output classes, in order).")
        sequence = _names(meta["classes"], "classes", source)
        orientation = _names(meta["orient_classes"], "orient_classes", source) if "orient_classes" in meta else ()
        forest = _names(meta["forest_classes"], "forest_classes", source) if "forest_classes" in meta else ()
        fusion_table = meta.get("fusion") or {}
        if not isinstance(fusion_table, Mapping):
            raise BundleError(f"{source}: 'fusion' must be a table, not {fusion_table!r}.")
        kwargs = meta.get("network_kwargs") or {}
        if not isinstance(kwargs, Mapping):
            raise BundleError(f"{source}: 'network_kwargs' must be a table, not {kwargs!r}.")
        names = meta.get("feature_names")
        try:
            return cls(
                name=str(meta.get("name") or default_name),
                version=str(meta.get("version", "0")),
                classes=Classes(sequence, orientation, forest, str(meta.get("positive") or "")),
                preprocessing=Preprocessing.from_meta(meta, source),
                fusion=Fusion.from_meta(fusion_table, source),
                thresholds=Thresholds.from_meta(fusion_table, source),
                files={k: str(meta[k]) for k in MODEL_KEYS if meta.get(k)},
                network=str(meta.get("network") or ""),
                network_kwargs=dict(kwargs),
                # a trained forest's columns, as it was trained (repeats included)
                feature_names=_names(names, "feature_names", source, distinct=False) if names else None,
                task=str(meta.get("task") or ""),
                pixel_signature=(
                    PixelSignature.from_meta(meta["pixel_signature_model"], source)
                    if meta.get("pixel_signature_model")
                    else None
                ),
                contrast_enhancement=(
                    ContrastEnhancement.from_meta(meta["contrast_enhancement"], source)
                    if meta.get("contrast_enhancement")
                    else None
                ),
                timing=TimingModel.from_meta(meta["timing_model"], source) if meta.get("timing_model") else None,
                fluid_contrast=(
                    FluidContrast.from_meta(meta["fluid_contrast"], source) if meta.get("fluid_contrast") else None
                ),
                grey_white_contrast=(
                    GreyWhiteContrast.from_meta(meta["grey_white_contrast"], source)
                    if meta.get("grey_white_contrast")
                    else None
                ),
                diffusion_test=(
                    DiffusionTest.from_meta(meta["diffusion_test"], source) if meta.get("diffusion_test") else None
                ),
            )
        except BundleError as err:
            message = str(err)
            raise BundleError(message if message.startswith(source) else f"{source}: {message}") from None


def _available(root: Path) -> list[str]:
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / META_NAME).is_file())


@dataclass
class ModelBundle:
    """A loaded bundle: its folder, ``bundle.json`` (raw :attr:`meta` and typed :attr:`metadata`) and the ONNX
    sessions of its models, each created on first use with ``threads`` intra-op threads.

    Use :meth:`load`; the constructor validates ``meta`` (:class:`BundleError` with a sentence saying what is
    wrong).
    """

    folder: Path
    meta: dict[str, Any]
    threads: int = 2
    metadata: BundleMetadata = field(init=False)
    _sessions: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)
        if self.threads < 1:
            raise ValueError(f"A bundle's ONNX sessions need at least one thread, not {self.threads}.")
        self.metadata = BundleMetadata.from_json(self.meta, str(self.folder / META_NAME), self.folder.name)

    @classmethod
    def load(
        cls,
        name_or_path: str | Path = DEFAULT_BUNDLE,
        threads: int = 2,
        *,
        root: Path | str | None = None,
        require: Sequence[str] = (),
    ) -> ModelBundle:
        """Load a bundle folder by path, or a bundle by name from ``root`` (default: the bundled models).

        ``require`` names model keys whose file must exist (e.g. ``("onnx",)``); a missing one, like a missing
        ``bundle.json``, raises :class:`BundleNotFoundError`. An invalid ``bundle.json`` raises
        :class:`BundleError`.
        """
        base = Path(root) if root is not None else BUNDLED_DIR
        folder = Path(name_or_path)
        if root is not None or not (folder / META_NAME).is_file():
            folder = base / str(name_or_path)
        meta_path = folder / META_NAME
        if not meta_path.is_file():
            raise BundleNotFoundError(
                f"model bundle {str(name_or_path)!r} not found: {folder} lacks {META_NAME}, so there is no model "
                f"bundle at {name_or_path} (a folder with no {META_NAME} is not a bundle); available bundles in "
                f"{base}: {', '.join(_available(base)) or 'none'}."
            )
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise BundleError(f"{meta_path} cannot be read as JSON ({type(err).__name__}: {err}).") from None
        bundle = cls(folder, meta, threads)
        for key in require:
            if not bundle.has(key):
                named = "named by" if key in bundle.metadata.files else "by default, as"
                raise BundleNotFoundError(
                    f"model bundle {str(name_or_path)!r} is incomplete: {folder} lacks {bundle.file_name(key)}, "
                    f"its {key} model ({named} {META_NAME}'s '{key}')."
                )
        return bundle

    # -- bundle.json, typed ----------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def version(self) -> str:
        """``name-version``, the ``model_version`` of the outputs."""
        return f"{self.metadata.name}-{self.metadata.version}"

    @property
    def classes(self) -> list[str]:
        return list(self.metadata.classes.sequence)

    @property
    def orient_classes(self) -> list[str]:
        """The orientation head's classes (AX, COR, SAG when ``bundle.json`` gives none)."""
        return list(self.metadata.classes.orientation or _ORIENTATIONS)

    @property
    def positive(self) -> str:
        """The class whose probability a diagnostic model reports (default: the last class)."""
        return self.metadata.classes.positive or self.classes[-1]

    @property
    def preprocessing(self) -> Preprocessing:
        return self.metadata.preprocessing

    @property
    def input_size(self) -> int:
        return self.metadata.preprocessing.input_size

    @property
    def slices_per_series(self) -> int:
        """Slices decoded per series at inference (``bundle.json``'s ``slices_per_series``)."""
        return self.metadata.preprocessing.slices_per_series

    @property
    def feature_names(self) -> list[str] | None:
        """The header features the forest was trained on, in order (None: the current list)."""
        names = self.metadata.feature_names
        return list(names) if names else None

    @property
    def fusion(self) -> dict[str, Any]:
        """``bundle.json``'s ``fusion`` table as written (validated as :attr:`metadata` ``.fusion`` and
        ``.thresholds``)."""
        return dict(self.meta.get("fusion") or {})

    # -- model files -----------------------------------------------------------------------------------
    def file_name(self, key: str) -> str:
        """The file name of model ``key`` (its default for ``onnx`` and ``torch_weights``; '' when none)."""
        return self.metadata.files.get(key) or DEFAULT_FILES.get(key, "")

    def path(self, key: str) -> Path:
        """The path of model ``key``; :class:`BundleNotFoundError` when the bundle has no such file."""
        if not self.has(key):
            raise BundleNotFoundError(f"bundle {self.folder} has no {key} model")
        return self.folder / self.file_name(key)

    def has(self, key: str) -> bool:
        """Whether model ``key`` is named (or defaulted) and its file exists."""
        name = self.file_name(key)
        return bool(name) and (self.folder / name).is_file()

    def session(self, key: str) -> Any:
        """ONNX Runtime session of model ``key`` (``cnn``, ``forest`` or ``onnx``), created once."""
        if key not in self._sessions:
            self._sessions[key] = onnx_session(self.path(key), self.threads)
        return self._sessions[key]

    # -- inference ------------------------------------------------------------------------------------
    def forest_proba(self, features: np.ndarray) -> np.ndarray:
        """(n, n_classes) header-forest probabilities."""
        if len(features) == 0:
            return np.zeros((0, len(self.classes)), np.float32)
        sess = self.session("forest")
        outputs = sess.run(None, {sess.get_inputs()[0].name: features.astype(np.float32)})
        forest_classes = list(self.metadata.classes.forest or self.classes)
        return _align(np.asarray(outputs[1], np.float32), forest_classes, self.classes)

    def cnn_proba(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-slice (sequence, orientation) probabilities of a prepared (n,1,s,s) batch."""
        if len(batch) == 0:
            return (np.zeros((0, len(self.classes)), np.float32), np.zeros((0, len(self.orient_classes)), np.float32))
        sess = self.session("cnn")
        seq, orient = sess.run(None, {"slices": batch.astype(np.float32)})
        return np.asarray(seq, np.float32), np.asarray(orient, np.float32)

    def pixel_signature_proba(self, signatures: np.ndarray) -> np.ndarray:
        """(n, n_classes) probabilities of the pixel-signature model for (n, len(FEATURE_NAMES)) signatures
        (:func:`radclass.features.contrast.contrast_features`), over :attr:`classes`."""
        reading = self.metadata.pixel_signature
        if reading is None:
            raise BundleNotFoundError(f"bundle {self.folder} has no pixel-signature model")
        if len(signatures) == 0:
            return np.zeros((0, len(self.classes)), np.float32)
        from radclass.features.contrast import FEATURE_NAMES

        columns = [FEATURE_NAMES.index(f) for f in reading.features]
        sess = self.session("pixel_signature")
        x = np.asarray(signatures, np.float32)[:, columns]
        outputs = sess.run(None, {sess.get_inputs()[0].name: x})
        return _align(np.asarray(outputs[1], np.float32), list(reading.classes), self.classes)

    def timing_proba(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """(n, n_classes) probabilities of the timing model (:class:`TimingModel`) for scan rows, over
        :attr:`classes`; :class:`BundleNotFoundError` when the bundle has none."""
        reading = self.metadata.timing
        if reading is None or not self.has("timing"):
            raise BundleNotFoundError(f"bundle {self.folder} has no timing model")
        if len(rows) == 0:
            return np.zeros((0, len(self.classes)), np.float32)
        from radclass.features.header import header_matrix

        sess = self.session("timing")
        x = header_matrix(rows, reading.features)
        outputs = sess.run(None, {sess.get_inputs()[0].name: x})
        return _align(np.asarray(outputs[1], np.float32), list(reading.classes), self.classes)

    def brain_mask_proba(self, cube: np.ndarray) -> np.ndarray:
        """Background/brain probabilities (1, 2, 128, 128, 128) of the brain-mask network (``brain_mask``) for
        one normalised cube (:func:`radclass.features.brain_mask.mask_input`)."""
        if "brain_mask" not in self._sessions:  # one thread always: the same mask in every process and engine
            self._sessions["brain_mask"] = onnx_session(self.path("brain_mask"), 1)
        sess = self._sessions["brain_mask"]
        return np.asarray(sess.run(None, {sess.get_inputs()[0].name: np.ascontiguousarray(cube, np.float32)})[0])

    def enhancement_ratio(
        self, volume: np.ndarray, *, whole_brain: bool = False, spacing: tuple[float, float, float] | None = None
    ) -> float:
        """The enhancement ratio of a T1-weighted volume as the bundle's gadolinium test measures it
        (:class:`ContrastEnhancement`; ``whole_brain``: only on a whole brain of voxel size ``spacing``, see
        :func:`radclass.features.enhancement.enhancement_ratio`); :class:`BundleNotFoundError` when the bundle has
        no such test."""
        from radclass.features.enhancement import enhancement_ratio

        reading = self.metadata.contrast_enhancement
        if reading is None:
            raise BundleNotFoundError(f"bundle {self.folder} has no contrast-enhancement test")
        return enhancement_ratio(
            volume,
            self.brain_mask_proba,
            flatten=reading.flatten,
            min_slices=reading.min_slices,
            whole_brain=whole_brain,
            spacing=spacing,
        )

    def fluid_contrast(self, volume: np.ndarray, spacing: tuple[float, float, float] | None) -> float:
        """The fluid reading of a T2-family volume of voxel size ``spacing`` (mm) as the bundle's fluid test takes
        it (:class:`FluidContrast`); :class:`BundleNotFoundError` when the bundle has no such test."""
        from radclass.features.fluid import fluid_contrast

        reading = self.metadata.fluid_contrast
        if reading is None:
            raise BundleNotFoundError(f"bundle {self.folder} has no fluid test")
        return fluid_contrast(
            volume, self.brain_mask_proba, spacing, measure=reading.measure, min_slices=reading.min_slices
        )

    def pixel_only_readings(self, volume: np.ndarray, spacing: tuple[float, float, float] | None) -> PixelOnlyReadings:
        """The readings of a volume with no acquisition header, as the bundle's pixel-only calls take them
        (:func:`radclass.models.decision.pixel_only_decision`): the fluid and grey/white readings from one brain
        mask, and the gadolinium test's ratio only where they make a T1 call. :class:`BundleNotFoundError` when
        the bundle has no fluid test; ValueError when the volume cannot be measured at all."""
        from radclass.features.brain_mask import reusing_last_mask
        from radclass.features.brain_readings import brain_readings
        from radclass.features.enhancement import enhancement_ratio
        from radclass.features.resolution import effective_spacing

        fluid, grey_white = self.metadata.fluid_contrast, self.metadata.grey_white_contrast
        if fluid is None:
            raise BundleNotFoundError(f"bundle {self.folder} has no fluid test")
        detail = effective_spacing(volume, spacing) if spacing is not None and volume.ndim == 3 else None
        t2_refusal = fluid.pixel_only_refusal(spacing, detail)
        t1_flair_refusal = grey_white.pixel_only_refusal(spacing, detail) if grey_white is not None else None
        calls_t1_flair = grey_white is not None and t1_flair_refusal is None
        tests = ((fluid, t2_refusal), (grey_white, t1_flair_refusal))
        refusals = [why for test, why in tests if test is not None and test.pixel_only_voxel_mm is not None]
        if refusals and None not in refusals:  # no test that makes calls would call this volume
            raise ValueError(refusals[0])
        network = reusing_last_mask(self.brain_mask_proba)  # one mask for every reading of this volume
        readings = brain_readings(
            volume,
            network,
            spacing,
            fluid_measures=(fluid.measure,),
            grey_white_measures=(grey_white.measure,) if grey_white is not None and calls_t1_flair else (),
            min_slices=fluid.min_slices,
        )
        if fluid.measure not in readings:
            raise ValueError(f"the {fluid.measure} reading cannot be taken on this volume")
        level, t2_in_scope = readings[fluid.measure], t2_refusal is None
        parenchyma = readings.get(grey_white.measure) if grey_white is not None else None
        t1 = grey_white is not None and parenchyma is not None and grey_white.call(parenchyma) == "T1"
        gadolinium = self.metadata.contrast_enhancement
        if not (t1 and level < fluid.flair_below) or gadolinium is None:
            return PixelOnlyReadings(level, t2_in_scope, parenchyma)
        try:
            ratio = enhancement_ratio(
                volume,
                network,
                flatten=gadolinium.flatten,
                min_slices=gadolinium.min_slices,
                whole_brain=True,
                spacing=spacing,
            )
        except ValueError as err:  # e.g. uneven intensity: the T1 call stands, unchecked for gadolinium
            return PixelOnlyReadings(level, t2_in_scope, parenchyma, None, f"enhancement not measured ({err})")
        return PixelOnlyReadings(level, t2_in_scope, parenchyma, ratio)

    def image_proba(self, images: np.ndarray) -> np.ndarray:
        """(n, n_classes) softmax probabilities of a diagnostic model (``onnx``) for prepared (n, 3, S, S)
        images (input ``image``, output ``probability``, as :mod:`radclass.diagnostic.export` writes)."""
        if len(images) == 0:
            return np.zeros((0, len(self.classes)), np.float32)
        sess = self.session("onnx")
        return np.asarray(sess.run(["probability"], {"image": np.ascontiguousarray(images, np.float32)})[0])


def write_bundle_json(folder: Path | str, meta: Mapping[str, Any]) -> Path:
    """Validate ``meta`` (:class:`BundleMetadata`) and write it as ``folder/bundle.json``; nothing is written
    when it is invalid."""
    folder = Path(folder)
    BundleMetadata.from_json(meta, str(folder / META_NAME), folder.name)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / META_NAME
    path.write_text(json.dumps(dict(meta), indent=1, default=str) + "\n")
    return path


def _align(proba: np.ndarray, model_classes: list[str], classes: list[str]) -> np.ndarray:
    if list(model_classes) == list(classes):
        return proba
    out = np.zeros((len(proba), len(classes)), np.float32)
    for j, c in enumerate(model_classes):
        if c in classes:
            out[:, classes.index(c)] = proba[:, j]
    return out
