"""Running tests inside a loopback-only network namespace (``unshare -n``, loopback up)."""

from __future__ import annotations

import os

import pytest

LOOPBACK_NETNS_ENV = "RADCLASS_IN_LOOPBACK_NETNS"


def netns_prefix() -> list[str]:
    """Command prefix running a child in a fresh network namespace with only loopback up, or [] if impossible.

    Servers that bind the machine's interface address on their own (Ray resolves 127.0.0.1 to it) are tested in
    such a namespace, so no test traffic ever leaves loopback."""
    import shutil
    import subprocess

    if not (shutil.which("unshare") and shutil.which("ip")):
        return []
    probe = subprocess.run(["unshare", "-n", "sh", "-c", "ip link set lo up"], capture_output=True)
    if probe.returncode != 0:
        return []
    return ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$0" "$@"']


def rerun_in_loopback_netns(test_file: str) -> None:
    """Run the tests of ``test_file`` again inside a loopback-only namespace and fail with their output if they
    fail (call it from one test of that file; the file's other tests skip outside the namespace)."""
    import subprocess
    import sys

    prefix = netns_prefix()
    if not prefix:
        pytest.skip("no loopback-only network namespace here (unshare -n); these tests bind the interface address")
    env = {**os.environ, LOOPBACK_NETNS_ENV: "1"}
    done = subprocess.run([*prefix, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test_file],
                          capture_output=True, text=True, env=env, timeout=1200)
    assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]


def in_loopback_netns() -> bool:
    return os.environ.get(LOOPBACK_NETNS_ENV) == "1"
