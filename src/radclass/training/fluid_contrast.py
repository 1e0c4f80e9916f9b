"""The bundle's fluid test: measure it on the pool, validate it nested leave-one-dataset-out, write it.

A volume the timing model calls T2 family is a T2 or a FLAIR by its fluid reading
(:func:`radclass.features.fluid.fluid_contrast`). Chosen, all on inner folds: the reading (:data:`MEASURES`), its
threshold (the best balanced accuracy, T2 above it) and the half-width of the band around it where the test
abstains (:func:`margin_for`: the narrowest at which at most :data:`MAX_ERROR` of the inner out-of-fold answers
are wrong). For each dataset held out (the outer fold), each reading is scored by leave-one-dataset-out over the
remaining datasets: threshold fitted without the inner dataset, distances of its readings to that threshold,
then the band from the pooled distances; the reading with the best pooled inner balanced recall (an abstention is
not right; ties: fewer wrong calls, then the order of :data:`MEASURES`) is refitted on all remaining datasets and
applied once to the held-out one. The shipped test is chosen the same way on every development dataset; the
bundle's test groups are measured once with it.

The same T2 bound also names a volume that has no acquisition header at all (no timing model to say T2 family):
bright fluid in a whole brain is a T2's, where the voxels are fine enough for a structural scan
(:data:`PIXEL_ONLY_VOXEL_MM`: diffusion, BOLD, perfusion and field maps, whose fluid is bright too, are acquired
coarser). Those calls are validated on every measured brain volume of the pool, of every class: each dataset's
volumes are called with the bound its outer fold chose without it (:func:`pixel_only_calls`); the calls are
shipped (:attr:`FluidContrast.pixel_only_voxel_mm`) only when the lower 95% bound of their out-of-fold
precision is at least :data:`PIXEL_ONLY_MIN_PRECISION`, and carry that bound as their confidence.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from radclass.features.brain_mask import MaskNetwork
from radclass.features.brain_readings import brain_readings
from radclass.features.fluid import MEASURES
from radclass.features.resolution import effective_spacing
from radclass.io.pixels import PixelReadError, load_volume, volume_spacing
from radclass.models.bundle import FluidContrast, ModelBundle, write_bundle_json
from radclass.training import threshold_test
from radclass.training.enhancement import (
    MIN_SLICES,
    Measured,
    bundle_with_brain_mask,
    ensure_brain_mask,
    split_examples,
)
from radclass.training.model_card import (
    counts_text,
    pool_name,
    share,
    share_text,
    shipping_state,
    write_card_section,
)
from radclass.training.pool import LabelledSeries
from radclass.training.threshold_test import Choice, NestedResult

Log = Callable[[str], None]
#: The classes the test separates.
CLASSES = ("T2", "FLAIR")
#: The band is widened until at most this share of the inner folds' answers are wrong (none: a wrong T2/FLAIR call
#: is the confident error the issue forbids, and 21 volumes cannot show a rate below 5%).
MAX_ERROR = 0.0
#: The coarsest in-plane voxel (mm, the two finest sides) of a volume with no header that the test may call T2:
#: a prior from protocols, not fitted (structural T2s are acquired at 1 mm or finer; the pool's diffusion, BOLD,
#: ASL and field maps, 1.5-3.75 mm).
PIXEL_ONLY_VOXEL_MM = 1.2
#: Pixel-only calls are shipped only when the lower 95% bound of their out-of-fold precision reaches this.
PIXEL_ONLY_MIN_PRECISION = 0.5


@dataclass(frozen=True)
class FluidExample:
    """One measured T2 or FLAIR pool volume: its dataset (the fold unit), its class and its readings."""

    name: str
    dataset: str
    sequence: str
    readings: Mapping[str, float]
    voxel_mm: tuple[float, ...] = ()  # the voxel size along each axis, mm
    detail_mm: tuple[float, ...] = ()  # the voxel size its pixels hold (radclass.features.resolution), mm


def measure_pool(
    pool: Sequence[LabelledSeries], network: MaskNetwork, log: Log = print, *, classes: Sequence[str] = CLASSES
) -> Measured[FluidExample]:
    """Every usable brain series of ``pool`` labelled one of ``classes`` (all classes: ``()``) with at least
    :data:`MIN_SLICES` slices and a whole brain (:func:`radclass.features.brain_mask.check_whole_brain`), with
    every fluid reading and the grey/white readings that can be taken (one brain mask per volume,
    :func:`radclass.features.brain_readings.brain_readings`)."""
    result: Measured[FluidExample] = Measured([])
    for p in pool:
        if (classes and p.sequence not in classes) or p.anatomy != "brain" or not p.pixels_usable:
            continue
        if (p.series.n_frames or 0) < MIN_SLICES:
            result.left_out.append((p.id, f"{p.series.n_frames or 0} slices, fewer than {MIN_SLICES}"))
            continue
        spacing = volume_spacing(p.series)
        try:
            volume = load_volume(p.series)
            readings = brain_readings(volume, network, spacing, min_slices=MIN_SLICES)
        except (PixelReadError, ValueError) as err:
            result.left_out.append((p.id, str(err)))
            continue
        if not set(MEASURES) <= set(readings):
            result.left_out.append((p.id, f"readings {sorted(set(MEASURES) - set(readings))} cannot be taken"))
            continue
        detail = effective_spacing(volume, spacing) if spacing is not None else ()
        result.examples.append(FluidExample(p.id, p.dataset, p.sequence, readings, tuple(spacing or ()), detail))
    log(f"fluid test measured on {len(result.examples)} volumes ({len(result.left_out)} left out)")
    return result


#: The test's classes: FLAIR below the band, T2 from its top.
PAIR = threshold_test.ClassPair(low="FLAIR", high="T2", max_error=MAX_ERROR)


def bounds_of(values: np.ndarray, is_t2: np.ndarray, margin: float) -> tuple[float, float]:
    """(flair_below, t2_from): :func:`radclass.training.threshold_test.bounds_of` for T2 (``is_t2``) against
    FLAIR."""
    truth = np.where(np.asarray(is_t2, bool), "T2", "FLAIR").astype(object)
    return threshold_test.bounds_of(values, truth, PAIR, margin)


def calls(values: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
    """The test's answer per reading, as annotate calls it (:meth:`FluidContrast.call`): T2, FLAIR or ''."""
    return threshold_test.calls(values, bounds, PAIR)


