"""The bundle's grey/white test: T1 against FLAIR for a volume with no header at all, validated nested
leave-one-dataset-out on the pool, written into the bundle.

A volume without any acquisition header whose fluid is dark (below the fluid test's FLAIR bound: a T1, a FLAIR or
a PD) is a T1 or a FLAIR by its grey/white reading (:func:`radclass.features.grey_white.grey_white_measure`). The
reading and its band are chosen on inner dataset folds of the development T1 (T1 and T1C) and FLAIR volumes, as
for the fluid test (:mod:`radclass.training.threshold_test`). The calls annotate would make are then validated on
every measured brain volume of the pool, of every class: each dataset's volumes are gated by the fluid bounds
its fluid-test outer fold chose without it, and called by the grey/white bounds its own outer fold chose without
it (:func:`pixel_only_calls`); only volumes whose two finest voxel sides are at most
:data:`radclass.training.fluid_contrast.PIXEL_ONLY_VOXEL_MM` are called. The calls are shipped
(:attr:`GreyWhiteContrast.pixel_only_voxel_mm`) only when the lower 95% bound of their out-of-fold precision is at
least :data:`radclass.training.fluid_contrast.PIXEL_ONLY_MIN_PRECISION`, and carry that bound as their confidence.
A T1 call is right for a T1 or a T1C: the gadolinium test then tells them apart (its own validation).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from radclass.features.grey_white import MEASURES
from radclass.models.bundle import GreyWhiteContrast, ModelBundle, write_bundle_json
from radclass.training import threshold_test
from radclass.training.fluid_contrast import (
    PIXEL_ONLY_MIN_PRECISION,
    PIXEL_ONLY_VOXEL_MM,
    FluidExample,
    pixel_only_scope,
)
from radclass.training.model_card import (
    counts_text,
    pool_name,
    share,
    share_text,
    shipping_state,
    write_card_section,
)
from radclass.training.threshold_test import Choice

Log = Callable[[str], None]
#: The test's classes: T1 below the band, FLAIR from its top; no inner error allowed (a wrong call is the
#: confident error the issue forbids).
PAIR = threshold_test.ClassPair(low="T1", high="FLAIR", max_error=0.0)
#: Fluid bounds (measure, FLAIR below, T2 from) by dataset: the fluid test's outer choices.
FluidBounds = Callable[[str], tuple[str, float, float]]


def grey_white_class(sequence: str) -> str:
    """The grey/white class of a pool label: T1 for T1 and T1C, the label itself otherwise."""
    return PAIR.low if sequence in ("T1", "T1C") else sequence


def trainable(examples: Sequence[FluidExample]) -> list[FluidExample]:
    """The T1, T1C and FLAIR ``examples`` that carry every grey/white reading."""
    wanted = [e for e in examples if grey_white_class(e.sequence) in PAIR.classes]
    return [e for e in wanted if all(m in e.readings for m in MEASURES)]


def pixel_only_calls(
    examples: Sequence[FluidExample], fluid_of: FluidBounds, choice_of: Callable[[str], Choice]
) -> np.ndarray:
    """``"T1"``, ``"FLAIR"`` or ``""`` per example, as annotate calls a volume without any header: in scope
    (:func:`radclass.training.fluid_contrast.pixel_only_scope`), fluid below the FLAIR bound of
    ``fluid_of(dataset)``, and the grey/white reading of ``choice_of(dataset)`` outside its band."""
    answer = np.full(len(examples), "", dtype=object)
    for i, (e, fine) in enumerate(zip(examples, pixel_only_scope(examples))):
        measure, flair_below, _ = fluid_of(e.dataset)
        choice = choice_of(e.dataset)
        if not fine or e.readings.get(measure, np.inf) >= flair_below or choice.measure not in e.readings:
            continue
        answer[i] = threshold_test.calls(np.array([e.readings[choice.measure]]), choice.bounds, PAIR)[0]
    return answer


def pixel_only_figures(examples: Sequence[FluidExample], answer: np.ndarray) -> dict[str, Any]:
    """The pixel-only T1/FLAIR calls of ``examples``: volumes in scope per class, calls per class, their
    precision (a T1 call is right for a T1 or a T1C), each class found, and the wrong calls by name."""
    truth = np.array([grey_white_class(e.sequence) for e in examples], dtype=object)
    labels = np.array([e.sequence for e in examples], dtype=object)
    fine = pixel_only_scope(examples)
    called = answer != ""
    right = called & (answer == truth)
    return {
        "volumes": len(examples),
        "in_scope": {c: int((fine & (labels == c)).sum()) for c in sorted(set(labels))},
        "calls": {c: int((answer == c).sum()) for c in PAIR.classes},
        "precision": share(right.sum(), called.sum()),
        "found": {c: share((right & (truth == c)).sum(), (fine & (truth == c)).sum()) for c in PAIR.classes},
        "wrong": [
            f"{pool_name(e.name)} ({e.sequence} called {a})" for e, a, r in zip(examples, answer, right) if a and not r
        ],
    }


def fluid_bounds(fluid_table: Mapping[str, Any], *, outer_folds: bool = True) -> FluidBounds:
    """The fluid gate of each dataset, from the bundle's ``fluid_contrast`` table: its outer fold's choice where
    it had one, else the shipped bounds (which never saw that dataset's labels: it has no T2 or FLAIR); with
    ``outer_folds=False``, the shipped bounds for every dataset (the test groups')."""
    outer = fluid_table["validation"]["outer_choices"] if outer_folds else {}
    shipped = (str(fluid_table["measure"]), float(fluid_table["flair_below"]), float(fluid_table["t2_from"]))

    def of(dataset: str) -> tuple[str, float, float]:
        if dataset in outer:
            measure, low, high = outer[dataset]
            return str(measure), float(low), float(high)
        return shipped

    return of


def add_grey_white(
    bundle_dir: Path,
    development: Sequence[FluidExample],
    test: Sequence[FluidExample],
    log: Log = print,
) -> dict[str, Any]:
    """Validate, choose and write the grey/white test into ``bundle_dir``, whose ``bundle.json`` already holds the
    fluid test (its outer choices gate the calls); its ``bundle.json`` gains the ``grey_white_contrast`` table.
    Returns the validation record (also stored in the table). ``development`` and ``test`` are measured volumes
    of every class (:func:`radclass.training.fluid_contrast.measure_pool`)."""
    meta = ModelBundle.load(bundle_dir).meta
    if not meta.get("fluid_contrast"):
        raise ValueError("The grey/white test needs the bundle's fluid test, which gates it.")
    fluid_of = fluid_bounds(meta["fluid_contrast"])
    shipped_fluid = fluid_bounds(meta["fluid_contrast"], outer_folds=False)
    train = trainable(development)
    truth = [grey_white_class(e.sequence) for e in train]
    log(f"grey/white test: nested leave-one-dataset-out on {len(train)} T1/T1C/FLAIR volumes")
    nested = threshold_test.nested_lodo(train, truth, PAIR, tuple(MEASURES))
    for d, c in nested.choices.items():
        log(
            f"  outer fold {d}: {c.measure}, T1 below {c.bounds[0]:.3f}, FLAIR from {c.bounds[1]:.3f} "
            f"(inner balanced recall {c.inner_recall:.2f}, {c.inner_wrong} wrong, margin {c.margin:.3f})"
        )
    choice = threshold_test.choose(train, truth, PAIR, tuple(MEASURES))
    outer = threshold_test.figures(truth, nested.answer, PAIR)
    held = trainable(test)
    test_answer = threshold_test.calls(np.array([e.readings[choice.measure] for e in held]), choice.bounds, PAIR)
    pixel_only = pixel_only_figures(
        development, pixel_only_calls(development, fluid_of, lambda d: nested.choices.get(d, choice))
    )
    pixel_only_test = pixel_only_figures(test, pixel_only_calls(test, shipped_fluid, lambda _d: choice))
    lower = (pixel_only["precision"]["ci95"] or [0.0])[0]
    shipped = lower >= PIXEL_ONLY_MIN_PRECISION
    validation: dict[str, Any] = {
        "outer_lodo": outer,
        "outer_choices": {d: [c.measure, *(round(b, 4) for b in c.bounds)] for d, c in nested.choices.items()},
        "test_groups": threshold_test.figures([grey_white_class(e.sequence) for e in held], test_answer, PAIR),
        "pixel_only": {
            "voxel_mm": PIXEL_ONLY_VOXEL_MM,
            "min_precision": PIXEL_ONLY_MIN_PRECISION,
            "outer_lodo": pixel_only,
            "test_groups": pixel_only_test,
        },
    }
    table = GreyWhiteContrast(
        measure=choice.measure,
        t1_below=round(choice.bounds[0], 4),
        flair_from=max(round(choice.bounds[1], 4), round(choice.bounds[0], 4)),
        pixel_only_voxel_mm=PIXEL_ONLY_VOXEL_MM if shipped else None,
        precision=round(lower, 3) if shipped else 0.5,
    )
    meta["grey_white_contrast"] = {
        "measure": table.measure,
        "t1_below": table.t1_below,
        "flair_from": table.flair_from,
        "pixel_only_voxel_mm": table.pixel_only_voxel_mm,
        "precision": table.precision,
        "validation": validation,
    }
    write_bundle_json(bundle_dir, meta)
    write_card_section(Path(bundle_dir) / "model_card.md", CARD_HEADING, card_section(meta["grey_white_contrast"]))
    log(
        f"grey/white test: {table.measure}, T1 below {table.t1_below}, FLAIR from {table.flair_from}; outer folds "
        f"answered {outer['answered']['k']}/{outer['volumes']}, right {share_text(outer['precision'])}"
    )
    log(
        f"pixel-only T1/FLAIR calls (voxels <= {PIXEL_ONLY_VOXEL_MM} mm, dark fluid): outer folds right "
        f"{share_text(pixel_only['precision'])}, calls {pixel_only['calls']}, wrong {pixel_only['wrong']}; "
        f"test groups right {share_text(pixel_only_test['precision'])}; shipped: {shipped}"
    )
    return validation


CARD_HEADING = "## Grey/white test (T1 against FLAIR from the pixels alone)"


def card_section(table: Mapping[str, Any]) -> list[str]:
    """The model card's section on the grey/white test, from its ``grey_white_contrast`` table."""
    v = table["validation"]
    outer, test, po = v["outer_lodo"], v["test_groups"], v["pixel_only"]
    outer_po, test_po = po["outer_lodo"], po["test_groups"]
    state = shipping_state(bool(table.get("pixel_only_voxel_mm")), table["precision"], po["min_precision"])
    scope = counts_text(outer_po["in_scope"])
    lines = [
        CARD_HEADING,
        "",
        "A volume with no acquisition header at all (a NIfTI without sidecar or description) whose fluid reading is",
        "below the fluid test's FLAIR bound (dark fluid: a T1, FLAIR or PD) is a T1 when the skewness of its deep",
        f"parenchyma (`{table['measure']}`) is below {table['t1_below']} (white matter brighter than grey), a FLAIR",
        f"from {table['flair_from']}; between them UNKNOWN. Only volumes whose two finest voxel sides are at most",
        f"{po['voxel_mm']} mm, and whose pixels hold that detail along one axis at least (an echo-planar volume",
        "interpolated to finer voxels does not: `radclass.features.resolution`), are called. A T1 call goes on to",
        "the gadolinium test. Flag `grey_white_from_pixels`.",
        "",
        f"The T1/FLAIR test on every development T1, T1C and FLAIR volume ({outer['volumes']}; nested",
        "leave-one-dataset-out, the reading and band chosen on inner folds):",
        "",
        f"- answered {share_text(outer['answered'])}; right {share_text(outer['precision'])} of the answered",
        f"- T1 (incl. T1C) right {share_text(outer['T1']['right'])}; FLAIR right {share_text(outer['FLAIR']['right'])}",
        f"- test groups ({test['volumes']} volumes, shipped choice): answered {share_text(test['answered'])}, right "
        f"{share_text(test['precision'])}",
        "",
        "The calls annotate makes (fluid gate and grey/white bounds of each dataset's own outer folds):",
        "",
        f"- in scope: {scope or 'none'}",
        f"- calls: T1 {outer_po['calls']['T1']}, FLAIR {outer_po['calls']['FLAIR']}; right "
        f"{share_text(outer_po['precision'])}; T1 found "
        f"{share_text(outer_po['found']['T1'])}, FLAIR found {share_text(outer_po['found']['FLAIR'])}",
        f"- wrong calls: {', '.join(outer_po['wrong']) or 'none'}",
        f"- test groups (shipped bounds): calls right {share_text(test_po['precision'])}",
        "",
        f"Pixel-only T1/FLAIR calls are {state}.",
        "",
    ]
    return lines
