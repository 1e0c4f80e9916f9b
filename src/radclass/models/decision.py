"""The decision policy: what the models saw of one series -> its :class:`Annotation` (a pure function).

:func:`decide_series` fuses the header forest's and the slice CNN's probabilities with the bundle's
log-linear pool (:func:`fuse_evidence`), abstains below the bundle's threshold for the kind of evidence at hand
(:func:`abstention_threshold`: header-informed or pixels only), and sets the series' flags, plane and contrast.
A header with timing alone (:func:`header_is_timing_only`) is the timing model's instead, answered per class
(:func:`class_threshold_decision`); a T1 without a contrast agent may become T1C (:func:`gadolinium_decision`).
``radclass annotate`` calls it for every MR series; training chooses the fusion weights and thresholds with the
same :func:`fuse_evidence` and scores its test split with the same :func:`abstention_threshold`, so the
figures of a model card are those of the policy that runs at inference.

Nothing here reads files or builds table rows: the inputs are typed records (:class:`Evidence`,
:class:`SeriesFacts`), the output an :class:`Annotation` that :mod:`radclass.outputs.annotations` turns into
a row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from radclass.features.diffusion import DiffusionReading
from radclass.features.header import SEQUENCE_FIELDS
from radclass.models.bundle import (
    ContrastEnhancement,
    DiffusionTest,
    FluidContrast,
    GreyWhiteContrast,
    PixelOnlyReadings,
)
from radclass.models.ensemble import Decision, decide, fuse, majority_vote
from radclass.taxonomy import (
    DEFAULT_CONTRAST,
    UNKNOWN,
    Contrast,
    Flag,
    FlagNote,
    Plane,
    SequenceClass,
    SeriesFlag,
    Status,
)
from radclass.values import as_text, is_missing

#: Header fields carrying acquisition physics: one of them makes a header informative (the forest then votes).
HEADER_EVIDENCE = ("repetition_time", "echo_time", "image_type", "scanning_sequence")
#: Sequences whose contrast a Contrast/Bolus Agent in the header makes ``post``.
ANATOMICAL = frozenset(
    {
        SequenceClass.T1,
        SequenceClass.T1C,
        SequenceClass.T2,
        SequenceClass.FLAIR,
        SequenceClass.PD,
        SequenceClass.T2STAR,
        SequenceClass.SWI,
        SequenceClass.MRA,
    }
)


class PlaneSource(StrEnum):
    """Where a series' plane comes from, the ``orientation_source`` column."""

    HEADER = "header"
    """The header geometry (ImageOrientationPatient, a NIfTI affine); never overridden by a pixel guess."""
    PIXELS = "pixels"
    """The CNN's orientation head, when the header gives no plane (flag ``orientation_from_pixels``)."""
    NONE = ""
    """Neither: the plane is NA."""