def margin_for(distance: np.ndarray, truth: np.ndarray) -> float:
    """:func:`radclass.training.threshold_test.margin_for` for T2 (above 0) against FLAIR."""
    return threshold_test.margin_for(distance, truth, PAIR)


def choose(examples: Sequence[FluidExample], measures: Sequence[str] = MEASURES) -> Choice:
    """The reading (of ``measures``) and band chosen on leave-one-dataset-out folds of the T2 and FLAIR
    ``examples`` (:func:`radclass.training.threshold_test.choose`)."""
    return threshold_test.choose(examples, [e.sequence for e in examples], PAIR, measures)


def nested_lodo(examples: Sequence[FluidExample], log: Log = print) -> NestedResult:
    """Outer leave-one-dataset-out, every choice on inner folds of the other datasets
    (:func:`radclass.training.threshold_test.nested_lodo`)."""
    nested = threshold_test.nested_lodo(examples, [e.sequence for e in examples], PAIR, MEASURES)
    for d, c in nested.choices.items():
        log(
            f"  outer fold {d}: {c.measure}, FLAIR below {c.bounds[0]:.3f}, T2 from {c.bounds[1]:.3f} "
            f"(inner balanced recall {c.inner_recall:.2f}, {c.inner_wrong} wrong, margin {c.margin:.3f})"
        )
    return nested


