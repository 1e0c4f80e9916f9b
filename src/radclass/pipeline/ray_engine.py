"""``radclass annotate --engine ray``: the annotate pipeline as Ray Data stages, same rows as the local engine.

Stages (each a Ray Data ``map_batches``):

1. **series discovery** - header reading: the walked files in blocks of ``files_per_task``, each file read by
   :func:`radclass.pipeline.scan.read_one` (tasks of ``read_cpus`` CPU each); the headers come back to the
   driver, which groups them into series exactly as :func:`radclass.pipeline.scan.scan` does;
2. **slice decoding** - the MR series whose pixels are needed (:mod:`radclass.pipeline.pixel_policy`, the
   local engine's policy), ``series_per_task`` at a time: K slices decoded and prepared for the CNN, and the
   anatomy gate's pixel stage where the header names no region (:func:`radclass.pipeline.annotate.
   load_series_work`, as the local engine's worker processes; tasks of ``decode_cpus`` CPU);
3. **inference** - a pool of ``actors`` actors (``infer_cpus`` CPU each) holding the bundle's CNN in ONNX
   Runtime (one intra-op thread per actor), ``infer_series`` series per call.

The header forest (one call for all series, milliseconds) and the decisions (fusion, abstention, rules) run in
the driver with the local engine's code (:func:`radclass.pipeline.annotate.rows_from_evidence`, which asks
the decision policy :func:`radclass.models.decision.decide_series`), so a series
gets the same sequence, orientation and confidence on either engine.

Resources: the inference actors take ``infer_cpus`` (0.5) each and every decode task asks for a share of what
they leave (:func:`decode_request`: 0.75 CPU on a 2-CPU Ray, 0.49 on 1 CPU), so the decode tasks and the actors
always fit together: an actor can never hold the CPUs the decode tasks feeding it need (with whole-CPU
requests on 1 CPU, the actor would wait for input that no task could be scheduled to produce). Discovery runs
before the actors start, one read task per CPU. On a cluster, give more actors.

Files are read where the tasks run: on a cluster, every node must see the input paths (and the bundle folder)
at the same location, e.g. a shared file system. ``ray`` is an optional dependency: ``pip install radclass[ray]``.
"""

from __future__ import annotations

import os
import pickle
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from radclass.models.bundle import DEFAULT_BUNDLE, ModelBundle


class RayUnavailable(RuntimeError):
    """Ray is not installed (``pip install radclass[ray]``)."""


@dataclass
class RayOptions:
    """How the stages use the cluster (CPU amounts are Ray resource requests, fractions allowed)."""

    address: str | None = None  # None: start a local Ray with ``num_cpus``; else ray.init(address=...)
    num_cpus: int | None = None  # local Ray only (default: os.cpu_count())
    read_cpus: float = 1.0  # discovery runs alone: one task per CPU
    decode_cpus: float | None = None  # None: fitted to the cluster's CPUs (see decode_request)
    infer_cpus: float = 0.5
    actors: int = 1
    files_per_task: int = 256
    series_per_task: int = 16
    infer_series: int = 16


def decode_request(options: RayOptions, total_cpus: float) -> float:
    """CPUs per decode task: what the inference actors leave, shared by one task per CPU, so that the decode
    tasks and the actors always fit together (0.75 on 2 CPUs with one 0.5-CPU actor, 0.49 on 1 CPU: never equal to the
    actors' request, or Ray Data would fuse decoding into them)."""
    if options.decode_cpus is not None:
        return options.decode_cpus
    free = total_cpus - options.infer_cpus * options.actors
    if free <= 0:
        raise ValueError(
            f"{options.actors} inference actor(s) of {options.infer_cpus} CPU leave no CPU for "
            f"decoding on {total_cpus:g} CPUs"
        )
    request = max(0.05, free / max(1.0, round(total_cpus)))
    # Ray Data fuses a task stage into the next actor stage when both ask for the same resources (the actors
    # would then decode): keep the requests different.
    return round(request - 0.01, 4) if abs(request - options.infer_cpus) < 1e-9 else request


def ray_available() -> bool:
    try:
        import ray  # noqa: F401
        import ray.data  # noqa: F401
    except ImportError:
        return False
    return True


def _ray():
    try:
        import ray
        import ray.data
    except ImportError as err:
        raise RayUnavailable("the Ray engine needs ray: pip install 'radclass[ray]'") from err
    return ray