@dataclass(frozen=True, eq=False)  # arrays inside: equal only to itself
class Evidence:
    """What the models saw of one series.

    Parameters
    ----------
    slice_proba
        The CNN's per-slice sequence probabilities, shape (k, n_classes); None when no slice was classified.
    orient_proba
        The CNN's per-slice plane probabilities, shape (k, n_orientations); None like ``slice_proba``.
    forest_proba
        The header forest's probabilities, shape (n_classes,); None when the header is uninformative.
    pixel_error
        Why the pixels could not be used ('' when they could, or were not needed).
    pixels_skipped
        ``--pixels auto`` did not decode the pixels: they could change nothing published.
    signature_proba
        The pixel-signature model's probabilities, shape (n_classes,); None when it was not run (a series with
        an informative header, a bundle without that model, pixels that could not be described).
    enhancement
        The enhancement ratio of the series' volume (:func:`radclass.features.enhancement.enhancement_ratio`);
        None when it was not measured (the bundle's gadolinium test does not apply, or the volume could not be
        read).
    timing_proba
        The timing model's probabilities, shape (n_classes,), for a header with timing but no technique fields
        (:func:`header_is_timing_only`); the header forest then has no vote.
    fluid
        The fluid reading of the series' volume (:func:`radclass.features.fluid.fluid_contrast`); None when it was
        not measured (the timing model's answer is not the T2 family, or the volume could not be read).
    enhancement_skipped
        Why the bundle's gadolinium test took no reading of a series the header models call T1 ('' when it did,
        or was not asked).
    pixel_only
        The fluid and grey/white readings of a volume with no acquisition header
        (:meth:`radclass.models.bundle.ModelBundle.pixel_only_readings`); None when it was not measured.
    pixel_only_skipped
        Why such a volume was not measured for the bundle's pixel-only calls ('' when it was, or was not asked).
    diffusion
        The diffusion reading of a time series with no acquisition header, or whose timing the timing model
        abstains on (:func:`radclass.features.diffusion.diffusion_reading`); None when it was not measured.
    """

    slice_proba: np.ndarray | None = None
    orient_proba: np.ndarray | None = None
    forest_proba: np.ndarray | None = None
    pixel_error: str = ""
    pixels_skipped: bool = False
    signature_proba: np.ndarray | None = None
    enhancement: float | None = None
    timing_proba: np.ndarray | None = None
    fluid: float | None = None
    enhancement_skipped: str = ""
    pixel_only: PixelOnlyReadings | None = None
    pixel_only_skipped: str = ""
    diffusion: DiffusionReading | None = None

    @property
    def has_pixels(self) -> bool:
        """Whether the CNN classified at least one slice."""
        return self.slice_proba is not None and len(self.slice_proba) > 0

    @property
    def has_header(self) -> bool:
        """Whether a header model (the forest, or the timing model) voted."""
        return self.forest_proba is not None or self.timing_proba is not None

    def without_pixels(self, reason: str) -> Evidence:
        """This evidence with the pixel model's vote withheld for ``reason``."""
        return Evidence(None, None, self.forest_proba, reason, self.pixels_skipped, None, None, self.timing_proba, None)


@dataclass(frozen=True)
class SeriesFacts:
    """What the series' header tells the policy besides the forest's vote.

    Parameters
    ----------
    plane
        The header plane (:class:`~radclass.taxonomy.Plane`; '' or NA when the header has no geometry).
    contrast_agent
        Whether the header names a Contrast/Bolus Agent (0018,0010).
    flags
        The series' flags from the scan (``no_pixels``, ``mosaic``, ...).
    rule_sequence
        The label rules' sequence for the series' descriptions ('' when no rule matches).
    """

    plane: str = ""
    contrast_agent: bool = False
    flags: tuple[SeriesFlag, ...] = ()
    rule_sequence: str = ""

    @property
    def header_plane(self) -> bool:
        """Whether the header gives the plane."""
        return self.plane not in ("", Plane.NA)


@dataclass(frozen=True)
class Opinions:
    """The models' and the rules' separate opinions on a decided series (audit columns).

    Parameters
    ----------
    cnn_sequence, forest_sequence
        Each model's most probable class ('' when the model did not vote).
    vote_sequence
        The published majority vote (None when no slice was classified).
    rule_sequence
        The label rules' sequence (None when no rule matches).
    proba
        The fused probabilities, one ``(class, probability)`` pair per class in the bundle's order (the
        pixel-signature model's, for a header-less series it decided).
    """

    cnn_sequence: str
    forest_sequence: str
    vote_sequence: str | None
    rule_sequence: str | None
    proba: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class Annotation:
    """The decision on one series.

    Parameters
    ----------
    status
        :class:`~radclass.taxonomy.Status` of the series.
    reason
        Why the series is not ``ok`` ('' when it is), for a person.
    sequence
        The sequence class: a :class:`~radclass.taxonomy.SequenceClass`, or a plain string for a bundle trained on
        a class set of its own; UNKNOWN when the policy abstains or nothing could be classified, None for a
        series that was not classified at all (e.g. a non-MR series).
    plane
        The plane (from the header, else the CNN, else NA).
    plane_source
        Where the plane comes from (None for a series that was not classified).
    contrast
        The contrast state (``na`` unless a sequence was decided).
    confidence
        The fused probability of the most probable class (0 with nothing to classify, None when not classified).
    flags
        The series' flags, each once, in the order they were raised.
    opinions
        The separate model opinions, for a series the models decided on (None otherwise).
    evidence
        What the models saw (None for a series that was not classified).
    """

    status: Status
    reason: str
    sequence: SequenceClass | str | None
    plane: str
    plane_source: PlaneSource | None
    contrast: Contrast
    confidence: float | None
    flags: tuple[SeriesFlag, ...]
    opinions: Opinions | None = None
    evidence: Evidence | None = None

    def __post_init__(self) -> None:
        if self.status in (Status.OK,) and (self.sequence is None or self.sequence == UNKNOWN):
            raise ValueError(f"An annotation with status ok needs a sequence class, not {self.sequence!r}.")
        if self.confidence is not None and not 0.0 <= self.confidence <= 1.0 + 1e-6:
            raise ValueError(f"A confidence is a probability between 0 and 1, not {self.confidence!r}.")


