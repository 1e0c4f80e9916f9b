"""Throughput of ``radclass annotate --engine ray`` on a real Ray cluster as CPUs are added, node by node.

Usage::

    python benchmarks/bench_ray_cluster.py TREE [--nodes 1 2 3] [--cpus-per-node 1] [--pixels all] [--repeat 1]

For each value of ``--nodes``, a cluster of that many nodes (a head and ``nodes - 1`` worker nodes, each a
separate ``ray start`` process on this machine, :class:`radclass.pipeline.ray_cluster.LocalRayCluster`) is
started, the tree is annotated through it (:func:`radclass.pipeline.ray_engine.annotate_paths_ray`, the
driver in this process, best of ``--repeat``) and the cluster is stopped. Printed: wall seconds, files/s,
series/s, the nodes that read headers and decoded slices, the seconds per stage, and the files/s gained per
CPU added over the previous row. Every run's table is checked to equal the first one's (every column).
On a machine with fewer cores than the cluster's CPUs the extra nodes only add scheduling units, not
compute: the gain per added CPU then shows the engine's overhead, not its scaling.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tree_io import tree_files, warm_cache  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    import ray

    from radclass.pipeline.ray_cluster import LocalRayCluster
    from radclass.pipeline.ray_engine import RayOptions, annotate_paths_ray

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tree", type=Path)
    parser.add_argument("--nodes", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--cpus-per-node", type=int, default=1)
    parser.add_argument("--pixels", default="all", choices=["auto", "all"])
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args(argv)

    files = tree_files(args.tree)
    mb = warm_cache(files) / 1e6
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {"PYTHONPATH": os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH", "")) if p)}
    print(f"tree {args.tree}: {len(files)} files, {mb:.0f} MB; {os.cpu_count()} cores; --pixels {args.pixels}; "
          f"load average at start {os.getloadavg()[0]:.2f}\n")
    print("| nodes | Ray CPUs | wall s | files/s | series/s | nodes reading / decoding | discovery s | "
          "slices + CNN s | files/s gained per added CPU |")
    print("|---|---|---|---|---|---|---|---|---|")
    first = None
    previous: tuple[int, float] | None = None
    for nodes in args.nodes:
        best: tuple[float, object, dict[str, float]] | None = None
        with LocalRayCluster(workers=nodes - 1, cpus_per_node=args.cpus_per_node, env=env) as cluster:
            os.environ["RAY_AUTH_MODE"] = cluster.driver_env["RAY_AUTH_MODE"]
            for _ in range(args.repeat):
                timings: dict[str, float] = {}
                t0 = time.perf_counter()
                try:
                    df = annotate_paths_ray([args.tree], pixels=args.pixels, timings=timings,
                                            options=RayOptions(address=cluster.address))
                finally:
                    if ray.is_initialized():
                        ray.shutdown()
                wall = time.perf_counter() - t0
                if best is None or wall < best[0]:
                    best = (wall, df, timings)
        assert best is not None
        wall, df, timings = best
        if first is None:
            first = df
        elif not df.astype(str).equals(first.astype(str)):
            print(f"  ! the {nodes}-node table differs from the first one", file=sys.stderr)
        cpus = nodes * args.cpus_per_node
        n_series = int((df["series_uid"].astype(str) != "").sum())
        rate = len(files) / wall
        gain = f"{(rate - previous[1]) / (cpus - previous[0]):.1f}" if previous and cpus > previous[0] else ""
        previous = (cpus, rate)
        print(f"| {nodes} | {cpus} | {wall:.2f} | {rate:.0f} | {n_series / wall:.1f} | "
              f"{timings.get('read_nodes', 0):.0f} / {timings.get('decode_nodes', 0):.0f} | "
              f"{timings.get('discovery', 0):.2f} | {timings.get('slices_and_cnn', 0):.2f} | {gain} |")
        sys.stdout.flush()
    print(f"\nload average at end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
