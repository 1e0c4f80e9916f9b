"""``radclass annotate``: scan -> header forest + slice CNN -> fused, abstaining decision per series.

This module schedules: it gathers the models' evidence of every MR series (header forest in one batched call,
slices decoded and the CNN run in worker processes, a chunk of series at a time), asks the decision policy
(:func:`radclass.models.decision.decide_series`) and the anatomy gate for each series' annotation, and has
:mod:`radclass.outputs.annotations` make the rows. Every input file ends up in the output: series rows
(``ok``/``unknown``/``skipped`` for non-MR/``error``) and the scan's skipped-file rows. Inference uses
onnxruntime only. Pixels are decoded only for the series :func:`radclass.pipeline.pixel_policy.pixel_need`
names (``--pixels auto``), or for every series (``--pixels all``).
"""

from __future__ import annotations

import itertools
import json
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

from radclass.anatomy.gate import AnatomyGate, non_brain_outcome
from radclass.anatomy.vocabulary import UNDECIDED, AnatomyDecision
from radclass.features.contrast import series_signature
from radclass.features.diffusion import DiffusionReading, diffusion_reading
from radclass.features.header import header_matrix
from radclass.features.slices import prepare_batch
from radclass.io.pixels import PixelReadError, load_frames, load_slices, load_volume, volume_spacing
from radclass.io.series import Series
from radclass.models.bundle import DEFAULT_BUNDLE, ModelBundle, PixelOnlyReadings
from radclass.models.decision import (
    Annotation,
    Evidence,
    SeriesFacts,
    class_threshold_decision,
    decide_series,
    fuse_evidence,
    header_forest_votes,
    header_is_timing_only,
    not_classified,
)
from radclass.outputs.annotations import annotation_columns, annotation_row
from radclass.pipeline.pixel_policy import PixelMode, pixel_need
from radclass.pipeline.scan import ScanResult, scan
from radclass.rules import LabelRules
from radclass.taxonomy import UNKNOWN, Flag, SequenceClass
from radclass.values import as_text, is_missing

_SERIES_CHUNK = 4  # series per slice-decoding task (its slices go through the CNN in one call)
_PARALLEL_SERIES_MIN = 8  # below this many series, decoding in-process is faster than starting workers


@dataclass
class SeriesEvidence:
    """What the models saw of one series, filled in as the evidence is gathered (:meth:`evidence` is the
    decision policy's frozen view of it)."""

    slice_proba: np.ndarray | None = None  # (k, n_classes)
    orient_proba: np.ndarray | None = None  # (k, 3)
    forest_proba: np.ndarray | None = None  # (n_classes,)
    pixel_error: str = ""
    pixels_skipped: bool = False  # --pixels auto: the pixels could change nothing published (pixel_policy)
    anatomy: AnatomyDecision | None = None  # the anatomy gate's decision, when a worker process measured pixels
    signature_proba: np.ndarray | None = None  # (n_classes,) pixel-signature model, series without a header only
    enhancement: float | None = None  # enhancement ratio of a T1 volume without a contrast agent (gadolinium test)
    timing_proba: np.ndarray | None = None  # (n_classes,) timing model, headers with timing and no technique only
    fluid: float | None = None  # fluid reading of a volume the timing model calls T2 family (fluid test)
    enhancement_skipped: str = ""  # why the gadolinium test took no reading of a T1 answer (enhancement_refusal)
    pixel_only: PixelOnlyReadings | None = None  # brain readings of a volume with no acquisition header
    pixel_only_skipped: str = ""  # why such a volume was not measured (pixel_only_refusal, or the measure's error)
    diffusion: DiffusionReading | None = None  # frames of a time series the header does not decide (diffusion test)

    def evidence(self) -> Evidence:
        """The decision policy's input: the probabilities and the pixel notes."""
        return Evidence(
            self.slice_proba,
            self.orient_proba,
            self.forest_proba,
            self.pixel_error,
            self.pixels_skipped,
            self.signature_proba,
            self.enhancement,
            self.timing_proba,
            self.fluid,
            self.enhancement_skipped,
            self.pixel_only,
            self.pixel_only_skipped,
            self.diffusion,
        )