def header_is_informative(header: Mapping[str, Any]) -> bool:
    """True when the header carries acquisition physics (not just geometry): the header forest then votes."""
    return any(not is_missing(header.get(k)) for k in HEADER_EVIDENCE)


def header_is_timing_only(header: Mapping[str, Any]) -> bool:
    """True when the header carries acquisition timing but no field naming the technique
    (:data:`radclass.features.header.SEQUENCE_FIELDS`): a NIfTI volume without its sidecar, a stripped export.
    The header forest, which never saw a header that thin, does not judge it; a bundle's timing model does."""
    return header_is_informative(header) and all(is_missing(header.get(k)) for k in SEQUENCE_FIELDS)


def header_forest_votes(header: Mapping[str, Any]) -> bool:
    """Whether the header forest judges the header: it is informative, and not timing only."""
    return header_is_informative(header) and not header_is_timing_only(header)


def abstention_threshold(fusion: Mapping[str, Any], has_header: bool, override: float | None = None) -> float:
    """The bundle's threshold for this kind of evidence (header-informed or pixels only), unless overridden.

    Parameters
    ----------
    fusion
        The bundle's ``fusion`` settings (``threshold_header``, ``threshold_pixels``, or one ``threshold``).
    has_header
        Whether the header forest voted on the series.
    override
        A threshold replacing the bundle's (``radclass annotate --threshold``).

    Returns
    -------
    float
        The fused confidence below which the policy answers UNKNOWN.
    """
    if override is not None:
        return float(override)
    key = "threshold_header" if has_header else "threshold_pixels"
    return float(fusion.get(key, fusion.get("threshold", 0.5)))


def fuse_evidence(
    slice_proba: np.ndarray | None, forest_proba: np.ndarray | None, fusion: Mapping[str, Any]
) -> np.ndarray:
    """The fused class probabilities of one series: the bundle's weighted log-linear pool.

    Parameters
    ----------
    slice_proba
        Per-slice CNN probabilities (k, n_classes), or None.
    forest_proba
        Header-forest probabilities (n_classes,), or None.
    fusion
        The bundle's ``fusion`` settings: ``w_cnn``, ``w_forest``, ``temperature`` (each 1 when absent).

    Returns
    -------
    numpy.ndarray
        (n_classes,) probabilities; ValueError when both inputs are missing.
    """
    return fuse(
        slice_proba,
        forest_proba,
        w_cnn=float(fusion.get("w_cnn", 1.0)),
        w_forest=float(fusion.get("w_forest", 1.0)),
        temperature=float(fusion.get("temperature", 1.0)),
    )


def pixels_confident(slice_proba: np.ndarray | None, fusion: Mapping[str, Any]) -> bool:
    """Whether the pixel model is confident enough to contradict the header: its mean slice probability reaches
    the bundle's ``disagree_confidence``, a level chosen out of fold so that most flagged series are truly wrong
    on one side. A bundle without that validated level never raises the flag."""
    level = fusion.get("disagree_confidence")
    if level is None or slice_proba is None or len(slice_proba) == 0:
        return False
    return float(slice_proba.mean(0).max()) >= float(level)


