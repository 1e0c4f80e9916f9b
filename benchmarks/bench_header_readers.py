"""Header readers side by side on the same DICOM files in one run: files/s, in-process, warm cache, one core.

Usage::

    python benchmarks/bench_header_readers.py [TREE ...] [--repeat 3]

Default tree: the pool's ``mri/dicom`` and ``liver`` folders (``radclass.config.data_root()``). Columns:

* ``read_instance``: radclass's header reader as ``annotate``/``scan`` call it (raw element walk, pydicom as the
  fallback), producing the full :class:`~radclass.io.header_model.InstanceInfo`;
* ``read_instance_walked, Python walk``: the same record through the pure-Python walk (the fallback when the
  compiled walk ``radclass.io._walk`` is missing or refuses a file);
* ``raw walk only``: the walk (:func:`radclass.io.raw_dataset.fast_dataset`, compiled and Python) without the
  mapping to the record;
* ``pydicom.dcmread``: ``dcmread(defer_size=512, force=True)``, the reader before issue #7, without the mapping;
* ``dicomsdl open + values``: dicomsdl 0.109.4 (compiled, MIT; ``bench`` extra) opened up to the pixel data and
  the same ~55 top-level values fetched in one ``getValues`` call, nothing mapped, nothing checked: a floor for
  any dicomsdl-based reader, not a usable reader (see docs/performance.md);
* ``gdcm.Scanner``: python-gdcm's batch scanner over the same public tags (strings only: no sequences, no
  private tags, no pixel data location).

The best of ``--repeat`` passes is kept per reader; readers alternate within each pass.
"""

from __future__ import annotations

import argparse
import mmap
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tree_io import tree_files, warm_cache  # noqa: E402


def _dicom_files(trees: list[Path]) -> list[str]:
    from radclass.io.files import sniff_kind

    return [str(p) for t in trees for p in tree_files(t) if sniff_kind(p)[0] == "dicom"]


def readers(files: list[str]) -> dict[str, Callable[[], None]]:
    """One callable per reader, each reading every file of ``files`` once."""
    import pydicom

    from radclass.io.header_model import DicomReadError
    from radclass.io.header_reader import read_instance, read_instance_walked
    from radclass.io.raw_dataset import HEADER_TAGS, fast_dataset

    def radclass_reader() -> None:
        for f in files:
            try:
                read_instance(f)
            except DicomReadError:
                pass

    def walk_only(compiled: bool) -> None:
        for f in files:
            with open(f, "rb") as fh:
                data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            try:
                fast_dataset(data, HEADER_TAGS, header=True, compiled=compiled)
            except Exception:
                pass
            finally:
                data.close()

    def python_reader() -> None:
        for f in files:
            try:
                read_instance_walked(f, compiled=False)
            except Exception:
                pass

    def dcmread() -> None:
        for f in files:
            try:
                pydicom.dcmread(f, defer_size=512, force=True)
            except Exception:
                pass

    out = {
        "read_instance": radclass_reader,
        "read_instance_walked, Python walk (the fallback)": python_reader,
        "raw walk only, compiled": lambda: walk_only(True),
        "raw walk only, Python": lambda: walk_only(False),
        "pydicom.dcmread": dcmread,
    }
    public = sorted(t for t in HEADER_TAGS if t < 0x7FE00000 and not (t >> 16) & 1)
    try:
        import dicomsdl
    except ImportError:
        print("dicomsdl not installed (pip install dicomsdl==0.109.4): its column is left out", file=sys.stderr)
    else:
        # dicomsdl aborts on an empty file and crashes on pixel data cut short: plain, whole files only here.
        sdl_files = [f for f in files if os.path.getsize(f) >= 140]

        def sdl() -> None:
            for f in sdl_files:
                try:
                    dicomsdl.open(f, load_until=0x7FE00000).getValues(public)
                except Exception:
                    pass

        out["dicomsdl open + values"] = sdl
    import gdcm

    gdcm.Trace.SetWarning(False)
    gdcm.Trace.SetError(False)

    def scanner() -> None:
        scan = gdcm.Scanner()
        for t in public:
            scan.AddTag(gdcm.Tag(t >> 16, t & 0xFFFF))
        names = gdcm.FilenamesType()
        for f in files:
            names.append(f)
        scan.Scan(names)

    out["gdcm.Scanner"] = scanner
    return out


def main(argv: list[str] | None = None) -> int:
    from radclass.config import data_root

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="*", type=Path, help="DICOM trees (default: the pool's mri/dicom and liver)")
    parser.add_argument("--repeat", type=int, default=3, help="passes (best kept per reader)")
    args = parser.parse_args(argv)
    trees = args.trees or [data_root() / "mri" / "dicom", data_root() / "liver"]
    files = _dicom_files(trees)
    mb = warm_cache([Path(f) for f in files]) / 1e6
    warnings.simplefilter("ignore")
    runs = readers(files)
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(args.repeat):
        for name, run in runs.items():
            t0 = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - t0)
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"{len(files)} DICOM files, {mb:.0f} MB, best of {args.repeat}, warm cache, load average after: {load}")
    print("| reader | s | ms/file | files/s | vs read_instance |")
    print("|---|---|---|---|---|")
    for name, seconds in best.items():
        print(
            f"| {name} | {seconds:.2f} | {seconds / len(files) * 1e3:.3f} | {len(files) / seconds:.0f} | "
            f"{best['read_instance'] / seconds:.2f}x |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