def init_ray(options: RayOptions) -> bool:
    """Connect to (or start) Ray; True when this call started it (and so should shut it down)."""
    ray = _ray()
    if ray.is_initialized():
        return False
    import logging

    kwargs: dict[str, Any] = {
        "ignore_reinit_error": True,
        "log_to_driver": False,
        "include_dashboard": False,
        "logging_level": logging.WARNING,
    }
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    if options.address:
        ray.init(address=options.address, **{k: v for k, v in kwargs.items() if k != "include_dashboard"})
    else:
        ray.init(num_cpus=options.num_cpus or os.cpu_count() or 1, **kwargs)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    ctx.verbose_stats_logs = False
    return True


# --- stage functions (run in Ray workers) --------------------------------------------------------------------


def _node_column(n: int) -> np.ndarray:
    """The id of the Ray node running this task, once per row (the driver counts the nodes that worked)."""
    import ray

    return np.array([ray.get_runtime_context().get_node_id()] * n, dtype=object)


def _read_headers(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    from radclass.pipeline.scan import read_one

    out = [pickle.dumps(read_one(Path(p))) for p in batch["path"]]
    return {"i": batch["i"], "outcome": np.array(out, dtype=object), "node": _node_column(len(out))}


def _decode(batch: dict[str, np.ndarray], k: int, size: int, gate: bytes) -> dict[str, np.ndarray]:
    from radclass.pipeline.annotate import load_series_work

    anatomy_gate = pickle.loads(gate)
    slices, errors, regions = [], [], []
    for blob in batch["series"]:
        arr, err, region = load_series_work(pickle.loads(blob), k, size, anatomy_gate)
        slices.append(pickle.dumps(arr))
        errors.append(err)
        regions.append(pickle.dumps(region))
    return {
        "i": batch["i"],
        "slices": np.array(slices, dtype=object),
        "error": np.array(errors, dtype=object),
        "anatomy": np.array(regions, dtype=object),
        "node": _node_column(len(slices)),
    }


class _Infer:
    """Inference actor: the bundle's CNN in ONNX Runtime, one intra-op thread."""

    def __init__(self, bundle: str):
        self.bundle = ModelBundle.load(bundle, threads=1)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from radclass.pipeline.annotate import cnn_evidence

        arrays = [pickle.loads(b) for b in batch["slices"]]
        pending = [(str(j), a) for j, a in enumerate(arrays) if a is not None and len(a)]
        by_row = {int(key): (seq, orient) for key, seq, orient in cnn_evidence(pending, self.bundle.cnn_proba)}
        seq = [pickle.dumps(by_row[j][0]) if j in by_row else pickle.dumps(None) for j in range(len(arrays))]
        orient = [pickle.dumps(by_row[j][1]) if j in by_row else pickle.dumps(None) for j in range(len(arrays))]
        return {
            "i": batch["i"],
            "seq": np.array(seq, dtype=object),
            "orient": np.array(orient, dtype=object),
            "error": batch["error"],
            "anatomy": batch["anatomy"],
            "node": batch["node"],
        }


# --- driver ------------------------------------------------------------------------------------------------


def ray_reader(options: RayOptions, nodes: set[str] | None = None):
    """A ``scan(reader=...)`` that reads the headers in Ray tasks (stage 1); ``nodes`` (if given) receives the
    ids of the Ray nodes that read them."""

    def read(paths: list[Path]) -> list[tuple[Path, str, Any]]:
        if not paths:
            return []
        ray = _ray()
        ds = ray.data.from_items(
            [{"i": i, "path": str(p)} for i, p in enumerate(paths)],
            override_num_blocks=max(1, -(-len(paths) // options.files_per_task)),
        )
        ds = ds.map_batches(
            _read_headers, batch_size=options.files_per_task, num_cpus=options.read_cpus, batch_format="numpy"
        )
        outcomes: list[Any] = [None] * len(paths)
        for row in ds.iter_rows():
            outcomes[int(row["i"])] = pickle.loads(row["outcome"])
            if nodes is not None:
                nodes.add(str(row["node"]))
        return outcomes

    return read


def annotate_paths_ray(
    paths: Sequence[Path],
    *,
    slices: int | None = None,
    bundle: str | Path = DEFAULT_BUNDLE,
    rules: Path | None = None,
    threshold: float | None = None,
    options: RayOptions | None = None,
    timings: dict[str, float] | None = None,
    pixels: str = "auto",
):
    """:func:`radclass.pipeline.annotate.annotate_paths` on Ray Data; one DataFrame row per series and per
    skipped file, the same rows as the local engine. ``timings`` (if given) receives seconds per stage and the
    number of Ray nodes that read headers (``read_nodes``) and decoded slices (``decode_nodes``);
    ``pixels`` (``auto``/``all``) chooses the series decoded, as on the local engine
    (:func:`radclass.pipeline.pixel_policy.pixel_need`); ``slices`` per series: default the bundle's
    ``slices_per_series``."""
    import pandas as pd

    from radclass.anatomy.gate import AnatomyGate
    from radclass.outputs.annotations import annotation_columns
    from radclass.pipeline.annotate import (
        ProcessBundle,
        add_forest_evidence,
        add_signature_evidence,
        initial_evidence,
        is_mr_candidate,
        measure_volume,
        pixel_work,
        rows_from_evidence,
        set_volume_reading,
        volume_targets,
    )
    from radclass.pipeline.pixel_policy import PixelMode
    from radclass.pipeline.scan import scan
    from radclass.rules import LabelRules

    options = options or RayOptions()
    ray = _ray()
    model = ModelBundle.load(bundle)
    label_rules = LabelRules.load(rules)
    started = init_ray(options)
    t: dict[str, float] = timings if timings is not None else {}
    try:
        t0 = time.perf_counter()
        read_nodes: set[str] = set()
        decode_nodes: set[str] = set()
        result = scan([Path(p) for p in paths], reader=ray_reader(options, read_nodes))
        t["discovery"] = time.perf_counter() - t0
        t["read_nodes"] = float(len(read_nodes))
        candidates = [s for s in result.series if is_mr_candidate(s)]
        evidence, with_pixels = initial_evidence(candidates, model, PixelMode.parse(pixels))
        gate = AnatomyGate()
        work = pixel_work(candidates, with_pixels, model, gate)
        t0 = time.perf_counter()
        add_forest_evidence(candidates, model, evidence)
        t["forest"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        if work:
            decode_cpus = decode_request(options, float(ray.cluster_resources().get("CPU", 1)))
            t["decode_cpus"] = decode_cpus
            items = [{"i": i, "series": pickle.dumps(item)} for i, item in enumerate(work)]
            ds = ray.data.from_items(items, override_num_blocks=max(1, -(-len(items) // options.series_per_task)))
            ds = ds.map_batches(
                _decode,
                batch_size=options.series_per_task,
                num_cpus=decode_cpus,
                fn_kwargs={
                    "k": slices or model.slices_per_series,
                    "size": model.input_size,
                    "gate": pickle.dumps(gate),
                },
                batch_format="numpy",
            )
            ds = ds.map_batches(
                _Infer,
                batch_size=options.infer_series,
                num_cpus=options.infer_cpus,
                compute=ray.data.ActorPoolStrategy(size=options.actors),
                fn_constructor_kwargs={"bundle": str(model.folder)},
                batch_format="numpy",
            )
            for row in ds.iter_rows():
                s, need_cnn, _ = work[int(row["i"])]
                decode_nodes.add(str(row["node"]))
                region = pickle.loads(row["anatomy"])
                if region is not None:
                    evidence[s.key].anatomy = region
                seq, orient = pickle.loads(row["seq"]), pickle.loads(row["orient"])
                if need_cnn and seq is None:
                    evidence[s.key].pixel_error = row["error"] or "no slices"
                elif need_cnn:
                    evidence[s.key].slice_proba, evidence[s.key].orient_proba = seq, orient
        t["slices_and_cnn"] = time.perf_counter() - t0
        t["decode_nodes"] = float(len(decode_nodes))
        t0 = time.perf_counter()
        add_signature_evidence(candidates, model, evidence)  # series without a header only, in the driver
        t["pixel_signature"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        targets = volume_targets(candidates, model, evidence, gate)  # gadolinium and fluid tests
        if targets:  # one Ray task per volume, each worker process with its own copy of the bundle
            measure = ray.remote(num_cpus=1)(measure_volume)
            process_bundle = ProcessBundle(model)
            readings = ray.get([measure.remote(s, process_bundle, test) for s, test in targets])
            for (s, test), (reading, error) in zip(targets, readings):
                set_volume_reading(evidence[s.key], test, reading, error)
        t["enhancement"] = time.perf_counter() - t0
        rows = rows_from_evidence(result, model, evidence, rules=label_rules, threshold=threshold, anatomy=gate)
    finally:
        if started:
            ray.shutdown()
    return pd.DataFrame(rows, columns=annotation_columns(model.classes))
