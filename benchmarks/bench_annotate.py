"""``radclass annotate`` beside ``dcm2niix`` and ``dcm-classifier`` on the same DICOM tree, in one run.

Usage::

    python benchmarks/bench_annotate.py [TREE ...] [--model mri-series|BUNDLE_DIR] [--slices 5] [--workers 2]
                                        [--repeat 1] [--ray] [--ray-cpus 1 2] [--no-peer] [--no-dcm2niix]
                                        [--keep DIR]

TREE defaults to the pool's ``mri/dicom`` (``radclass.config.data_root()``); the figures in
docs/performance.md are for the 20-copy tree that
``python /work/shared/tools/replicate_dicom_tree.py <pool>/mri/dicom /tmp/bench20 20`` builds (9,320 files, 1.5 GB,
fresh UIDs per copy; build it outside the repository).

Each tool runs as a subprocess on a warm page cache (every file read once first). The machine is shared, so
the tools run in ``--repeat`` interleaved rounds (every tool once per round, the order reversed every other
round) and each figure is the median run; the ``x dcm2niix time`` column is the median over rounds of the
tool's wall time over dcm2niix's in the same round (alternating pairs):

* ``radclass annotate TREE --out T.csv -q --workers W --slices K`` (the local engine, default
  ``--pixels auto``: slices decoded only where they can change a published column), and the same with
  ``--pixels all`` (every series decoded and inferred); ``--ray`` adds ``--engine ray`` runs, one per
  ``--ray-cpus`` value: a local Ray with that many CPUs;
* ``dcm2niix -z n -b y -o OUT TREE`` (conversion of every series to NIfTI + BIDS sidecar: reads every pixel,
  writes every voxel);
* ``dcm-classifier`` (PyPI ``dcm-classifier``, the ``bench`` extra; one run, after the rounds): its study API
  (``ProcessOneDicomStudyToVolumesMappingBase`` + ``ImageTypeClassifierBase``, the header-only random forest
  in ONNX Runtime) run on every folder that holds files (one folder = one series in these trees; a folder with
  several series numbers is reported per series).

Columns: wall seconds; files/s (files under the tree / wall); series/s (series the tool reports / wall:
radclass rows with a SeriesInstanceUID, dcm2niix .nii files written, dcm-classifier series); peak memory
(the largest sum of the resident set sizes of the tool's process tree, sampled every 20 ms from /proc);
CPU seconds (user + system of the tree); accuracy of the sequence label against ``MANIFEST.csv`` on the
series where both label sets overlap (see ``PEER_TO_TAXONOMY``; an abstention or an unmapped label counts as
wrong, coverage = share of those series given a label), and of the orientation (AX/COR/SAG truth only).
A folder with several output rows is judged by the row with the most files. Below the table: radclass's
in-process header scan (``scan()``, files/s) and start-up (``radclass --help``), the figures issue #7 asks for.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tree_io import tree_files, warm_cache  # noqa: E402

# dcm-classifier's labels -> the radclass taxonomy (docs/taxonomy.md): b0, trace-weighted and raw diffusion
# gradients are DWI; FA maps are DTI_MAP. eADC (exponential ADC) has no class of ours: left unmapped.
PEER_TO_TAXONOMY = {"t1w": "T1", "t2w": "T2", "flair": "FLAIR", "gret2star": "T2STAR", "b0": "DWI",
                    "tracew": "DWI", "dwig": "DWI", "adc": "ADC", "fa": "DTI_MAP"}
PEER_CLASSES = {"T1", "T1C", "T2", "FLAIR", "T2STAR", "DWI", "ADC", "DTI_MAP"}
PLANES = {"ax": "AX", "cor": "COR", "sag": "SAG"}


# --- measuring a subprocess ----------------------------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids[ppid].append(int(entry))
    return kids


def _tree_rss(pid: int) -> int:
    kids, todo, total = _children(), [pid], 0
    while todo:
        p = todo.pop()
        todo.extend(kids.get(p, []))
        try:
            with open(f"/proc/{p}/statm") as fh:
                total += int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            pass
    return total


def run_measured(cmd: list[str], **kwargs) -> dict:
    """Wall time, CPU seconds and peak process-tree RSS of ``cmd``."""
    before = os.times()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kwargs)
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _tree_rss(proc.pid))
            stop.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    wall = time.perf_counter() - t0
    stop.set()
    sampler.join()
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return {"wall": wall, "cpu": cpu, "peak": peak, "rc": proc.returncode, "stderr": err.decode(errors="replace")}


DCM2NIIX_NAME = "dcm2niix -z n -b y"


def interleaved_rounds(tools: list[tuple[str, object, str]], rounds: int) -> dict[str, list[dict]]:
    """Run every tool once per round, in alternating order (forward, then backward), so that a change of the
    shared machine's load hits every tool alike; the runs of each tool, round by round."""
    runs: dict[str, list[dict]] = {name: [] for name, _, _ in tools}
    for k in range(max(1, rounds)):
        order = tools if k % 2 == 0 else tools[::-1]
        for name, make, _ in order:
            cmd, out = make()
            r = run_measured(cmd)
            r["out"] = out
            runs[name].append(r)
    return runs


