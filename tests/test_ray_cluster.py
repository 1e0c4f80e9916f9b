"""``radclass annotate --engine ray --address ...`` on a real multi-node Ray cluster: a head node and a worker
node started as separate ``ray start`` processes on this machine (:class:`radclass.pipeline.ray_cluster.
LocalRayCluster`), one CPU each. The table must equal the local engine's, every column, with ``--pixels all``
(every series decoded, spread over both nodes) and with the default ``--pixels auto`` through the command line.
The cluster is stopped (its process groups ended) even when a check fails. Skips only without ray.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from loopback_netns import in_loopback_netns, rerun_in_loopback_netns
from radclass.config import BUNDLED_DIR

pytest.importorskip("ray", reason="ray not installed: pip install 'radclass[ray]' to test --engine ray")


# Ray binds the machine's interface address even when told 127.0.0.1: these tests run inside a loopback-only
# network namespace (conftest.rerun_in_loopback_netns), never on the host's network.
needs_netns = pytest.mark.skipif(not in_loopback_netns(), reason="runs inside the loopback-only namespace "
                                   "(test_in_loopback_netns)")


@pytest.mark.skipif(in_loopback_netns(), reason="already inside the namespace")
def test_in_loopback_netns():
    rerun_in_loopback_netns(__file__)
pytestmark = pytest.mark.skipif(not (BUNDLED_DIR / "mri-series" / "bundle.json").exists(),
                                reason="bundled mri-series model not built")

# Enhanced multi-frame (XA30), Siemens mosaics, NIfTI, and a CT series (skipped rows).
SUBSET = ("mri/dicom/dcm_qa_xa30", "mri/dicom/dcm_qa", "mri/nifti/niivue", "liver/totalseg/example_ct_dicom")
SRC = str(Path(__file__).resolve().parents[1] / "src")


@pytest.fixture(scope="module")
def cluster():
    from radclass.pipeline.ray_cluster import LocalRayCluster

    path = os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH", "")) if p)
    with LocalRayCluster(workers=1, cpus_per_node=1, env={"PYTHONPATH": path}) as c:
        yield c


def _as_written(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    df.to_csv(path, index=False)  # as the command line writes it
    return pd.read_csv(path, keep_default_na=False)


# The driver runs in a process of its own: a Ray driver started after another Ray session of the same process
# (e.g. the local-Ray tests' in-process command line) can lose its objects.
DRIVER = """
import json, sys
from pathlib import Path
from radclass.pipeline.ray_engine import RayOptions, annotate_paths_ray
timings = {}
# small blocks, so that the tasks outnumber one node's CPU and spill onto the worker node
options = RayOptions(address=sys.argv[1], files_per_task=32, series_per_task=4, infer_series=4)
df = annotate_paths_ray([Path(p) for p in sys.argv[3:]], pixels="all", options=options, timings=timings)
df.to_csv(sys.argv[2], index=False)
print(json.dumps(timings))
"""


@needs_netns
def test_cluster_has_two_nodes_and_gives_the_local_table_with_every_series_decoded(cluster, data_root, tmp_path):
    from radclass.pipeline.annotate import annotate_paths

    paths = [data_root / p for p in SUBSET]
    local = _as_written(annotate_paths(paths, progress=False, workers=2, pixels="all"), tmp_path / "local.csv")
    out = tmp_path / "remote.csv"
    env = {**cluster.driver_env, "PYTHONPATH": cluster.env["PYTHONPATH"]}
    proc = subprocess.run([sys.executable, "-c", DRIVER, cluster.address, str(out), *map(str, paths)],
                          capture_output=True, text=True, env=env, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    timings = json.loads(proc.stdout.strip().splitlines()[-1])
    remote = pd.read_csv(out, keep_default_na=False)
    assert timings["read_nodes"] + timings["decode_nodes"] >= 3, timings  # work ran on both nodes
    assert len(remote) == len(local) and int(remote["n_files"].sum()) == int(local["n_files"].sum())
    assert (remote["cnn_sequence"] != "").sum() >= 20  # the CNN ran on the cluster
    pd.testing.assert_frame_equal(remote.astype(str), local.astype(str))


@needs_netns
def test_cluster_cli_gives_the_local_table_by_default(cluster, data_root, tmp_path):
    from radclass.pipeline.annotate import annotate_paths

    paths = [data_root / p for p in SUBSET]
    local = _as_written(annotate_paths(paths, progress=False, workers=2), tmp_path / "local.csv")
    out = tmp_path / "ray.csv"
    env = {**cluster.driver_env, "PYTHONPATH": cluster.env["PYTHONPATH"]}
    proc = subprocess.run([sys.executable, "-m", "radclass", "annotate", *map(str, paths), "--out", str(out),
                           "--engine", "ray", "--address", cluster.address, "-q"],
                          capture_output=True, text=True, env=env, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    remote = pd.read_csv(out, keep_default_na=False)
    assert remote["flags"].str.contains("pixels_skipped").sum() >= 20
    pd.testing.assert_frame_equal(remote.astype(str), local.astype(str))