def series_contrast(sequence: str, contrast_agent: bool) -> Contrast:
    """Contrast state of a decided sequence: ``post`` for T1C and for an anatomical sequence whose header names
    a contrast agent, else the sequence's default (:data:`radclass.taxonomy.DEFAULT_CONTRAST`)."""
    if sequence == SequenceClass.T1C:
        return Contrast.POST
    if sequence in ANATOMICAL and contrast_agent:
        return Contrast.POST
    return DEFAULT_CONTRAST.get(sequence, Contrast.NA)


def _sequence(label: str) -> SequenceClass | str:
    """The taxonomy's member for ``label``; a bundle's own class (not in the taxonomy) stays a string."""
    try:
        return SequenceClass(label)
    except ValueError:
        return label


def _plane(
    facts: SeriesFacts, orient_proba: np.ndarray | None, orient_classes: Sequence[str]
) -> tuple[str, PlaneSource]:
    """The plane and its source: the header geometry, never overridden by a pixel guess, else the CNN's."""
    if facts.header_plane:
        return facts.plane, PlaneSource.HEADER
    if orient_proba is not None and len(orient_proba):
        mean = orient_proba.mean(0)
        if mean.max() > 0:
            return orient_classes[int(np.argmax(mean))], PlaneSource.PIXELS
    return Plane.NA, PlaneSource.NONE