def is_mr_candidate(s: Series) -> bool:
    """MR DICOM, any NIfTI (MR unless its sidecar says otherwise), and 2D images of unknown modality."""
    modality = str(s.header.get("modality") or "").upper()
    if s.format == "dicom":
        return modality == "MR"
    return modality in ("", "MR")


def annotate_scan(
    result: ScanResult,
    bundle: ModelBundle,
    *,
    slices: int | None = None,
    rules: LabelRules | None = None,
    threshold: float | None = None,
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
    anatomy: AnatomyGate | None = None,
    pixels: PixelMode | str = PixelMode.AUTO,
) -> list[dict[str, Any]]:
    """Rows for every series and skipped file of ``result``; ``pixels`` chooses the series whose slices are
    decoded for the CNN (:mod:`radclass.pipeline.pixel_policy`); ``slices`` per series (default: the bundle's
    ``slices_per_series``)."""
    candidates = [s for s in result.series if is_mr_candidate(s)]
    anatomy = anatomy or AnatomyGate()
    k = slices or bundle.slices_per_series
    evidence = _gather_evidence(candidates, bundle, k, workers, progress, PixelMode.parse(pixels), anatomy)
    return rows_from_evidence(result, bundle, evidence, rules=rules, threshold=threshold, anatomy=anatomy)


def rows_from_evidence(
    result: ScanResult,
    bundle: ModelBundle,
    evidence: dict[str, SeriesEvidence],
    *,
    rules: LabelRules | None = None,
    threshold: float | None = None,
    anatomy: AnatomyGate | None = None,
) -> list[dict[str, Any]]:
    """Rows for every series and skipped file of ``result``, given the models' evidence per MR series key
    (shared by the local engine and the Ray engine, :mod:`radclass.pipeline.ray_engine`)."""
    rules = rules or LabelRules.load()
    anatomy = anatomy or AnatomyGate()
    rows: list[dict[str, Any]] = []
    for s in result.series:
        row = s.row()
        if s.key in evidence:
            ev = evidence[s.key]
            region = ev.anatomy if ev.anatomy is not None else anatomy.decide(s)
            annotation = annotate_series(s, row, ev.evidence(), region, bundle, rules, threshold)
            rows.append(annotation_row(row, annotation, bundle.version, region))
        else:
            reason = f"modality {row.get('modality') or 'unknown'}: not an MR series"
            annotation = not_classified(reason, as_text(s.header.get("orientation")), s.flags)
            rows.append(annotation_row(row, annotation, bundle.version))
    for skipped in result.skipped:
        rows.append({**skipped.row(), "model_version": bundle.version})
    return rows


def annotate_series(
    s: Series,
    row: dict[str, Any],
    evidence: Evidence,
    region: AnatomyDecision,
    bundle: ModelBundle,
    rules: LabelRules,
    threshold: float | None = None,
) -> Annotation:
    """The annotation of one MR series: the decision policy over its evidence and header facts, the pixel
    model's vote withheld for a non-brain series (:mod:`radclass.anatomy.gate`)."""
    if region.non_brain:
        evidence = evidence.without_pixels("non-brain series, no pixel-model vote")
    rule = rules.label(row)
    facts = SeriesFacts(
        plane=as_text(s.header.get("orientation")),
        contrast_agent=not is_missing(s.header.get("contrast_agent")),
        flags=tuple(s.flags),
        rule_sequence=rule[0] if rule else "",
    )
    annotation = decide_series(
        evidence,
        facts,
        classes=bundle.classes,
        orient_classes=bundle.orient_classes,
        fusion=bundle.fusion,
        threshold=threshold,
        signature_thresholds=signature.thresholds if (signature := bundle.metadata.pixel_signature) else None,
        enhancement=bundle.metadata.contrast_enhancement,
        timing_thresholds=timing.thresholds if (timing := bundle.metadata.timing) else None,
        timing_families=timing.families if timing else None,
        fluid=bundle.metadata.fluid_contrast,
        grey_white=bundle.metadata.grey_white_contrast,
        diffusion=bundle.metadata.diffusion_test,
    )
    status, reason, flags = non_brain_outcome(region, annotation.status, annotation.reason, annotation.flags)
    return replace(annotation, status=status, reason=reason, flags=flags)