def figures(truth: Sequence[str], answer: np.ndarray) -> dict[str, Any]:
    """Per class: answered and right with 95% Clopper-Pearson intervals; overall precision of the answers."""
    return threshold_test.figures(truth, answer, PAIR)


def pixel_only_scope(examples: Sequence[FluidExample]) -> np.ndarray:
    """Whether each example's voxels, and the detail its pixels hold, are fine enough for a pixel-only call
    (:data:`PIXEL_ONLY_VOXEL_MM`; :meth:`radclass.models.bundle.FluidContrast.pixel_only_refusal`)."""
    probe = FluidContrast(MEASURES[0], 0.0, 0.0, pixel_only_voxel_mm=PIXEL_ONLY_VOXEL_MM)
    return np.array(
        [probe.pixel_only_refusal(e.voxel_mm or None, e.detail_mm or None) is None for e in examples], dtype=bool
    )


def pixel_only_calls(examples: Sequence[FluidExample], choice_of: Callable[[str], Choice]) -> np.ndarray:
    """``"T2"`` or ``""`` per example, as annotate calls a volume without any header: in scope
    (:func:`pixel_only_scope`) and at or above the T2 bound of ``choice_of(example.dataset)``."""
    answer = np.full(len(examples), "", dtype=object)
    for i, (e, fine) in enumerate(zip(examples, pixel_only_scope(examples))):
        choice = choice_of(e.dataset)
        if fine and e.readings[choice.measure] >= choice.bounds[1]:
            answer[i] = "T2"
    return answer


def pixel_only_figures(examples: Sequence[FluidExample], answer: np.ndarray) -> dict[str, Any]:
    """The pixel-only T2 calls of ``examples``: volumes in scope per class, calls, their precision, the T2s
    found, and the wrong calls by name."""
    truth = np.array([e.sequence for e in examples], dtype=object)
    fine = pixel_only_scope(examples)
    called = answer == "T2"
    classes = sorted(set(truth))
    return {
        "volumes": len(examples),
        "in_scope": {c: int((fine & (truth == c)).sum()) for c in classes},
        "out_of_scope": {c: int((~fine & (truth == c)).sum()) for c in classes if (~fine & (truth == c)).any()},
        "precision": share((called & (truth == "T2")).sum(), called.sum()),
        "t2_found": share((called & (truth == "T2")).sum(), (fine & (truth == "T2")).sum()),
        "wrong": [f"{pool_name(e.name)} ({e.sequence})" for e, c in zip(examples, called) if c and e.sequence != "T2"],
    }