def decide_series(
    evidence: Evidence,
    facts: SeriesFacts,
    *,
    classes: Sequence[str],
    orient_classes: Sequence[str],
    fusion: Mapping[str, Any],
    threshold: float | None = None,
    signature_thresholds: Mapping[str, float] | None = None,
    enhancement: ContrastEnhancement | None = None,
    timing_thresholds: Mapping[str, float] | None = None,
    timing_families: Mapping[str, Sequence[str]] | None = None,
    fluid: FluidContrast | None = None,
    grey_white: GreyWhiteContrast | None = None,
    diffusion: DiffusionTest | None = None,
) -> Annotation:
    """The annotation of one MR series from what the models saw of it.

    Parameters
    ----------
    evidence
        The models' probabilities (either may be missing).
    facts
        The header's plane, contrast agent, flags and the rules' opinion.
    classes, orient_classes
        The bundle's sequence and plane classes, in the order of the probabilities.
    fusion
        The bundle's ``fusion`` settings (weights, temperature, thresholds, ``disagree_confidence``).
    threshold
        An abstention threshold replacing the bundle's.
    signature_thresholds
        The pixel-signature model's per-class thresholds (the bundle's ``pixel_signature_model``): for a series
        without an acquisition header, a signature class at or above its threshold is the answer (flag
        ``sequence_from_pixels``); a class without a threshold never is.
    enhancement
        The bundle's gadolinium test: a T1 decision whose header names no contrast agent becomes T1C (flag
        ``contrast_from_pixels``, confidence at most the lower bound of the test's out-of-fold precision) when
        ``evidence.enhancement`` reaches its threshold (:func:`gadolinium_decision`).
    timing_thresholds
        The timing model's per-class thresholds (the bundle's ``timing_model``): for a header with timing alone,
        the model's class at or above its threshold is the answer (flag ``sequence_from_timing``), else UNKNOWN.
    timing_families
        The timing model's classes that stand for several sequences (:attr:`TimingModel.families`): such an
        answer is decided by ``fluid`` (:func:`fluid_decision`), or is UNKNOWN.
    fluid
        The bundle's fluid test (T2 against FLAIR from ``evidence.fluid``; flag ``fluid_from_pixels``); for a
        volume without any acquisition header, whose other evidence abstains, its pixel-only T2 call
        (:func:`pixel_only_decision`; flags ``sequence_from_pixels`` and ``fluid_from_pixels``).
    grey_white
        The bundle's grey/white test: for such a volume with dark fluid, its pixel-only T1 or FLAIR call
        (:func:`pixel_only_decision`; flags ``sequence_from_pixels`` and ``grey_white_from_pixels``); a T1 goes
        on to the gadolinium test.
    diffusion
        The bundle's diffusion test: for a time series without any acquisition header, or one whose timing the
        timing model abstains on, its DWI call from ``evidence.diffusion`` (:func:`diffusion_decision`; flags
        ``sequence_from_pixels`` and ``diffusion_from_pixels``).

    Returns
    -------
    Annotation
        ``error`` when there is nothing to classify, else ``ok`` or ``unknown`` (abstained) with the flags.
    """
    flags: list[SeriesFlag] = list(facts.flags)
    signature = _signature_decision(evidence, classes, signature_thresholds)
    measured = evidence.pixel_only is not None or evidence.diffusion is not None  # whole-volume pixel readings
    if not evidence.has_pixels and not evidence.has_header and signature is None and not measured:
        return Annotation(
            status=Status.ERROR,
            reason=f"nothing to classify: {evidence.pixel_error or 'no pixels'} and no acquisition header",
            sequence=UNKNOWN,
            plane=facts.plane,
            plane_source=PlaneSource.HEADER if facts.header_plane else PlaneSource.NONE,
            contrast=Contrast.NA,
            confidence=0.0,
            flags=tuple(dict.fromkeys(flags)),
            evidence=evidence,
        )
    if not evidence.has_header:
        flags.append(Flag.HEADER_UNINFORMATIVE)
    if evidence.pixels_skipped:
        flags.append(Flag.PIXELS_SKIPPED)
    elif not evidence.has_pixels and Flag.NO_PIXELS not in flags:
        flags.append(Flag.NO_USABLE_PIXELS)
    limit = abstention_threshold(fusion, evidence.has_header, threshold)
    abstained = ""  # why a per-class-threshold model abstained, when a class has no threshold at all
    timing = class_threshold_decision(evidence.timing_proba, classes, timing_thresholds)
    if timing is not None:
        proba = np.asarray(evidence.timing_proba, np.float32)
        decision, limit = timing, float((timing_thresholds or {}).get(timing.top, 1.0))
        if timing.top not in (timing_thresholds or {}):
            abstained = f"the timing model has no validated threshold for {timing.top}"
        if timing.label != UNKNOWN:
            family = tuple((timing_families or {}).get(timing.label, (timing.label,)))
            decision, split = fluid_decision(timing, evidence.fluid, fluid, family, evidence.pixel_error)
            if decision.label != UNKNOWN:
                flags.append(Flag.SEQUENCE_FROM_TIMING)
                if split:
                    flags.append(FlagNote(Flag.FLUID_FROM_PIXELS, split))
            else:
                abstained = split
        elif evidence.diffusion is not None and diffusion is not None:  # the timing abstains on a time series
            frames, note = diffusion_decision(decision, evidence.diffusion, diffusion)
            if frames.label != UNKNOWN:
                decision, abstained = frames, ""
                flags += [Flag.SEQUENCE_FROM_PIXELS, FlagNote(Flag.DIFFUSION_FROM_PIXELS, note)]
            else:
                abstained = f"{abstained}; {note}" if abstained else note
    elif signature is not None and (signature.label != UNKNOWN or not evidence.has_pixels):
        proba = np.asarray(evidence.signature_proba, np.float32)
        decision, limit = signature, float((signature_thresholds or {}).get(signature.top, 1.0))
        if signature.label != UNKNOWN:
            flags.append(Flag.SEQUENCE_FROM_PIXELS)
    else:
        if evidence.has_pixels or evidence.has_header:
            proba = fuse_evidence(evidence.slice_proba, evidence.forest_proba, fusion)
            decision = decide(proba, classes, limit)
        else:  # only a whole-volume reading (its slices could not be classified): no model voted
            proba, decision = np.zeros(len(classes), np.float32), Decision(UNKNOWN, 0.0, UNKNOWN)
        if decision.label == UNKNOWN and not evidence.has_header and evidence.diffusion is not None and diffusion:
            decision, note = diffusion_decision(decision, evidence.diffusion, diffusion)
            if decision.label != UNKNOWN:
                flags += [Flag.SEQUENCE_FROM_PIXELS, FlagNote(Flag.DIFFUSION_FROM_PIXELS, note)]
            else:
                abstained = note
        elif decision.label == UNKNOWN and not evidence.has_header and evidence.pixel_only is not None and fluid:
            decision, flag, note = pixel_only_decision(decision, evidence.pixel_only, fluid, grey_white)
            if flag is not None:
                flags += [Flag.SEQUENCE_FROM_PIXELS, FlagNote(flag, note)]
            else:
                abstained = note
        elif decision.label == UNKNOWN and not evidence.has_header and evidence.pixel_only_skipped:
            abstained = f"no pixel-only call: {evidence.pixel_only_skipped}"
    gadolinium = gadolinium_decision(decision, evidence, facts, enhancement, classes)
    if gadolinium is not None and enhancement is not None:
        decision = gadolinium
        ratio = f"enhancement {evidence.enhancement or 0.0:.2f} >= {enhancement.threshold:.2f}"
        flags.append(FlagNote(Flag.CONTRAST_FROM_PIXELS, ratio))
    elif enhancement is not None and decision.label == SequenceClass.T1 and not facts.contrast_agent:
        if evidence.enhancement is None:  # not measured: nothing tells this T1 from one after gadolinium
            flags.append(FlagNote(Flag.CONTRAST_UNCHECKED, evidence.enhancement_skipped or "not measured"))
    slices = evidence.slice_proba if evidence.has_pixels else None
    cnn_label = classes[int(np.argmax(slices.mean(0)))] if slices is not None else ""
    forest = evidence.forest_proba
    forest_label = classes[int(np.argmax(forest))] if forest is not None else ""
    vote = classes[int(np.argmax(majority_vote(slices, forest)))] if slices is not None else None
    if forest_label and cnn_label != forest_label and pixels_confident(evidence.slice_proba, fusion):
        flags.append(Flag.PIXELS_HEADER_DISAGREE)
    # A description's "T1" says nothing of gadolinium: no disagreement with a T1C that the pixels decided.
    agreeing = (UNKNOWN, facts.rule_sequence, SequenceClass.T1C if gadolinium and facts.rule_sequence == "T1" else "")
    if facts.rule_sequence and decision.label not in agreeing:
        flags.append(Flag.DESCRIPTION_DISAGREES)
    plane, source = _plane(facts, evidence.orient_proba, orient_classes)
    if source is PlaneSource.PIXELS:
        flags.append(Flag.ORIENTATION_FROM_PIXELS)
    known = decision.label != UNKNOWN
    return Annotation(
        status=Status.OK if known else Status.UNKNOWN,
        reason=""
        if known
        else (
            abstained
            if decision.confidence >= limit
            else f"confidence {decision.confidence:.2f} below {limit:.2f} (best: {decision.top})"
            + (f"; {abstained}" if abstained else "")
        ),
        sequence=_sequence(decision.label),
        plane=plane,
        plane_source=source,
        contrast=series_contrast(decision.label, facts.contrast_agent) if known else Contrast.NA,
        confidence=decision.confidence,
        flags=tuple(dict.fromkeys(flags)),
        opinions=Opinions(
            cnn_sequence=cnn_label,
            forest_sequence=forest_label,
            vote_sequence=vote,
            rule_sequence=facts.rule_sequence or None,
            proba=tuple((c, float(p)) for c, p in zip(classes, proba)),
        ),
        evidence=evidence,
    )