def initial_evidence(
    candidates: list[Series], bundle: ModelBundle, mode: PixelMode
) -> tuple[dict[str, SeriesEvidence], list[Series]]:
    """(empty evidence per candidate, the candidates whose pixels are to be decoded): series without pixel data
    get their reason, and under ``--pixels auto`` the series whose pixels could change nothing are marked
    skipped (:func:`radclass.pipeline.pixel_policy.pixel_need`). Shared by the local and the Ray engine."""
    evidence = {s.key: SeriesEvidence() for s in candidates}
    with_pixels = []
    for s in candidates:
        if Flag.NO_PIXELS in s.flags:
            evidence[s.key].pixel_error = "no pixel data"
        elif bundle.has("cnn") and not pixel_need(s.header, bundle.fusion, mode):
            evidence[s.key].pixels_skipped = True
        else:
            with_pixels.append(s)
    return evidence, with_pixels


def _gather_evidence(
    candidates: list[Series],
    bundle: ModelBundle,
    k: int,
    workers: int,
    progress: Callable[[int, int], None] | None,
    mode: PixelMode,
    gate: AnatomyGate,
) -> dict[str, SeriesEvidence]:
    evidence, with_pixels = initial_evidence(candidates, bundle, mode)
    size = bundle.input_size
    work = pixel_work(candidates, with_pixels, bundle, gate)
    done = len(candidates) - len(work)
    total = len(candidates)
    if progress:
        progress(done, total)
    # Slices are decoded, and the CNN run on them, in worker processes (pydicom and the slice preparation hold
    # the GIL); the forest runs here meanwhile.
    pool = None
    chunks = [work[i : i + _SERIES_CHUNK] for i in range(0, len(work), _SERIES_CHUNK)]
    process_bundle = ProcessBundle(bundle)
    if workers > 1 and len(work) >= _PARALLEL_SERIES_MIN:
        pool = ProcessPoolExecutor(max_workers=workers)
        loaded = _bounded_map(pool, chunks, k, size, gate, process_bundle, window=4 * workers)
    else:
        loaded = (r for chunk in chunks for r in infer_series_chunk(chunk, k, size, gate, bundle.cnn_proba))
    try:
        # Header forest: one batched call.
        add_forest_evidence(candidates, bundle, evidence)
        targets = volume_targets(candidates, bundle, evidence, gate)
        # The volume tests queue behind the slice work, in the same workers (when there are any: none are forked
        # after this process's forest session exists).
        measured = [pool.submit(measure_volume, s, process_bundle, test) for s, test in targets] if pool else []
        for (s, need_cnn, _), (proba, err, region) in zip(work, loaded):
            if region is not None:
                evidence[s.key].anatomy = region
            if need_cnn and proba is None:
                evidence[s.key].pixel_error = err or "no slices"
            elif need_cnn and proba is not None:
                evidence[s.key].slice_proba, evidence[s.key].orient_proba = proba
            done += 1
            if progress:
                progress(done, total)
        for (s, test), future in zip(targets, measured):
            set_volume_reading(evidence[s.key], test, *future.result())
        if pool is None:
            for s, test in targets:
                set_volume_reading(evidence[s.key], test, *measure_volume(s, bundle, test))
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    add_signature_evidence(candidates, bundle, evidence)
    return evidence


