"""``radclass annotate``: scan -> header forest + slice CNN -> fused, abstaining decision per series.

Every input file ends up in the output: series rows (``ok``/``unknown``/``skipped`` for non-MR/``error``) and
the scan's skipped-file rows. Inference uses onnxruntime only. Pixels are decoded only for the series
:func:`radclass.pipeline.pixel_policy.pixel_need` names (``--pixels auto``), or for every series
(``--pixels all``).
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from radclass.anatomy.gate import ANATOMY_COLUMNS, AnatomyGate, finish_row
from radclass.anatomy.vocabulary import AnatomyDecision
from radclass.features.header import header_matrix
from radclass.features.slices import prepare_batch
from radclass.io.pixels import PixelReadError, load_slices
from radclass.io.series import Series
from radclass.models.bundle import DEFAULT_BUNDLE, ModelBundle
from radclass.models.ensemble import decide, fuse, majority_vote
from radclass.pipeline.pixel_policy import PIXELS_SKIPPED_FLAG, PixelMode, header_is_informative, pixel_need
from radclass.pipeline.scan import ScanResult, scan, scan_columns
from radclass.rules import LabelRules
from radclass.taxonomy import DEFAULT_CONTRAST, UNKNOWN, bids_suffix
from radclass.values import is_missing

_ANATOMICAL = {"T1", "T1C", "T2", "FLAIR", "PD", "T2STAR", "SWI", "MRA"}

_CNN_BATCH = 64  # slices per ONNX Runtime call (at least)
_SERIES_CHUNK = 4  # series per slice-decoding task
_PARALLEL_SERIES_MIN = 8  # below this many series, decoding in-process is faster than starting workers

ANNOTATION_COLUMNS = [
    "sequence",
    "orientation",
    "contrast",
    "confidence",
    "bids_suffix",
    "model_version",
    "cnn_sequence",
    "forest_sequence",
    "vote_sequence",
    "rule_sequence",
    "orientation_source",
    *ANATOMY_COLUMNS,
]


@dataclass
class SeriesEvidence:
    """What the models saw of one series."""

    slice_proba: np.ndarray | None = None  # (k, n_classes)
    orient_proba: np.ndarray | None = None  # (k, 3)
    forest_proba: np.ndarray | None = None  # (n_classes,)
    pixel_error: str = ""
    pixels_skipped: bool = False  # --pixels auto: the pixels could change nothing published (pixel_policy)
    anatomy: AnatomyDecision | None = None  # the anatomy gate's decision, when a worker process measured pixels


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
            # Anatomy gate (radclass.anatomy.gate): a non-brain series loses the pixel model's vote.
            ev = evidence[s.key]
            region = ev.anatomy if ev.anatomy is not None else anatomy.decide(s)
            if region.non_brain:
                ev = replace(
                    ev, slice_proba=None, orient_proba=None, pixel_error="non-brain series, no pixel-model vote"
                )
            row.update(finish_row(region, _decide_series(s, row, ev, bundle, rules, threshold)))
        else:
            modality = row.get("modality") or "unknown"
            row.update(
                status="skipped",
                reason=f"modality {modality}: not an MR series",
                sequence="",
                orientation=row.get("orientation"),
                contrast="na",
                confidence=None,
                bids_suffix="",
                model_version=bundle.version,
            )
        rows.append(row)
    for skipped in result.skipped:
        rows.append({**skipped.row(), "model_version": bundle.version})
    return rows


def initial_evidence(
    candidates: list[Series], bundle: ModelBundle, mode: PixelMode
) -> tuple[dict[str, SeriesEvidence], list[Series]]:
    """(empty evidence per candidate, the candidates whose pixels are to be decoded): series without pixel data
    get their reason, and under ``--pixels auto`` the series whose pixels could change nothing are marked
    skipped (:func:`radclass.pipeline.pixel_policy.pixel_need`). Shared by the local and the Ray engine."""
    evidence = {s.key: SeriesEvidence() for s in candidates}
    with_pixels = []
    for s in candidates:
        if "no_pixels" in s.flags:
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
    # Slices are decoded in worker processes (pydicom and the slice preparation hold the GIL), started before
    # any ONNX Runtime session of this call exists; the forest and the CNN run here meanwhile.
    pool = None
    if workers > 1 and len(work) >= _PARALLEL_SERIES_MIN:
        pool = ProcessPoolExecutor(max_workers=workers)
        chunks = [work[i : i + _SERIES_CHUNK] for i in range(0, len(work), _SERIES_CHUNK)]
        loaded = _bounded_map(pool, chunks, k, size, gate, window=4 * workers)
    else:
        loaded = (load_series_work(item, k, size, gate) for item in work)
    try:
        # Header forest: one batched call.
        add_forest_evidence(candidates, bundle, evidence)
        pending: list[tuple[Series, np.ndarray]] = []
        for (s, need_cnn, _), (batch, err, region) in zip(work, loaded):
            if region is not None:
                evidence[s.key].anatomy = region
            if need_cnn and (batch is None or len(batch) == 0):
                evidence[s.key].pixel_error = err or "no slices"
            elif need_cnn:
                pending.append((s, batch))
            if sum(len(b) for _, b in pending) >= _CNN_BATCH:
                _run_cnn(pending, bundle, evidence)
                pending = []
            done += 1
            if progress:
                progress(done, total)
        _run_cnn(pending, bundle, evidence)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return evidence


WorkItem = tuple[Series, bool, bool]  # (series, decode for the CNN, run the anatomy gate's pixel stage)
WorkResult = tuple[np.ndarray | None, str, AnatomyDecision | None]


def pixel_work(
    candidates: list[Series], with_pixels: list[Series], bundle: ModelBundle, gate: AnatomyGate
) -> list[WorkItem]:
    """The pixel work of the candidates, in order: CNN slices for ``with_pixels`` (when the bundle has a CNN),
    and the anatomy gate's pixel stage for the series whose header and rules name no region, so that both run
    in the decoding workers (local processes or Ray tasks) rather than one after the other in the driver."""
    cnn_keys = {s.key for s in with_pixels} if bundle.has("cnn") else set()
    anatomy_keys = {
        s.key for s in candidates if gate.pixels and "no_pixels" not in s.flags and gate.from_header(s.header) is None
    }
    return [
        (s, s.key in cnn_keys, s.key in anatomy_keys) for s in candidates if s.key in cnn_keys or s.key in anatomy_keys
    ]


def _bounded_map(
    pool: ProcessPoolExecutor, chunks: list[list[WorkItem]], k: int, size: int, gate: AnatomyGate, window: int
):
    """:func:`load_series_work` of every item of ``chunks``, in order, with at most ``window`` chunks in
    flight (the decoded slices wait for the CNN in memory)."""
    pending: deque = deque()
    todo = iter(chunks)
    for chunk in itertools.islice(todo, window):
        pending.append(pool.submit(load_series_chunk, chunk, k, size, gate))
    while pending:
        part = pending.popleft().result()
        for chunk in itertools.islice(todo, 1):
            pending.append(pool.submit(load_series_chunk, chunk, k, size, gate))
        yield from part


def load_series_work(item: WorkItem, k: int, size: int, gate: AnatomyGate) -> WorkResult:
    """(CNN input batch or None, reason the pixels could not be used, anatomy decision or None) of one series:
    the batch only when the CNN needs it, the decision only when the gate's pixel stage has to run (None
    also when the gate failed: the caller then decides as before)."""
    s, need_cnn, need_anatomy = item
    batch, err = load_prepared(s, k, size) if need_cnn else (None, "")
    region = None
    if need_anatomy:
        try:
            region = gate.decide(s)
        except Exception:  # rows_from_evidence decides again, in the main process, as without workers
            region = None
    return batch, err, region


def load_series_chunk(items: list[WorkItem], k: int, size: int, gate: AnatomyGate) -> list[WorkResult]:
    return [load_series_work(item, k, size, gate) for item in items]


def add_forest_evidence(candidates: list[Series], bundle: ModelBundle, evidence: dict[str, SeriesEvidence]) -> None:
    """Header-forest probabilities of the candidates whose header is informative (one batched call)."""
    informative = [s for s in candidates if header_is_informative(s.header)]
    if informative and bundle.has("forest"):
        feats = header_matrix([s.row() for s in informative], bundle.feature_names)
        for s, p in zip(informative, bundle.forest_proba(feats)):
            evidence[s.key].forest_proba = p


def load_prepared(s: Series, k: int, size: int) -> tuple[np.ndarray | None, str]:
    """(CNN input batch of ``k`` slices of ``s``, "") or (None, reason the pixels could not be used)."""
    try:
        return prepare_batch(load_slices(s, k), size), ""
    except PixelReadError as err:
        return None, str(err)
    except Exception as err:  # a decoder failure must not stop the run
        return None, f"pixel decoding failed ({type(err).__name__}: {err})"


def _run_cnn(
    pending: list[tuple[Series, np.ndarray]], bundle: ModelBundle, evidence: dict[str, SeriesEvidence]
) -> None:
    for key, seq, orient in cnn_evidence([(s.key, b) for s, b in pending], bundle):
        evidence[key].slice_proba, evidence[key].orient_proba = seq, orient


def cnn_evidence(
    pending: list[tuple[str, np.ndarray]], bundle: ModelBundle
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(key, per-slice sequence probabilities, per-slice orientation probabilities) of each (key, batch), with
    one ONNX Runtime call over all the slices."""
    if not pending:
        return []
    seq, orient = bundle.cnn_proba(np.concatenate([b for _, b in pending]))
    out = []
    start = 0
    for key, b in pending:
        out.append((key, seq[start : start + len(b)], orient[start : start + len(b)]))
        start += len(b)
    return out


