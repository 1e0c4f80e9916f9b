"""A real multi-node Ray cluster on this machine: a head node and worker nodes as separate ``ray start``
processes on 127.0.0.1, for the Ray engine's cluster test and its scaling benchmark.

Every node is started with ``ray start --block`` in a session of its own, so that stopping the cluster ends
exactly the processes it started (the node's process group), never another user's Ray (``ray stop`` would
stop every Ray of the user on the machine). The GCS port and the agents' ports are picked free on 127.0.0.1.
Ray itself replaces a loopback ``--node-ip-address`` / ``--address`` by the machine's own interface address
(``ray._private.services.resolve_ip_for_localhost``), so the nodes talk over that address, on this machine.

Usage::

    with LocalRayCluster(workers=1, cpus_per_node=1) as cluster:
        annotate_paths_ray(paths, options=RayOptions(address=cluster.address))
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


class ClusterStartError(RuntimeError):
    """A node of the local Ray cluster did not start (the message carries the end of its log)."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ray_cli() -> list[str]:
    exe = Path(sys.executable).with_name("ray")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "ray.scripts.scripts"]


class LocalRayCluster:
    """Head + ``workers`` worker nodes, ``cpus_per_node`` CPUs each, as separate ``ray start`` processes.

    Parameters
    ----------
    workers
        Worker nodes besides the head (0: a single-node cluster, the baseline of a scaling measurement).
    cpus_per_node
        Ray CPUs each node offers.
    env
        Extra environment variables of the nodes (and so of their Ray workers), e.g. ``PYTHONPATH``.
    start_timeout
        Seconds a node may take to join.
    """

    def __init__(
        self,
        workers: int = 1,
        cpus_per_node: int = 1,
        *,
        env: dict[str, str] | None = None,
        start_timeout: float = 90.0,
    ) -> None:
        if workers < 0:
            raise ValueError(f"The number of worker nodes cannot be negative ({workers}).")
        if cpus_per_node < 1:
            raise ValueError(f"Each node needs at least one CPU, not {cpus_per_node}.")
        self.workers = workers
        self.cpus_per_node = cpus_per_node
        # Token authentication (Ray's default for ``ray start`` since 2.5x) would need a token file shared by
        # the nodes and every driver; this throw-away cluster on one machine runs without it.
        self.env = {**os.environ, **(env or {}), "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
        self.env.pop("RAY_ADDRESS", None)
        self.start_timeout = start_timeout
        self.port = 0
        self.temp_dir: Path | None = None
        self._nodes: list[tuple[subprocess.Popen, Path]] = []

    @property
    def address(self) -> str:
        """The GCS address drivers pass to ``ray.init(address=...)`` / ``--address``."""
        return f"127.0.0.1:{self.port}"

    @property
    def driver_env(self) -> dict[str, str]:
        """The environment a driver process (e.g. ``radclass annotate --address``) needs to join."""
        return dict(self.env)

    @property
    def nodes(self) -> int:
        return 1 + self.workers

    def _start_node(self, args: list[str], name: str) -> None:
        assert self.temp_dir is not None
        log = self.temp_dir.parent / f"{name}.log"
        with open(log, "wb") as fh:
            proc = subprocess.Popen(
                [
                    *_ray_cli(),
                    "start",
                    "--block",
                    "--num-cpus",
                    str(self.cpus_per_node),
                    "--node-ip-address=127.0.0.1",
                    "--disable-usage-stats",
                    f"--dashboard-agent-listen-port={free_port()}",
                    f"--metrics-export-port={free_port()}",
                    *args,
                ],
                stdout=fh,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )
        self._nodes.append((proc, log))

    def start(self) -> LocalRayCluster:
        """Start the head, then the workers, and wait until every node has joined."""
        # Ray's socket paths must stay short (107 bytes): a short temporary folder of our own.
        root = Path(tempfile.mkdtemp(prefix="rc-ray-"))
        self.temp_dir = root / "t"
        self.port = free_port()
        try:
            self._start_node(
                ["--head", f"--port={self.port}", "--include-dashboard=false", f"--temp-dir={self.temp_dir}"], "head"
            )
            self._wait_for_port()
            for i in range(self.workers):
                self._start_node([f"--address={self.address}"], f"worker{i}")
            self._wait_for_nodes()
        except BaseException:
            self.stop()
            raise
        return self

    def _check_alive(self) -> None:
        for proc, log in self._nodes:
            if proc.poll() is not None:
                tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
                raise ClusterStartError(f"ray start exited with status {proc.returncode}:\n{tail}")

    def _wait_for_port(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            self._check_alive()
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.2)
        raise ClusterStartError(f"the head node did not listen on {self.address} within {self.start_timeout:g} s")

    def _wait_for_nodes(self) -> None:
        """Poll the cluster from a short-lived driver process until every node is alive."""
        code = (
            "import sys, time, ray\n"
            "ray.init(address=sys.argv[1], log_to_driver=False, logging_level='ERROR')\n"
            "deadline = time.monotonic() + float(sys.argv[3])\n"
            "while sum(n['Alive'] for n in ray.nodes()) < int(sys.argv[2]) and time.monotonic() < deadline:\n"
            "    time.sleep(0.5)\n"
            "print(sum(n['Alive'] for n in ray.nodes()))\n"
        )
        proc = subprocess.run(
            [sys.executable, "-c", code, self.address, str(self.nodes), str(self.start_timeout)],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=self.start_timeout + 60,
        )
        self._check_alive()
        alive = proc.stdout.strip().splitlines()[-1:] if proc.returncode == 0 else []
        if not alive or int(alive[0]) < self.nodes:
            raise ClusterStartError(
                f"{alive[0] if alive else 'no'} of {self.nodes} nodes joined the cluster at "
                f"{self.address}: {proc.stderr[-2000:]}"
            )

    def stop(self) -> None:
        """End every process the nodes started (their process groups), workers first, and remove the logs."""
        for proc, _ in reversed(self._nodes):
            _end_group(proc)
        self._nodes.clear()
        if self.temp_dir is not None:
            shutil.rmtree(self.temp_dir.parent, ignore_errors=True)
            self.temp_dir = None

    def __enter__(self) -> LocalRayCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _end_group(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """SIGTERM the node's process group (``ray start --block`` shuts its node down), then SIGKILL the group
    (its GCS server does not always exit on SIGTERM)."""
    pgid = proc.pid  # started with start_new_session: the node's own group, whose id is its pid
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