def add_signature_evidence(candidates: list[Series], bundle: ModelBundle, evidence: dict[str, SeriesEvidence]) -> None:
    """Pixel-signature probabilities of the candidates the header forest could not judge (no acquisition
    header) and whose pixels can be read, when the bundle has that model; a series whose pixels cannot be
    described keeps its CNN evidence alone (the reason is added to its pixel notes)."""
    reading = bundle.metadata.pixel_signature
    if reading is None or not bundle.has("pixel_signature"):
        return
    keys, rows = [], []
    for s in candidates:
        ev = evidence[s.key]
        if ev.forest_proba is not None or Flag.NO_PIXELS in s.flags:
            continue
        try:
            rows.append(series_signature(s, reading.slices))
        except Exception as err:  # one undecodable series must not stop the run; the policy then abstains
            ev.pixel_error = ev.pixel_error or f"pixel signature failed ({type(err).__name__}: {err})"
            continue
        keys.append(s.key)
    if rows:
        for key, p in zip(keys, bundle.pixel_signature_proba(np.stack(rows))):
            evidence[key].signature_proba = p


def enhancement_refusal(s: Series, ev: SeriesEvidence, bundle: ModelBundle, gate: AnatomyGate) -> str | None:
    """None when the bundle's gadolinium test is to measure the series: the models' evidence points to T1, the
    series has pixels and is within the test's scope (:meth:`ContrastEnhancement.not_measured`: no contrast agent
    named, enough slices, field strength), and its header does not place it outside the brain (a series the gate's
    pixel stage later finds non-brain loses the measure with the rest of its pixel evidence,
    :func:`annotate_series`). Else why not: '' when the test is not asked (no test, no header model voted, the
    evidence is not T1), a reason for a person when a T1 is left unmeasured (flag ``contrast_unchecked``)."""
    test = bundle.metadata.contrast_enhancement
    if test is None or not ev.evidence().has_header:
        return ""
    if ev.timing_proba is not None:  # the timing model's answer: only a T1 at or above its threshold is one
        timing = bundle.metadata.timing
        answer = class_threshold_decision(ev.timing_proba, bundle.classes, timing.thresholds if timing else None)
        if answer is None or answer.label != SequenceClass.T1:
            return ""
    else:
        proba = fuse_evidence(ev.slice_proba, ev.forest_proba, bundle.fusion)
        if bundle.classes[int(np.argmax(proba))] != SequenceClass.T1:
            return ""
    if Flag.NO_PIXELS in s.flags:
        return "no pixel data"
    scope = test.not_measured(s.header, s.n_frames)
    if scope:
        return scope
    region = gate.from_header(s.header)
    if region is not None and region.non_brain:
        return "the header places the series outside the brain"
    return None


def needs_fluid(s: Series, ev: SeriesEvidence, bundle: ModelBundle, gate: AnatomyGate) -> bool:
    """Whether the bundle's fluid test can decide the series' label, and the header does not place the series
    outside the brain: the timing model answers a class that stands for T2 and FLAIR
    (:attr:`TimingModel.families`). (A volume with too few slices, or not a whole brain, is refused by the measure
    itself, which gives the reason.)"""
    test, timing = bundle.metadata.fluid_contrast, bundle.metadata.timing
    if test is None or timing is None or ev.timing_proba is None or Flag.NO_PIXELS in s.flags:
        return False
    answer = class_threshold_decision(ev.timing_proba, bundle.classes, timing.thresholds)
    if answer is None or SequenceClass.FLAIR not in timing.family(answer.label):
        return False
    region = gate.from_header(s.header)
    return region is None or not region.non_brain


