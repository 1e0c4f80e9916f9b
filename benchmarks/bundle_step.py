"""Shared by the benchmark scripts that validate one of a bundle's tests on the pool and may write it: the
command line (``--bundle``, ``--write``) and the run on a temporary copy of the bundle when nothing is written."""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from radclass.models.bundle import DEFAULT_BUNDLE, ModelBundle
from radclass.training.pool import LabelledSeries, labelled_pool

#: A bundle step: (bundle folder, labelled pool, test groups) -> its validation record (None: not built).
Step = Callable[[Path, Sequence[LabelledSeries], Sequence[str]], dict[str, Any] | None]


def run_step(doc: str, step: Step, what: str) -> None:
    """Parse the command line (``doc``'s first line as its description), run ``step`` on the bundle to be
    written (``--write``) or on a temporary copy of ``--bundle``, and print the seconds and the record."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--bundle", default=DEFAULT_BUNDLE, help="bundle whose test groups (and brain mask) are used")
    ap.add_argument("--write", type=Path, default=None, help=f"bundle folder to write the {what} into")
    args = ap.parse_args()
    source = ModelBundle.load(args.write or args.bundle)
    held = list(source.meta.get("test_groups") or ())
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        target = args.write
        if target is None:
            target = Path(tmp) / "bundle"
            shutil.copytree(source.folder, target)
        record = step(target, labelled_pool(), held)
    print(f"{time.perf_counter() - t0:.0f} s")
    print(json.dumps(record, indent=1))
