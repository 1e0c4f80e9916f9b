"""The diffusion test of a bundle (issue #12): DWI from the frames of a time series with no acquisition header.

Nothing is fitted: the test's two bounds are physical priors (:data:`ATTENUATED_BELOW`, :data:`FREE_WATER_BELOW`;
:mod:`radclass.features.diffusion` says why), so the pool only measures how the test does. Every time series of
the labelled pool is read: a NIfTI as it is stored, a DICOM series as dcm2niix converts it (``-b n``: the voxels,
which is all the test reads), because a header-less NIfTI is what the test meets in ``annotate``
(:func:`radclass.pipeline.annotate.needs_diffusion`). The confidence of its calls is the lower 95% bound of
their precision on the development datasets; the bundle's test groups are reported apart.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from radclass.features.diffusion import WEIGHTED_BELOW, DiffusionReading, diffusion_reading
from radclass.io.pixels import PixelReadError, load_frames, nifti_frames
from radclass.models.bundle import DiffusionTest, ModelBundle, write_bundle_json
from radclass.taxonomy import SequenceClass
from radclass.training.enhancement import Log, Measured, split_examples
from radclass.training.model_card import pool_name, share, share_text, write_card_section
from radclass.training.pool import LabelledSeries

#: The shipped bounds, priors from diffusion physics (b >= ~500 s/mm^2; free water's ADC is about four times
#: parenchyma's, so at b = 1000 it keeps exp(-3) of its signal against exp(-0.8)): not fitted to the pool.
ATTENUATED_BELOW = WEIGHTED_BELOW
FREE_WATER_BELOW = 0.8


@dataclass(frozen=True)
class DiffusionExample:
    """One measured time series of the pool."""

    id: str
    dataset: str
    label: str
    reading: DiffusionReading


def _converted(folder: Path, dcm2niix: str, workdir: Path) -> Any:
    """The frames of the one time series dcm2niix makes of the DICOM ``folder`` (PixelReadError when it makes no
    time series, or several files)."""
    out = Path(tempfile.mkdtemp(dir=workdir))
    subprocess.run([dcm2niix, "-b", "n", "-z", "n", "-f", "vol_%s", "-o", str(out), str(folder)], capture_output=True)
    converted = sorted(out.glob("*.nii"))
    if len(converted) != 1:
        raise PixelReadError(f"dcm2niix wrote {len(converted)} NIfTI files, not one")
    return nifti_frames(converted[0])


def measure_pool(items: Sequence[LabelledSeries], log: Log = print) -> Measured[DiffusionExample]:
    """Every time series (two volumes or more) among the usable series of ``items``, with its reading: a NIfTI's
    frames as stored, a DICOM folder's as dcm2niix converts it (the series of one folder share its label, else
    the folder is left out); a time series that the measure refuses is listed with the reason."""
    result: Measured[DiffusionExample] = Measured([])
    exe = shutil.which("dcm2niix")
    if exe is None:
        log("dcm2niix not found: the diffusion test reads the pool's NIfTI time series only")
    folders: dict[str, list[LabelledSeries]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for p in items:
            if not p.pixels_usable:
                continue
            if p.series.format == "dicom" and Path(p.series.path).is_dir():
                folders.setdefault(p.series.path, []).append(p)
                continue
            if p.series.format == "nifti":
                _add(result, p.id, p.dataset, p.sequence, partial(load_frames, p.series))
        for folder, members in folders.items() if exe is not None else ():
            if len({m.sequence for m in members}) > 1:
                result.left_out.append((folder, "its series carry different labels"))
                continue
            first = members[0]
            convert = partial(_converted, Path(folder), str(exe), Path(tmp))
            _add(result, folder, first.dataset, first.sequence, convert)
    return result


def _add(result: Measured[DiffusionExample], name: str, dataset: str, label: str, frames: Callable[[], Any]) -> None:
    """Measure ``frames()`` into ``result``: nothing when they are no time series, left out when refused."""
    try:
        data = frames()
    except PixelReadError:
        return  # one volume (or not one time series): not the test's
    try:
        result.examples.append(DiffusionExample(name, dataset, label, diffusion_reading(data)))
    except ValueError as err:
        result.left_out.append((name, str(err)))


def validate(examples: Sequence[DiffusionExample], test: DiffusionTest) -> dict[str, Any]:
    """The test's calls on ``examples``: per class how many were called DWI, the precision and the DWI
    sensitivity (:func:`radclass.training.model_card.share` records), per dataset, and every wrong call."""
    called = [e for e in examples if test.call(e.reading)]
    right = sum(e.label == SequenceClass.DWI for e in called)
    dwi = [e for e in examples if e.label == SequenceClass.DWI]
    per_class = {
        label: {"series": n, "called": sum(e.label == label for e in called)}
        for label, n in sorted(Counter(e.label for e in examples).items())
    }
    per_dataset = {
        d: {"series": n, "dwi": sum(e.dataset == d for e in dwi), "called": sum(e.dataset == d for e in called)}
        for d, n in sorted(Counter(e.dataset for e in examples).items())
    }
    return {
        "series": len(examples),
        "datasets": len(per_dataset),
        "precision": share(right, len(called)),
        "dwi_found": share(sum(test.call(e.reading) for e in dwi), len(dwi)),
        "per_class": per_class,
        "per_dataset": per_dataset,
        "wrong": [pool_name(e.id) for e in called if e.label != SequenceClass.DWI],
        "margins": _margins(examples),
        "readings": {
            pool_name(e.id): [e.label, e.reading.volumes, e.reading.weighted, round(e.reading.attenuation, 3)]
            + [None if e.reading.free_water is None else round(e.reading.free_water, 3)]
            for e in examples
        },
    }


def _margins(examples: Sequence[DiffusionExample]) -> dict[str, float | None]:
    """How near the bounds the pool lies: the DWIs' highest attenuation and free-water readings, the others'
    lowest free-water reading where they have weighted frames (None where there is none)."""
    dwi = [e.reading for e in examples if e.label == SequenceClass.DWI]
    others = [e.reading.free_water for e in examples if e.label != SequenceClass.DWI]

    def top(values: Sequence[float | None], pick: Callable[..., float]) -> float | None:
        known = [v for v in values if v is not None]
        return round(pick(known), 3) if known else None

    return {
        "dwi_attenuation_max": top([r.attenuation for r in dwi], max),
        "dwi_free_water_max": top([r.free_water for r in dwi], max),
        "others_free_water_min": top(others, min),
    }


def add_diffusion_test(
    bundle_dir: Path,
    development: Sequence[DiffusionExample],
    test: Sequence[DiffusionExample],
    log: Log = print,
    left_out: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    """Validate the diffusion test on the development and test examples and write it into ``bundle_dir``'s
    ``bundle.json`` (with its validation) and model card; ValueError when the development pool calls nothing
    right (no precision to publish as confidence)."""
    prior = DiffusionTest(ATTENUATED_BELOW, FREE_WATER_BELOW)
    dev, held = validate(development, prior), validate(test, prior)
    if not dev["precision"]["k"]:
        raise ValueError("the development pool holds no time series that the test calls DWI rightly")
    table = DiffusionTest(ATTENUATED_BELOW, FREE_WATER_BELOW, round(dev["precision"]["ci95"][0], 3))
    meta = dict(ModelBundle.load(bundle_dir).meta)
    meta["diffusion_test"] = {
        "attenuated_below": table.attenuated_below,
        "free_water_below": table.free_water_below,
        "precision": table.precision,
        "validation": {"development": dev, "test_groups": held, "left_out": [[pool_name(n), w] for n, w in left_out]},
    }
    write_bundle_json(bundle_dir, meta)
    write_card_section(Path(bundle_dir) / "model_card.md", CARD_HEADING, card_section(meta["diffusion_test"]))
    log(
        f"diffusion test: development calls right {share_text(dev['precision'])}, DWIs found "
        f"{share_text(dev['dwi_found'])}; test groups right {share_text(held['precision'])}, DWIs found "
        f"{share_text(held['dwi_found'])}"
    )
    return meta["diffusion_test"]["validation"]


def build_diffusion_test(
    bundle_dir: Path, items: Sequence[LabelledSeries], test_groups: Sequence[str], log: Log = print
) -> dict[str, Any] | None:
    """Measure the pool's time series, validate the diffusion test and write it into the bundle being built (its
    ``test_groups`` reported apart); None, with the reason logged, when the pool cannot support it."""
    measured = measure_pool(items, log)
    development, test = split_examples(measured.examples, test_groups)
    try:
        return add_diffusion_test(bundle_dir, development, test, log, measured.left_out)
    except ValueError as err:
        log(f"no diffusion test in this bundle: {err}")
        return None


CARD_HEADING = "## Diffusion test (DWI from the frames of a time series)"


def card_section(table: dict[str, Any]) -> list[str]:
    """The model card's section on the diffusion test, from its ``diffusion_test`` table."""
    v = table["validation"]
    dev, held = v["development"], v["test_groups"]
    lines = [
        CARD_HEADING,
        "",
        "A NIfTI time series with no acquisition header (or one whose timing the timing model abstains on) is",
        "called DWI when some frames hold less than",
        f"{table['attenuated_below']} of the brightest frame's mean head signal and, in them, the brightest frame's",
        f"brightest voxels (free water) keep less than {table['free_water_below']} of the share the middle of the",
        "head keeps. Both bounds are physical priors, not fitted. Flag `diffusion_from_pixels`; confidence",
        f"{table['precision']}, the lower 95% bound of the development precision. BOLD, perfusion and field maps",
        "stay UNKNOWN.",
        "",
        f"- development ({dev['series']} time series, {dev['datasets']} datasets): calls right "
        f"{share_text(dev['precision'])}, DWIs found {share_text(dev['dwi_found'])}",
        f"- test groups ({held['series']} time series): calls right {share_text(held['precision'])}, DWIs found "
        f"{share_text(held['dwi_found'])}",
        "",
        "| class | development series | called DWI | test-group series | called DWI |",
        "|---|---|---|---|---|",
    ]
    for label in sorted(set(dev["per_class"]) | set(held["per_class"])):
        d, h = dev["per_class"].get(label, {}), held["per_class"].get(label, {})
        lines.append(
            f"| {label} | {d.get('series', 0)} | {d.get('called', 0)} | {h.get('series', 0)} | {h.get('called', 0)} |"
        )
    lines += [
        "",
        f"Wrong calls: {', '.join(dev['wrong'] + held['wrong']) or 'none'}. The bounds were set after all these "
        "series (test groups included) had been looked at; how near them the pool lies:",
        "",
    ]
    for name, record in (("development", dev), ("test groups", held)):
        m = record["margins"]
        lines.append(
            f"- {name}: DWI attenuation at most {m['dwi_attenuation_max']}, DWI free water at most "
            f"{m['dwi_free_water_max']}; the lowest free-water reading of another class "
            f"{m['others_free_water_min'] if m['others_free_water_min'] is not None else '(none has weighted frames)'}"
        )
    lines.append("")
    return lines