def gadolinium_decision(
    decision: Decision,
    evidence: Evidence,
    facts: SeriesFacts,
    test: ContrastEnhancement | None,
    classes: Sequence[str],
) -> Decision | None:
    """The T1C decision that replaces a T1 one when the pixels show enhancement, else None.

    It applies only where no header can answer: the decision is T1, the header names no Contrast/Bolus Agent,
    the bundle has T1C among its classes and a validated test, and the series' enhancement ratio was measured
    and reaches the test's threshold. The confidence is the decision's, capped at the lower bound of the test's
    out-of-fold precision (a header forest sure of "T1" is not evidence about gadolinium).
    """
    if test is None or evidence.enhancement is None or facts.contrast_agent:
        return None
    if decision.label != SequenceClass.T1 or SequenceClass.T1C not in classes:
        return None
    if evidence.enhancement < test.threshold:
        return None
    return Decision(SequenceClass.T1C.value, min(decision.confidence, test.precision), decision.top)


def fluid_decision(
    decision: Decision, reading: float | None, test: FluidContrast | None, family: Sequence[str], why_not: str = ""
) -> tuple[Decision, str]:
    """(the decision, a note) for a timing-model answer that stands for the sequences ``family``.

    A class that stands for itself is returned as it is, with no note. The T2 family (T2 or FLAIR) is decided by
    the bundle's fluid test on the measured ``reading``: its call, with the confidence capped at the lower bound
    of the test's out-of-fold precision and the reading as the note; UNKNOWN, with the reason as the note, when
    the bundle has no such test, the volume was not measured (``why_not``: why), or the reading lies in the
    test's band.
    """
    family = tuple(family)
    if len(family) < 2:
        return decision, ""
    unknown = Decision(UNKNOWN, decision.confidence, decision.label)
    stands = f"the timing model's {decision.label} stands for {' or '.join(family)}"
    if test is None or set(family) != {SequenceClass.T2, SequenceClass.FLAIR}:
        return unknown, f"{stands}, and the bundle has no test that tells them apart"
    if reading is None:
        return unknown, f"{stands}, and the fluid test could not measure the volume" + (
            f": {why_not}" if why_not else ""
        )
    call = test.call(reading)
    if call is None:
        return unknown, (
            f"{stands}; fluid reading {reading:.2f} lies in the band [{test.flair_below:.2f}, {test.t2_from:.2f}) "
            "where the test abstains"
        )
    bound = f"< {test.flair_below:.2f}" if call == SequenceClass.FLAIR else f">= {test.t2_from:.2f}"
    return Decision(call, min(decision.confidence, test.precision), call), f"fluid {reading:.2f} {bound}"


