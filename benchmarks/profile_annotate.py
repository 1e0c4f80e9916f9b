"""Where the CPU of ``radclass annotate`` goes, stage by stage, in one process (CPU seconds from getrusage).

Usage::

    python benchmarks/profile_annotate.py TREE [TREE ...] [--pixels auto|all] [--cprofile N]

Runs the local engine's stages one after the other in this process (no worker processes, so every CPU second
is attributed to the stage that spent it) with the project's own functions: start-up (imports, bundle load),
file walk + sniff, the raw header walk (:func:`radclass.io.raw_dataset.fast_dataset`) and the mapping to
:class:`~radclass.io.header_model.InstanceInfo` (timed apart on the same files), the full scan (as ``annotate``
reads), grouping into series, the header forest, the anatomy gate's pixel stage, slice decoding + preparation
for the CNN, the CNN, the decisions and rows, and writing the CSV. ``--cprofile N`` also prints the N costliest
functions (cumulative) of the whole annotation. Prints one Markdown table.
"""

from __future__ import annotations

import argparse
import cProfile
import mmap
import pstats
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tree_io import tree_files, warm_cache  # noqa: E402

_STAGES: list[tuple[str, float, float, str]] = []


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def stage(name: str, fn: Callable[[], Any], note: str = "") -> Any:
    """Run ``fn``, record its CPU and wall seconds under ``name``."""
    cpu, wall = _cpu(), time.perf_counter()
    out = fn()
    _STAGES.append((name, _cpu() - cpu, time.perf_counter() - wall, note))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="+", type=Path)
    parser.add_argument("--pixels", default="auto", choices=["auto", "all"])
    parser.add_argument("--cprofile", type=int, default=0, help="print the N costliest functions")
    args = parser.parse_args(argv)
    for t in args.trees:
        warm_cache(tree_files(t))

    def imports():
        import radclass.pipeline.annotate  # noqa: F401
        from radclass.models.bundle import DEFAULT_BUNDLE, ModelBundle

        return ModelBundle.load(DEFAULT_BUNDLE, threads=1)

    bundle = stage("start-up: imports + bundle load", imports)
    from radclass.anatomy.gate import AnatomyGate
    from radclass.io.files import sniff_kind, walk_files
    from radclass.io.header_fields import instance_from_dataset
    from radclass.io.header_reader import read_instance
    from radclass.io.raw_dataset import HEADER_TAGS, fast_dataset
    from radclass.io.series import group_instances
    from radclass.outputs.annotations import annotation_columns
    from radclass.outputs.tables import write_table
    from radclass.pipeline import annotate as ann
    from radclass.pipeline.pixel_policy import PixelMode
    from radclass.pipeline.scan import scan
    from radclass.rules import LabelRules

    walked = stage("file walk + sniff", lambda: [(w, sniff_kind(w.path)) for w in walk_files(args.trees)])
    dicom = [str(w.path) for w, (kind, err) in walked if kind == "dicom" and not err]

    per_kind: dict[tuple[str, str], list[float]] = {}  # (stage, classic/enhanced) -> [files, CPU s]

    def count(what: str, ds: Any, seconds: float) -> None:
        kind = "enhanced" if "PerFrameFunctionalGroupsSequence" in ds else "classic"
        entry = per_kind.setdefault((what, kind), [0, 0.0])
        entry[0] += 1
        entry[1] += seconds

    def split(what: str) -> str:
        return ", ".join(
            f"{kind} {n} files {s / n * 1e3:.3f} ms/file" for (w, kind), (n, s) in sorted(per_kind.items()) if w == what
        )

    def walk_and_map() -> tuple[float, float, float, float]:
        """One pass: per file, the walk then the mapping, timed apart (the walk's HeaderElements reads the
        file's bytes while it is mapped, so the file stays open for both); (walk CPU, walk wall, mapping CPU,
        mapping wall)."""
        totals = [0.0, 0.0, 0.0, 0.0]
        for f in dicom:
            with open(f, "rb") as fh:
                data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            try:
                c0, w0 = time.process_time(), time.perf_counter()
                ds = fast_dataset(data, HEADER_TAGS, header=True)
                c1, w1 = time.process_time(), time.perf_counter()
                count("walk", ds, c1 - c0)
                instance_from_dataset(f, ds, len(data))
                c2, w2 = time.process_time(), time.perf_counter()
                count("map", ds, c2 - c1)
                totals = [totals[0] + c1 - c0, totals[1] + w1 - w0, totals[2] + c2 - c1, totals[3] + w2 - w1]
            except Exception:
                pass
            finally:
                data.close()
        return totals[0], totals[1], totals[2], totals[3]

    walk_cpu, walk_wall, map_cpu, map_wall = walk_and_map()
    _STAGES.append(("header: raw walk (fast_dataset)", walk_cpu, walk_wall, split("walk")))
    _STAGES.append(("header: mapping to InstanceInfo", map_cpu, map_wall, split("map")))
    stage("header: read_instance (walk + mapping + fallback)", lambda: [_try(read_instance, f) for f in dicom])
    result = stage("scan() in-process (walk, sniff, read, group)", lambda: scan(args.trees, workers=1))
    instances = [i for f in dicom if (i := _try(read_instance, f)) is not None and i.is_image]
    stage("grouping into series (group_instances)", lambda: group_instances(instances))
    candidates = [s for s in result.series if ann.is_mr_candidate(s)]
    mode = PixelMode.parse(args.pixels)
    gate = AnatomyGate()
    evidence, with_pixels = ann.initial_evidence(candidates, bundle, mode)
    work = ann.pixel_work(candidates, with_pixels, bundle, gate)
    stage("header forest (one call)", lambda: ann.add_forest_evidence(candidates, bundle, evidence))
    anat = [s for s, _, need in work if need]

    def anatomy_stage() -> None:
        for s in anat:  # as the decoding workers do: the decision is kept in the series' evidence
            evidence[s.key].anatomy = gate.decide(s)

    stage("anatomy gate pixel stage", anatomy_stage, f"{len(anat)} series")
    cnn_series = [s for s, need, _ in work if need]
    k, size = bundle.slices_per_series, bundle.input_size
    batches = stage(
        "CNN slices: decode + prepare",
        lambda: [(s.key, b) for s in cnn_series if (b := ann.load_prepared(s, k, size)[0]) is not None],
        f"{len(cnn_series)} series",
    )
    stage(
        "CNN (ONNX Runtime, 1 thread)",
        lambda: ann.cnn_evidence(batches, bundle.cnn_proba),
        f"{sum(len(b) for _, b in batches)} slices",
    )
    rules = LabelRules.load()
    rows = stage(
        "decisions + rows (rows_from_evidence)",
        lambda: ann.rows_from_evidence(result, bundle, evidence, rules=rules, anatomy=gate),
        f"{len(result.series)} series",
    )

    def write() -> None:
        import pandas as pd

        with tempfile.TemporaryDirectory() as tmp:
            write_table(pd.DataFrame(rows, columns=annotation_columns(bundle.classes)), Path(tmp) / "out.csv")

    stage("output: DataFrame + CSV", write)
    total_files = len(walked)
    print(f"\n{total_files} files, {len(dicom)} DICOM, {len(result.series)} series, --pixels {args.pixels}\n")
    print("| stage | CPU s | wall s | note |\n|---|---|---|---|")
    for name, cpu, wall, note in _STAGES:
        print(f"| {name} | {cpu:.2f} | {wall:.2f} | {note} |")
    if args.cprofile:
        prof = cProfile.Profile()
        prof.enable()
        ann.annotate_scan(scan(args.trees, workers=1), bundle, workers=1, pixels=mode, rules=rules)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(args.cprofile)


def _try(fn: Callable[[str], Any], arg: str) -> Any:
    try:
        return fn(arg)
    except Exception:
        return None


if __name__ == "__main__":
    main()