def pixel_only_refusal(s: Series, ev: SeriesEvidence, bundle: ModelBundle) -> str | None:
    """None when a series is in the scope of the bundle's pixel-only calls (:func:`radclass.models.decision.
    pixel_only_decision`): no acquisition header, pixel data, one volume (a 4D series is diffusion, BOLD or
    perfusion), enough slices, and voxels fine enough for the fluid test's T2 call or the grey/white test's
    T1/FLAIR call, where the bundle makes them. Else '' when the question does not arise (a header, no fluid test,
    no pixel data), or why such a volume is not measured (the series' reason when it stays UNKNOWN)."""
    fluid, grey_white = bundle.metadata.fluid_contrast, bundle.metadata.grey_white_contrast
    if fluid is None or ev.evidence().has_header or Flag.NO_PIXELS in s.flags:
        return ""
    if fluid.pixel_only_voxel_mm is None and (grey_white is None or grey_white.pixel_only_voxel_mm is None):
        return ""  # the bundle makes no pixel-only calls at all
    try:
        volumes = int(float(s.header.get("temporal_positions") or 1))
    except (TypeError, ValueError):
        volumes = 1
    if volumes > 1:
        return f"{volumes} volumes (diffusion, BOLD or perfusion: no pixel-only call)"
    if (s.n_frames or 0) < fluid.min_slices:
        return f"{s.n_frames or 0} slices, fewer than {fluid.min_slices}"
    spacing = volume_spacing(s)
    refusals = [fluid.pixel_only_refusal(spacing)] if fluid.pixel_only_voxel_mm is not None else []
    if grey_white is not None and grey_white.pixel_only_voxel_mm is not None:
        refusals.append(grey_white.pixel_only_refusal(spacing))
    return None if None in refusals else refusals[0]  # one test that makes calls is enough


class VolumeTest(StrEnum):
    """A measure of a series' whole first volume inside the learned brain mask, that changes its label."""

    ENHANCEMENT = "enhancement"
    """The gadolinium test (:func:`enhancement_refusal`): T1 or T1C (for a header with timing alone, only on a whole
    brain)."""
    FLUID = "fluid"
    """The fluid test (:func:`needs_fluid`): T2 or FLAIR."""
    PIXEL_ONLY = "pixel-only readings"
    """A volume with no acquisition header (:func:`pixel_only_refusal`): fluid, grey/white and, for a T1 call,
    enhancement."""
    DIFFUSION = "diffusion reading"
    """A time series with no acquisition header, or a timing-only one the timing model abstains on
    (:func:`needs_diffusion`): DWI or not, from its frames."""


#: What :func:`measure_volume` returns: an enhancement ratio, a fluid reading, a volume's pixel-only readings, or
#: a time series' diffusion reading.
VolumeReading = float | PixelOnlyReadings | DiffusionReading | None


def needs_diffusion(s: Series, ev: SeriesEvidence, bundle: ModelBundle) -> bool:
    """Whether the bundle's diffusion test (:func:`radclass.models.decision.diffusion_decision`) is to read a
    series' frames: a NIfTI (:func:`radclass.io.pixels.load_frames`) of two volumes or more with no acquisition
    header, or with a timing-only header on which the timing model abstains."""
    if bundle.metadata.diffusion_test is None or s.format != "nifti":
        return False
    evidence = ev.evidence()
    if evidence.forest_proba is not None:
        return False
    if evidence.timing_proba is not None:
        timing = bundle.metadata.timing
        vote = class_threshold_decision(evidence.timing_proba, bundle.classes, timing.thresholds if timing else None)
        if vote is not None and vote.label != UNKNOWN:
            return False
    try:
        return int(float(s.header.get("temporal_positions") or 1)) > 1
    except (TypeError, ValueError):
        return False


def volume_targets(
    candidates: list[Series], bundle: ModelBundle, evidence: dict[str, SeriesEvidence], gate: AnatomyGate
) -> list[tuple[Series, VolumeTest]]:
    """The candidates whose volume is to be measured, each with its test, once the header models have voted;
    none when the bundle has no brain mask."""
    if not bundle.has("brain_mask"):
        return []
    targets = []
    for s in candidates:
        ev = evidence[s.key]
        refusal = enhancement_refusal(s, ev, bundle, gate)
        if refusal is None:
            targets.append((s, VolumeTest.ENHANCEMENT))
            continue
        ev.enhancement_skipped = refusal
        if needs_fluid(s, ev, bundle, gate):
            targets.append((s, VolumeTest.FLUID))
            continue
        region = gate.from_header(s.header)
        outside = region is not None and region.non_brain
        if needs_diffusion(s, ev, bundle) and not outside:
            targets.append((s, VolumeTest.DIFFUSION))
            continue
        why = pixel_only_refusal(s, ev, bundle)
        if why is None and not outside:
            targets.append((s, VolumeTest.PIXEL_ONLY))
        elif why:
            ev.pixel_only_skipped = why
    return targets