def add_fluid_contrast(
    bundle_dir: Path,
    development: Sequence[FluidExample],
    test: Sequence[FluidExample],
    log: Log = print,
    *,
    left_out: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    """Validate, choose and write the fluid test into ``bundle_dir`` (its ``bundle.json`` gains the
    ``fluid_contrast`` table); returns the validation record (also stored in the table). ``development`` and
    ``test`` may hold volumes of every class: the T2/FLAIR test is chosen on their T2s and FLAIRs, the pixel-only
    T2 calls are validated on all of them (module docstring)."""
    every_dev, every_test = list(development), list(test)
    development = [e for e in every_dev if e.sequence in CLASSES]
    test = [e for e in every_test if e.sequence in CLASSES]
    log("fluid test: nested leave-one-dataset-out")
    nested = nested_lodo(development, log)
    outer = figures([e.sequence for e in development], nested.answer)
    choice = choose(development)
    test_answer = calls(np.array([e.readings[choice.measure] for e in test]), choice.bounds)
    # a dataset without T2 or FLAIR has no outer fold: the shipped choice never saw it
    pixel_only = pixel_only_figures(every_dev, pixel_only_calls(every_dev, lambda d: nested.choices.get(d, choice)))
    pixel_only_test = pixel_only_figures(every_test, pixel_only_calls(every_test, lambda _d: choice))
    lower = (pixel_only["precision"]["ci95"] or [0.0])[0]
    validation: dict[str, Any] = {
        "outer_lodo": outer,
        "outer_choices": {d: [c.measure, *(round(b, 4) for b in c.bounds)] for d, c in nested.choices.items()},
        "rule": {"max_error": MAX_ERROR},
        "test_groups": figures([e.sequence for e in test], test_answer),
        "per_dataset": {
            d: figures(
                [e.sequence for e in development if e.dataset == d],
                nested.answer[[i for i, e in enumerate(development) if e.dataset == d]],
            )
            for d in nested.choices
        },
        "pixel_only": {
            "voxel_mm": PIXEL_ONLY_VOXEL_MM,
            "min_precision": PIXEL_ONLY_MIN_PRECISION,
            "outer_lodo": pixel_only,
            "test_groups": pixel_only_test,
        },
        "left_out": [list(x) for x in left_out],
    }
    shipped = lower >= PIXEL_ONLY_MIN_PRECISION
    table = FluidContrast(
        measure=choice.measure,
        flair_below=round(choice.bounds[0], 4),
        t2_from=max(round(choice.bounds[1], 4), round(choice.bounds[0], 4)),
        min_slices=MIN_SLICES,
        precision=round((outer["precision"]["ci95"] or [0.5])[0], 3) or 0.5,  # its lower 95% bound
        pixel_only_voxel_mm=PIXEL_ONLY_VOXEL_MM if shipped else None,
        pixel_only_precision=round(lower, 3) if shipped else 0.5,
    )
    meta = ModelBundle.load(bundle_dir).meta
    meta["brain_mask"] = ensure_brain_mask(Path(bundle_dir)).name
    meta["fluid_contrast"] = {
        "measure": table.measure,
        "flair_below": table.flair_below,
        "t2_from": table.t2_from,
        "min_slices": table.min_slices,
        "precision": table.precision,
        "pixel_only_voxel_mm": table.pixel_only_voxel_mm,
        "pixel_only_precision": table.pixel_only_precision,
        "validation": validation,
    }
    write_bundle_json(bundle_dir, meta)
    write_card_section(Path(bundle_dir) / "model_card.md", CARD_HEADING, card_section(meta["fluid_contrast"]))
    log(
        f"fluid test: {table.measure}, FLAIR below {table.flair_below}, T2 from {table.t2_from}; outer folds "
        f"answered {outer['answered']['k']}/{outer['volumes']}, right {outer['precision']['k']}/"
        f"{outer['precision']['n']}; test groups answered {validation['test_groups']['answered']['k']}/{len(test)}"
    )
    log(
        f"pixel-only T2 calls (voxels <= {PIXEL_ONLY_VOXEL_MM} mm): outer folds right "
        f"{share_text(pixel_only['precision'])}, T2s found {share_text(pixel_only['t2_found'])}, "
        f"wrong {pixel_only['wrong']}; shipped: {shipped}"
    )
    return validation


def build_fluid_test(
    bundle_dir: Path, items: Sequence[LabelledSeries], test_groups: Sequence[str], log: Log = print
) -> dict[str, Any] | None:
    """Measure, validate and write the fluid test of a bundle being built from ``items`` (its ``test_groups`` kept
    out of every choice), then the grey/white test it gates (:func:`radclass.training.grey_white.add_grey_white`,
    from the same measured volumes); the fluid test's validation record, or None, with the reason logged, when
    the labels cannot support one."""
    measured = measure_pool(items, bundle_with_brain_mask(Path(bundle_dir)).brain_mask_proba, log, classes=())
    development, test = split_examples(measured.examples, test_groups)
    try:
        validation = add_fluid_contrast(bundle_dir, development, test, log, left_out=measured.left_out)
    except ValueError as err:
        log(f"no fluid test in this bundle: {err}")
        return None
    from radclass.training.grey_white import add_grey_white  # it builds on this module

    try:
        add_grey_white(bundle_dir, development, test, log)
    except ValueError as err:
        log(f"no grey/white test in this bundle: {err}")
    return validation


CARD_HEADING = "## Fluid test (T2 against FLAIR from the pixels)"


def card_section(table: Mapping[str, Any]) -> list[str]:
    """The model card's section on the fluid test, from its ``fluid_contrast`` table."""
    v = table["validation"]
    outer, test = v["outer_lodo"], v["test_groups"]
    lines = [
        CARD_HEADING,
        "",
        "A volume the timing model calls T2 family (long TR and TE: T2 or FLAIR) is a FLAIR when its fluid",
        f"reading (`{table['measure']}`, inside the brain mask) is below {table['flair_below']}, a T2 from",
        f"{table['t2_from']}; between them (a band chosen on inner folds) it is UNKNOWN. Calls carry the flag",
        f"`fluid_from_pixels` and a confidence of at most {table['precision']:.3f}. Measured only on a whole brain",
        f"(the mask 700-2200 cm^3, at most 210 mm long) of {table['min_slices']} slices or more.",
        "",
        f"Nested leave-one-dataset-out over {outer['volumes']} development volumes (reading and bounds chosen on",
        "inner dataset folds, the outer fold's answers reported):",
        "",
        f"- answered {share_text(outer['answered'])}; right {share_text(outer['precision'])} of the answered",
        f"- T2 right {share_text(outer['T2']['right'])}; FLAIR right {share_text(outer['FLAIR']['right'])}",
        "",
        f"Test groups ({test['volumes']} volumes, measured once with the shipped choice): answered "
        f"{share_text(test['answered'])}, right {share_text(test['precision'])} of the answered.",
        "",
        "| held-out dataset | reading, FLAIR below, T2 from (chosen on the others) | T2 right | FLAIR right |",
        "|---|---|---|---|",
    ]
    for d, f in v["per_dataset"].items():
        measure, low, high = v["outer_choices"][d]
        lines.append(
            f"| {d} | {measure}, {low}, {high} | {f['T2']['right']['k']}/{f['T2']['right']['n']} | "
            f"{f['FLAIR']['right']['k']}/{f['FLAIR']['right']['n']} |"
        )
    left = f"{len(v['left_out'])} brain series were not measured (too few slices, or not a whole brain)."
    lines += ["", left]
    if "pixel_only" in v:
        po = v["pixel_only"]
        outer_po, test_po = po["outer_lodo"], po["test_groups"]
        shipped = bool(table.get("pixel_only_voxel_mm"))
        state = shipping_state(shipped, table["pixel_only_precision"], po["min_precision"])
        scope = counts_text(outer_po["in_scope"])
        lines += [
            "",
            "### Pixel-only T2 calls",
            "",
            "A volume with no acquisition header at all (a NIfTI without sidecar or description) is a T2 when its",
            f"fluid reading reaches the T2 bound and its two finest voxel sides are at most {po['voxel_mm']} mm (a",
            "prior from protocols: diffusion, BOLD, perfusion and field maps, whose fluid is bright too, are coarser)",
            "and its pixels hold that detail along one axis at least (an echo-planar volume interpolated to finer",
            "voxels does not); dark fluid (T1, FLAIR, PD) stays UNKNOWN. Validated on every measured brain volume of",
            "the pool, each",
            "dataset called with the bound its outer fold chose without it:",
            "",
            f"- in scope: {scope}; coarser, never called: " + (counts_text(outer_po["out_of_scope"]) or "none"),
            f"- calls right {share_text(outer_po['precision'])}; T2s found {share_text(outer_po['t2_found'])}; "
            f"wrong calls: {', '.join(outer_po['wrong']) or 'none'}",
            f"- test groups (shipped bound): calls right {share_text(test_po['precision'])}, T2s found "
            f"{share_text(test_po['t2_found'])}",
            "",
            f"Pixel-only calls are {state}.",
        ]
    return [*lines, ""]