def abstention_threshold(fusion: dict[str, Any], has_header: bool, override: float | None = None) -> float:
    """The bundle's threshold for this kind of evidence (header-informed or pixels only), unless overridden."""
    if override is not None:
        return float(override)
    key = "threshold_header" if has_header else "threshold_pixels"
    return float(fusion.get(key, fusion.get("threshold", 0.5)))


def _decide_series(
    s: Series,
    row: dict[str, Any],
    ev: SeriesEvidence,
    bundle: ModelBundle,
    rules: LabelRules,
    threshold_override: float | None,
) -> dict[str, Any]:
    classes = bundle.classes
    fusion = bundle.fusion
    flags = [f for f in str(row.get("flags") or "").split(";") if f]
    out: dict[str, Any] = {"model_version": bundle.version}
    have_pixels = ev.slice_proba is not None and len(ev.slice_proba) > 0
    have_header = ev.forest_proba is not None
    if not have_pixels and not have_header:
        reason = ev.pixel_error or "no pixels"
        return {
            **out,
            "status": "error",
            "reason": f"nothing to classify: {reason} and no acquisition header",
            "sequence": UNKNOWN,
            "contrast": "na",
            "confidence": 0.0,
            "bids_suffix": "",
            "orientation_source": "header" if row.get("orientation") not in (None, "", "NA") else "",
        }
    if not have_header:
        flags.append("header_uninformative")
    if ev.pixels_skipped:
        flags.append(PIXELS_SKIPPED_FLAG)
    elif not have_pixels and "no_pixels" not in flags:
        flags.append("no_usable_pixels")
    threshold = abstention_threshold(fusion, have_header, threshold_override)
    proba = fuse(
        ev.slice_proba,
        ev.forest_proba,
        w_cnn=float(fusion.get("w_cnn", 1.0)),
        w_forest=float(fusion.get("w_forest", 1.0)),
        temperature=float(fusion.get("temperature", 1.0)),
    )
    decision = decide(proba, classes, threshold)
    slices = ev.slice_proba if have_pixels else None
    cnn_label = classes[int(np.argmax(slices.mean(0)))] if slices is not None else ""
    forest_label = classes[int(np.argmax(ev.forest_proba))] if ev.forest_proba is not None else ""
    if slices is not None:
        vote = majority_vote(slices, ev.forest_proba)
        out["vote_sequence"] = classes[int(np.argmax(vote))]
    if forest_label and cnn_label != forest_label and _pixels_confident(ev.slice_proba, fusion):
        flags.append("pixels_header_disagree")
    rule = rules.label(row)
    if rule:
        out["rule_sequence"] = rule[0]
        if decision.label not in (UNKNOWN, rule[0]):
            flags.append("description_disagrees")
    orientation, source = _orientation(row.get("orientation"), ev.orient_proba, bundle.orient_classes, flags)
    sequence = decision.label
    contrast = _contrast(sequence if sequence != UNKNOWN else decision.top, row)
    out.update(
        status="ok" if sequence != UNKNOWN else "unknown",
        reason=""
        if sequence != UNKNOWN
        else f"confidence {decision.confidence:.2f} below {threshold:.2f} (best: {decision.top})",
        sequence=sequence,
        orientation=orientation,
        orientation_source=source,
        contrast=contrast if sequence != UNKNOWN else "na",
        confidence=round(decision.confidence, 4),
        bids_suffix=bids_suffix(sequence),
        cnn_sequence=cnn_label,
        forest_sequence=forest_label,
        flags=";".join(f for f in dict.fromkeys(flags) if f),
    )
    out.update({f"p_{c}": round(float(p), 4) for c, p in zip(classes, proba)})
    return out