def pixel_only_decision(
    decision: Decision, readings: PixelOnlyReadings, fluid: FluidContrast, grey_white: GreyWhiteContrast | None
) -> tuple[Decision, Flag | None, str]:
    """(the decision, the flag that says which test made it, a note) for a volume with no acquisition header,
    from its :class:`PixelOnlyReadings`; ``decision`` (UNKNOWN), no flag and the reason when the pixels do not
    tell.

    * bright fluid (at or above the fluid test's T2 bound), where the fluid test makes pixel-only calls and the
      volume is in their scope: T2 (flag ``fluid_from_pixels``), with :attr:`FluidContrast.pixel_only_precision`
      as its confidence;
    * dark fluid (below the fluid test's FLAIR bound) and a grey/white reading (taken only where the grey/white
      test makes calls and the volume is in their scope): T1 below :attr:`GreyWhiteContrast.t1_below`, FLAIR from
      :attr:`GreyWhiteContrast.flair_from` (flag ``grey_white_from_pixels``), with
      :attr:`GreyWhiteContrast.precision` as its confidence.
    """
    level = readings.fluid
    if level >= fluid.t2_from:
        if fluid.pixel_only_voxel_mm is not None and readings.t2_in_scope:
            t2 = Decision(SequenceClass.T2, fluid.pixel_only_precision, SequenceClass.T2)
            return t2, Flag.FLUID_FROM_PIXELS, f"fluid {level:.2f} >= {fluid.t2_from:.2f}"
        return decision, None, f"fluid reading {level:.2f}: bright fluid, but the bundle makes no pixel-only T2 call"
    if level >= fluid.flair_below:
        band = f"{fluid.flair_below:.2f}..{fluid.t2_from:.2f}"
        return decision, None, f"fluid reading {level:.2f} in the fluid test's band ({band}): a T2 or a FLAIR"
    if grey_white is None or readings.grey_white is None:
        return (
            decision,
            None,
            (
                f"fluid reading {level:.2f} below {fluid.flair_below:.2f}: a T1, FLAIR or PD, which the pixels alone "
                "do not tell apart here"
            ),
        )
    reading, call = readings.grey_white, grey_white.call(readings.grey_white)
    note = f"fluid {level:.2f} < {fluid.flair_below:.2f}, grey/white {reading:.3f}"
    if call is None:
        band = f"{grey_white.t1_below:.3f}..{grey_white.flair_from:.3f}"
        return decision, None, f"{note}: in the grey/white test's band ({band}), a T1 or a FLAIR"
    bound = f"< {grey_white.t1_below:.3f}" if call == SequenceClass.T1 else f">= {grey_white.flair_from:.3f}"
    return Decision(call, grey_white.precision, call), Flag.GREY_WHITE_FROM_PIXELS, f"{note} {bound}"