def measure_volume(s: Series, bundle: ModelBundle | ProcessBundle, test: VolumeTest) -> tuple[VolumeReading, str]:
    """(the reading of ``test`` on the first volume of ``s``, "") or (None, why it could not be measured), in
    this process (a :class:`ProcessBundle` gives the process's own copy of the bundle)."""
    model = bundle.local() if isinstance(bundle, ProcessBundle) else bundle
    try:
        if test is VolumeTest.DIFFUSION:
            return diffusion_reading(load_frames(s)), ""
        volume = load_volume(s)
        if test is VolumeTest.ENHANCEMENT:
            # A header with timing alone names no body part, and the anatomy gate's pixel stage can take a pelvis
            # for a head: such a volume is measured only when its mask is a whole brain.
            timing_only = header_is_timing_only(s.header)
            spacing = volume_spacing(s) if timing_only else None
            return model.enhancement_ratio(volume, whole_brain=timing_only, spacing=spacing), ""
        if test is VolumeTest.PIXEL_ONLY:
            return model.pixel_only_readings(volume, volume_spacing(s)), ""
        return model.fluid_contrast(volume, volume_spacing(s)), ""
    except Exception as err:  # an unreadable or unmeasurable volume must not stop the run; the test abstains
        return None, f"{test} not measured ({err})"


def set_volume_reading(ev: SeriesEvidence, test: VolumeTest, reading: VolumeReading, error: str) -> None:
    """Record a measured reading of ``test``, or why there is none (added to the series' pixel notes)."""
    if isinstance(reading, PixelOnlyReadings):
        ev.pixel_only = reading
        ev.enhancement, ev.enhancement_skipped = reading.enhancement, reading.enhancement_skipped
    elif isinstance(reading, DiffusionReading):
        ev.diffusion = reading
    elif test in (VolumeTest.PIXEL_ONLY, VolumeTest.DIFFUSION):
        ev.pixel_only_skipped = error
    elif test is VolumeTest.ENHANCEMENT:
        ev.enhancement = reading
        ev.enhancement_skipped = error if reading is None else ""
    else:
        ev.fluid = reading
    if reading is None:
        ev.pixel_error = ev.pixel_error or error


WorkItem = tuple[Series, bool, bool]  # (series, decode for the CNN, run the anatomy gate's pixel stage)
WorkResult = tuple[np.ndarray | None, str, AnatomyDecision | None]  # (CNN input batch, pixel error, anatomy)
CnnProba = tuple[np.ndarray, np.ndarray]  # per-slice (sequence, orientation) probabilities of one series
InferResult = tuple[CnnProba | None, str, AnatomyDecision | None]  # (CNN probabilities, pixel error, anatomy)
CnnModel = Callable[[np.ndarray], CnnProba]  # a prepared (n, 1, s, s) batch -> per-slice probabilities


def pixel_work(
    candidates: list[Series], with_pixels: list[Series], bundle: ModelBundle, gate: AnatomyGate
) -> list[WorkItem]:
    """The pixel work of the candidates, in order: CNN slices for ``with_pixels`` (when the bundle has a CNN),
    and the anatomy gate's pixel stage for the series whose header and rules name no region, so that both run
    in the decoding workers (local processes or Ray tasks) rather than one after the other in the driver."""
    cnn_keys = {s.key for s in with_pixels} if bundle.has("cnn") else set()
    anatomy_keys = {
        s.key
        for s in candidates
        if gate.pixels and Flag.NO_PIXELS not in s.flags and gate.from_header(s.header) is None
    }
    return [
        (s, s.key in cnn_keys, s.key in anatomy_keys) for s in candidates if s.key in cnn_keys or s.key in anatomy_keys
    ]