def _pixels_confident(slice_proba: np.ndarray | None, fusion: dict[str, Any]) -> bool:
    """Whether the pixel model is confident enough to contradict the header: its mean slice probability reaches
    the bundle's ``disagree_confidence``, a level chosen out of fold so that most flagged series are truly wrong
    on one side. A bundle without that validated level never raises the flag."""
    level = fusion.get("disagree_confidence")
    if level is None or slice_proba is None or len(slice_proba) == 0:
        return False
    return float(slice_proba.mean(0).max()) >= float(level)


def _orientation(
    header_plane: Any, orient_proba: np.ndarray | None, orient_classes: list[str], flags: list[str]
) -> tuple[str, str]:
    plane = str(header_plane or "")
    pixel_plane = ""
    if orient_proba is not None and len(orient_proba):
        mean = orient_proba.mean(0)
        if mean.max() > 0:
            pixel_plane = orient_classes[int(np.argmax(mean))]
    if plane and plane != "NA":  # geometry is never overridden nor flagged by a pixel guess
        return plane, "header"
    if pixel_plane:
        flags.append("orientation_from_pixels")
        return pixel_plane, "pixels"
    return "NA", ""


def _contrast(sequence: str, row: dict[str, Any]) -> str:
    if sequence == "T1C":
        return "post"
    if sequence in _ANATOMICAL and not is_missing(row.get("contrast_agent")):
        return "post"
    return DEFAULT_CONTRAST.get(sequence, "na")


def annotation_columns(classes: Sequence[str]) -> list[str]:
    cols = [c for c in scan_columns() if c not in ANNOTATION_COLUMNS]
    i = cols.index("format")
    return cols[:i] + ANNOTATION_COLUMNS + cols[i:] + [f"p_{c}" for c in classes]


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