def median_run(runs: list[dict]) -> dict:
    """The run of median wall time (its CPU, memory and output go with it)."""
    return sorted(runs, key=lambda r: r["wall"])[(len(runs) - 1) // 2]


def _tools(args: argparse.Namespace, tree: Path, tmp: Path, dcm2niix: str | None) -> list[tuple[str, object, str]]:
    """(name, () -> (command, output path), kind) of every tool of the interleaved rounds."""
    tools: list[tuple[str, object, str]] = []
    configs = [("radclass annotate (default: --pixels auto)", ["--workers", str(args.workers)]),
               ("radclass annotate --pixels all", ["--workers", str(args.workers), "--pixels", "all"])]
    if args.ray:
        configs += [(f"radclass annotate --engine ray ({c} CPU)", ["--engine", "ray", "--workers", str(c)])
                    for c in args.ray_cpus]
    for i, (name, extra) in enumerate(configs):
        def make(i=i, extra=extra):
            out = tmp / f"radclass{i}_{time.monotonic_ns()}.csv"
            return ([sys.executable, "-m", "radclass", "annotate", str(tree), "--out", str(out), "-q", "--model",
                     args.model, "--slices", str(args.slices), *extra], out)
        tools.append((name, make, "radclass"))
    if dcm2niix:
        def make_d2n():
            outdir = tmp / f"nii{time.monotonic_ns()}"
            outdir.mkdir()
            return [dcm2niix, "-z", "n", "-b", "y", "-o", str(outdir), str(tree)], outdir
        tools.append((DCM2NIIX_NAME, make_d2n, "dcm2niix"))
    return tools


# --- the tree ----------------------------------------------------------------------------------------------


def truth_for(tree: Path, data_root: Path) -> dict[str, tuple[str, str]]:
    """Folder (resolved) -> (sequence, orientation) from MANIFEST.csv, for a pool folder or copies of it.

    A tree made by replicate_dicom_tree.py holds ``copyNN/<path under mri/dicom>``; other trees are matched by
    their path relative to the pool's ``mri/dicom`` (or the pool root)."""
    rows = list(csv.DictReader(open(data_root / "MANIFEST.csv", newline="")))
    by_rel = {r["relpath"]: (r["sequence"], r["orientation"]) for r in rows}
    out: dict[str, tuple[str, str]] = {}
    tree = tree.resolve()
    for d, _, names in os.walk(tree):
        if not names:
            continue
        rel = Path(d).relative_to(tree)
        candidates = [rel]
        if rel.parts and rel.parts[0].startswith("copy"):
            candidates.append(Path(*rel.parts[1:]))
        for c in candidates:
            for prefix in (Path("mri/dicom"), Path("")):
                key = str(prefix / c) if str(c) != "." else str(prefix)
                if key in by_rel:
                    out[str(Path(d))] = by_rel[key]
        try:  # the tree itself may be a pool folder
            rel_pool = Path(d).relative_to(data_root.resolve())
            if str(rel_pool) in by_rel:
                out[str(Path(d))] = by_rel[str(rel_pool)]
        except ValueError:
            pass
    return out


def accuracy(pred: dict[str, tuple[str, str]], truth: dict[str, tuple[str, str]], classes: set[str]) -> dict:
    """Sequence accuracy and coverage on truth folders whose label is in ``classes``; orientation accuracy."""
    seq_rows = [(f, t[0]) for f, t in truth.items() if t[0] in classes]
    ok = sum(1 for f, t in seq_rows if pred.get(f, ("", ""))[0] == t)
    covered = sum(1 for f, _ in seq_rows if pred.get(f, ("", ""))[0] in PEER_CLASSES | {
        "T1", "T1C", "T2", "FLAIR", "PD", "T2STAR", "SWI", "DWI", "ADC", "DTI_MAP", "PERFUSION", "MRA", "BOLD",
        "FIELDMAP", "SCOUT", "OTHER"})
    or_rows = [(f, t[1]) for f, t in truth.items() if t[0] in classes and t[1] in ("AX", "COR", "SAG")]
    or_ok = sum(1 for f, t in or_rows if pred.get(f, ("", ""))[1] == t)
    return {"n": len(seq_rows), "acc": ok / len(seq_rows) if seq_rows else float("nan"),
            "coverage": covered / len(seq_rows) if seq_rows else float("nan"),
            "n_or": len(or_rows), "or_acc": or_ok / len(or_rows) if or_rows else float("nan")}


# --- the tools ---------------------------------------------------------------------------------------------


def radclass_predictions(csv_path: Path) -> tuple[dict[str, tuple[str, str]], int]:
    best: dict[str, tuple[int, str, str]] = {}
    n_series = 0
    for r in csv.DictReader(open(csv_path, newline="")):
        if not r["series_uid"]:
            continue
        n_series += 1
        folder = r["path"] if os.path.isdir(r["path"]) else os.path.dirname(r["path"])
        n = int(r["n_files"] or 0)
        if folder not in best or n > best[folder][0]:
            best[folder] = (n, r["sequence"], r["orientation"])
    return {str(Path(f).resolve()): (s, o) for f, (_, s, o) in best.items()}, n_series


def peer_main(tree: str, out: str) -> int:
    """Run dcm-classifier over every folder of ``tree`` that holds files; write one CSV row per series."""
    import contextlib
    import warnings

    warnings.simplefilter("ignore")
    from dcm_classifier.image_type_inference import ImageTypeClassifierBase
    from dcm_classifier.study_processing import ProcessOneDicomStudyToVolumesMappingBase

    inferer = ImageTypeClassifierBase()
    with open(out, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["folder", "series_number", "modality", "plane", "contrast", "n_volumes", "n_files", "error"])
        for d, _, names in sorted(os.walk(tree)):
            if not names:
                continue
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    study = ProcessOneDicomStudyToVolumesMappingBase(study_directory=d, inferer=inferer)
                    study.run_inference()
                for number, series in study.series_dictionary.items():
                    volumes = series.get_volume_list()
                    w.writerow([d, number, series.get_series_modality(), series.get_acquisition_plane(),
                                series.get_has_contrast(), len(volumes),
                                sum(len(v.get_one_volume_dcm_filenames()) for v in volumes), ""])
            except Exception as err:  # a folder the tool cannot read: reported, the run goes on
                w.writerow([d, "", "", "", "", 0, 0, f"{type(err).__name__}: {err}"])
    return 0


def peer_predictions(csv_path: Path) -> tuple[dict[str, tuple[str, str]], int]:
    best: dict[str, tuple[int, str, str]] = {}
    n_series = 0
    for r in csv.DictReader(open(csv_path, newline="")):
        if r["error"]:
            continue
        n_series += 1
        label = PEER_TO_TAXONOMY.get(r["modality"].lower(), "")
        if label == "T1" and r["contrast"] == "True":
            label = "T1C"
        plane = PLANES.get(r["plane"].lower(), "")
        n = int(r["n_files"] or 0)
        if r["folder"] not in best or n > best[r["folder"]][0]:
            best[r["folder"]] = (n, label, plane)
    return {str(Path(f).resolve()): (s, o) for f, (_, s, o) in best.items()}, n_series


def header_scan_rate(tree: Path, workers: int, repeat: int) -> tuple[float, int]:
    code = ("import sys, time; from pathlib import Path; from radclass.pipeline.scan import scan\n"
            "t0 = time.perf_counter(); r = scan([Path(sys.argv[1])], workers=int(sys.argv[2]))\n"
            "print(time.perf_counter() - t0, r.n_walked)")
    best = None
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", code, str(tree), str(workers)], capture_output=True, text=True,
                             check=True).stdout.split()
        secs, n = float(out[0]), int(out[1])
        best = secs if best is None else min(best, secs)
    return best, n  # type: ignore[return-value]