def diffusion_decision(decision: Decision, reading: DiffusionReading, test: DiffusionTest) -> tuple[Decision, str]:
    """(DWI with the test's precision as confidence, the readings against the bounds) for a time series that
    :meth:`DiffusionTest.call` finds diffusion-weighted; else (``decision``, why not)."""
    if test.call(reading):
        note = (
            f"{reading.weighted} of {reading.volumes} frames at {reading.attenuation:.2f} < "
            f"{test.attenuated_below:.2f} of the brightest, free water {reading.free_water:.2f} < "
            f"{test.free_water_below:.2f}"
        )
        return Decision(SequenceClass.DWI, test.precision, SequenceClass.DWI), note
    if reading.free_water is None:
        why = (
            f"no frame of the {reading.volumes} darker than {test.attenuated_below:.2f} of the brightest (darkest "
            f"{reading.attenuation:.2f}): not diffusion-weighted; BOLD, perfusion and field maps are not told apart "
            "by their frames"
        )
    else:
        why = (
            f"{reading.weighted} of {reading.volumes} frames at {reading.attenuation:.2f} of the brightest, but free "
            f"water keeps {reading.free_water:.2f} (not below {test.free_water_below:.2f}) of what the rest of the "
            "head keeps: not diffusion (echo decay, or an M0 frame)"
        )
    return decision, why


def _signature_decision(
    evidence: Evidence, classes: Sequence[str], thresholds: Mapping[str, float] | None
) -> Decision | None:
    """The pixel-signature model's decision for a series without an acquisition header (None when it does not
    apply): its class when the confidence reaches that class's validated threshold, else UNKNOWN."""
    if evidence.has_header:
        return None
    return class_threshold_decision(evidence.signature_proba, classes, thresholds)


def class_threshold_decision(
    proba: np.ndarray | None, classes: Sequence[str], thresholds: Mapping[str, float] | None
) -> Decision | None:
    """A per-class-threshold model's decision (None when it did not vote): its most probable class when the
    confidence reaches that class's validated threshold, else UNKNOWN (a class without a threshold abstains)."""
    if proba is None or thresholds is None:
        return None
    proba = np.asarray(proba)
    j = int(np.argmax(proba))
    conf = float(proba[j])
    top = classes[j]
    return Decision(top if conf >= float(thresholds.get(top, 1.01)) else UNKNOWN, conf, top)


def not_classified(reason: str, plane: str, flags: tuple[SeriesFlag, ...] = ()) -> Annotation:
    """The annotation of a series the models are not asked about (e.g. a non-MR series): ``skipped``."""
    return Annotation(
        status=Status.SKIPPED,
        reason=reason,
        sequence=None,
        plane=as_text(plane),
        plane_source=None,
        contrast=Contrast.NA,
        confidence=None,
        flags=flags,
    )