def _bounded_map(
    pool: ProcessPoolExecutor,
    chunks: list[list[WorkItem]],
    k: int,
    size: int,
    gate: AnatomyGate,
    cnn: CnnModel,
    window: int,
) -> Iterator[InferResult]:
    """:func:`infer_series_chunk` of every chunk, item by item in order, with at most ``window`` chunks in
    flight. The first ``window`` are submitted at once, so the worker processes are forked before the caller
    creates any ONNX Runtime session of its own (the forest's)."""
    todo = iter(chunks)
    pending = deque(
        pool.submit(infer_series_chunk, chunk, k, size, gate, cnn) for chunk in itertools.islice(todo, window)
    )

    def results() -> Iterator[InferResult]:
        while pending:
            part = pending.popleft().result()
            for chunk in itertools.islice(todo, 1):
                pending.append(pool.submit(infer_series_chunk, chunk, k, size, gate, cnn))
            yield from part

    return results()


class ProcessBundle:
    """A bundle in whichever process uses it, with sessions of that process's own (one intra-op thread each,
    created on first use, kept for the process's later calls): calling it runs the CNN
    (:meth:`ModelBundle.cnn_proba`); :meth:`local` gives the process's copy for the other models (the
    gadolinium test, :func:`measure_enhancement`).

    It pickles as the bundle's folder and ``bundle.json``, so the worker processes that decode slices run the
    CNN on them and send back probabilities, not the float32 batches; a worker never uses a session of its
    parent (ONNX Runtime sessions are not to be carried across a fork).
    """

    def __init__(self, bundle: ModelBundle) -> None:
        self.folder, self.meta = bundle.folder, bundle.meta
        self._identity = (str(bundle.folder), json.dumps(bundle.meta, sort_keys=True, default=str))

    def local(self) -> ModelBundle:
        """This process's copy of the bundle (sessions of its own, one thread each)."""
        key = (os.getpid(), *self._identity)
        if key not in _PROCESS_BUNDLES:
            _PROCESS_BUNDLES[key] = ModelBundle(self.folder, self.meta, threads=1)
        return _PROCESS_BUNDLES[key]

    def __call__(self, batch: np.ndarray) -> CnnProba:
        return self.local().cnn_proba(batch)


_PROCESS_BUNDLES: dict[tuple[int, str, str], ModelBundle] = {}


def infer_series_chunk(items: list[WorkItem], k: int, size: int, gate: AnatomyGate, cnn: CnnModel) -> list[InferResult]:
    """:func:`load_series_work` of each item, then ``cnn`` over the slices of all of them in one call:
    (probabilities or None, pixel error, anatomy decision) per item (ONNX Runtime's per-slice results do not
    depend on the batch they are computed in)."""
    loaded = [load_series_work(item, k, size, gate) for item in items]
    ready = [(i, batch) for i, (batch, _, _) in enumerate(loaded) if batch is not None and len(batch)]
    proba = {i: (seq, orient) for i, seq, orient in cnn_evidence(ready, cnn)}
    return [(proba.get(i), err, region) for i, (_, err, region) in enumerate(loaded)]


def load_series_work(item: WorkItem, k: int, size: int, gate: AnatomyGate) -> WorkResult:
    """(CNN input batch or None, reason the pixels could not be used, anatomy decision or None) of one series:
    the batch only when the CNN needs it, the decision only when the gate's pixel stage has to run (an item of
    :func:`pixel_work`: its header and rules name no region; None also when the gate failed: the caller then
    decides as before)."""
    s, need_cnn, need_anatomy = item
    shared = None
    if need_cnn and need_anatomy and k == gate.slices:  # both read the same k slices: decode them once
        try:
            shared = load_slices(s, k)
        except Exception:  # each stage below reads again and reports its own outcome, as when alone
            shared = None
    batch, err = load_prepared(s, k, size, shared) if need_cnn else (None, "")
    region = None
    if need_anatomy:  # pixel_work found that the header and rules decide nothing: gate.decide's pixel stage
        try:
            region = gate.from_pixels(s, shared) or UNDECIDED
        except Exception:  # rows_from_evidence decides again, in the main process, as without workers
            region = None
    return batch, err, region