def startup_seconds(repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "radclass", "--help"], stdout=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t0)
    return min(times)


def _gb(n: int) -> str:
    return f"{n / 2**30:.2f} GB" if n >= 2**30 else f"{n / 2**20:.0f} MB"


def main(argv: list[str] | None = None) -> int:
    from radclass.config import data_root

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="*", type=Path)
    parser.add_argument("--model", default="mri-series")
    parser.add_argument("--slices", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--ray", action="store_true", help="also run --engine ray (local Ray)")
    parser.add_argument("--ray-cpus", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--no-dcm2niix", action="store_true")
    parser.add_argument("--keep", type=Path, help="keep the tools' outputs (CSV tables) in this folder")
    args = parser.parse_args(argv)

    root = data_root()
    trees = args.trees or [root / "mri" / "dicom"]
    keep = args.keep
    if keep:
        keep.mkdir(parents=True, exist_ok=True)
    has_peer = not args.no_peer
    if has_peer:
        try:
            import dcm_classifier  # noqa: F401
        except ImportError:
            print("dcm-classifier not installed (pip install 'radclass[bench]'): its rows are left out",
                  file=sys.stderr)
            has_peer = False
    dcm2niix = None if args.no_dcm2niix else shutil.which("dcm2niix")

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB; python "
          f"{sys.version.split()[0]}; warm page cache; median of {args.repeat} interleaved rounds; load average at start "
          f"{os.getloadavg()[0]:.2f}")
    for tree in trees:
        files = tree_files(tree)
        mb = warm_cache(files) / 1e6
        truth = truth_for(tree, root)
        print(f"\ntree {tree}: {len(files)} files, {mb:.0f} MB, {len(truth)} folders with a MANIFEST label\n")
        print("| tool | wall s | files/s | series | series/s | CPU s | peak RSS | sequence accuracy (n, coverage) "
              "| orientation accuracy (n) | x dcm2niix time |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        rows = []
        with tempfile.TemporaryDirectory() as tmp_s:
            tmp = Path(tmp_s)
            tools = _tools(args, tree, tmp, dcm2niix)
            runs = interleaved_rounds(tools, args.repeat)
            d2n_runs = runs.get(DCM2NIIX_NAME)
            for name, _, kind in tools:
                # dcm2niix exits non-zero when it leaves files out (e.g. several series of one name in one
                # folder); its conversion still counts, with the exit status reported below the table.
                good = [r for r in runs[name] if r["rc"] == 0 or (kind == "dcm2niix" and any(r["out"].rglob("*.nii")))]
                if not good:
                    print(f"{name} failed: {runs[name][-1]['stderr'][-2000:]}", file=sys.stderr)
                    continue
                r = median_run(good)
                if kind == "dcm2niix":
                    n_nii = sum(1 for _ in r["out"].rglob("*.nii"))
                    rows.append((name, r, n_nii, None))
                    continue
                pred, n_series = radclass_predictions(r["out"])
                rows.append((name, r, n_series, accuracy(pred, truth, PEER_CLASSES)))
                if keep:
                    shutil.copy(r["out"], keep / f"{name.split('(')[0].strip().replace(' ', '_')}_{len(rows)}.csv")
            if has_peer:
                out = tmp / "peer.csv"
                r = run_measured([sys.executable, __file__, "--peer-run", str(tree), str(out)])
                if r["rc"] != 0:
                    print(f"dcm-classifier failed: {r['stderr'][-2000:]}", file=sys.stderr)
                else:
                    pred, n_series = peer_predictions(out)
                    rows.append(("dcm-classifier 0.9.9 (one run)", r, n_series, accuracy(pred, truth, PEER_CLASSES)))
                    if keep:
                        shutil.copy(out, keep / "dcm_classifier.csv")
            for name, r, n_series, acc in rows:
                acc_s = (f"{acc['acc']:.3f} ({acc['n']}, {acc['coverage']:.2f})" if acc else "n/a (converter)")
                or_s = f"{acc['or_acc']:.3f} ({acc['n_or']})" if acc else ""
                ratio = ""
                if d2n_runs and name in runs:  # median over rounds of (this tool's wall / dcm2niix's, same round)
                    pairs = [a["wall"] / b["wall"] for a, b in zip(runs[name], d2n_runs)
                             if a["rc"] == 0 or name == DCM2NIIX_NAME]
                    ratio = f"{statistics.median(pairs):.2f}" if pairs else ""
                print(f"| {name} | {r['wall']:.2f} | {len(files) / r['wall']:.0f} | {n_series} | "
                      f"{n_series / r['wall']:.1f} | {r['cpu']:.1f} | {_gb(r['peak'])} | {acc_s} | {or_s} | {ratio} |")
            print("\nwall seconds per round (tools alternate order every round):")
            for name, _, _ in tools:
                print(f"  {name}: " + " ".join(f"{r['wall']:.2f}" for r in runs[name])
                      + f" (exit status {sorted({r['rc'] for r in runs[name]})})")
            if d2n_runs and d2n_runs[0]["rc"]:
                print(f"  dcm2niix's last message: {d2n_runs[0]['stderr'].strip().splitlines()[-1:]}")
        secs, n = header_scan_rate(tree, args.workers, max(1, args.repeat))
        print(f"\nheader scan, in-process scan(workers={args.workers}): {n} files in {secs:.2f} s = {n / secs:.0f} files/s")
        sys.stdout.flush()
    print(f"start-up, radclass --help: {startup_seconds():.2f} s (best of 5); load average at end "
          f"{os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--peer-run":
        raise SystemExit(peer_main(sys.argv[2], sys.argv[3]))
    raise SystemExit(main())