def add_forest_evidence(candidates: list[Series], bundle: ModelBundle, evidence: dict[str, SeriesEvidence]) -> None:
    """Header-forest probabilities of the candidates the forest judges (:func:`header_forest_votes`), and the
    timing model's for the headers with timing alone when the bundle has one (one batched call each)."""
    voting = [s for s in candidates if header_forest_votes(s.header)]
    if voting and bundle.has("forest"):
        feats = header_matrix([s.row() for s in voting], bundle.feature_names)
        for s, p in zip(voting, bundle.forest_proba(feats)):
            evidence[s.key].forest_proba = p
    timed = [s for s in candidates if header_is_timing_only(s.header)]
    if timed and bundle.metadata.timing is not None and bundle.has("timing"):
        for s, p in zip(timed, bundle.timing_proba([s.row() for s in timed])):
            evidence[s.key].timing_proba = p


def load_prepared(
    s: Series, k: int, size: int, slices: list[np.ndarray] | None = None
) -> tuple[np.ndarray | None, str]:
    """(CNN input batch of ``k`` slices of ``s``, "") or (None, reason the pixels could not be used);
    ``slices``: the ``load_slices(s, k)`` already decoded, if any."""
    try:
        return prepare_batch(slices if slices is not None else load_slices(s, k), size), ""
    except PixelReadError as err:
        return None, str(err)
    except Exception as err:  # a decoder failure must not stop the run
        return None, f"pixel decoding failed ({type(err).__name__}: {err})"


def cnn_evidence(pending: list[tuple[Any, np.ndarray]], cnn: CnnModel) -> list[tuple[Any, np.ndarray, np.ndarray]]:
    """(key, per-slice sequence probabilities, per-slice orientation probabilities) of each (key, batch), with
    one call of ``cnn`` (:meth:`ModelBundle.cnn_proba` or a :class:`ProcessBundle`) over all the slices."""
    if not pending:
        return []
    seq, orient = cnn(np.concatenate([b for _, b in pending]))
    out = []
    start = 0
    for key, b in pending:
        out.append((key, seq[start : start + len(b)], orient[start : start + len(b)]))
        start += len(b)
    return out


def annotate_paths(
    paths: Sequence[Path],
    *,
    slices: int | None = None,
    progress: bool = True,
    bundle: str | Path | ModelBundle = DEFAULT_BUNDLE,
    rules: Path | None = None,
    threshold: float | None = None,
    workers: int | None = None,
    pixels: PixelMode | str = PixelMode.AUTO,
):
    """Scan and annotate ``paths``; one DataFrame row per series and per skipped file. ``pixels``: ``auto``
    decodes only the series whose published columns the pixels can change, ``all`` every series with pixels
    (:mod:`radclass.pipeline.pixel_policy`). ``bundle``: a bundle name or folder, or a loaded bundle (a service
    loads it once); ``slices`` per series: default the bundle's ``slices_per_series``."""
    import pandas as pd

    from radclass.progress import progress_bar

    decode_workers = workers or 2
    # While worker processes decode slices, one ONNX Runtime thread (two would fight them for the cores).
    if isinstance(bundle, ModelBundle):
        model = bundle
    else:
        model = ModelBundle.load(bundle, threads=1 if decode_workers > 1 else 2)
    label_rules = LabelRules.load(rules)
    with progress_bar("Reading headers", enabled=progress) as update:
        result = scan([Path(p) for p in paths], workers=workers, progress=update)
    with progress_bar("Annotating series", enabled=progress) as update:
        rows = annotate_scan(
            result,
            model,
            slices=slices,
            rules=label_rules,
            threshold=threshold,
            workers=decode_workers,
            progress=update,
            pixels=pixels,
        )
    return pd.DataFrame(rows, columns=annotation_columns(model.classes))
