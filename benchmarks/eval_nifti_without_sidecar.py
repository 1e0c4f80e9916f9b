"""NIfTI volumes without a sidecar, as a research archive holds them: the pool's DICOM series converted by
dcm2niix with ``-b n`` (TE in ``descrip``, TR in pixdim[4], ``.bval``/``.bvec`` for diffusion, no JSON), then
annotated as a new user would (``radclass annotate DIR --out x.csv``) with a bundle.

    .venv/bin/python benchmarks/eval_nifti_without_sidecar.py [--model FOLDER] [--csv OUT] [--blank]

``--blank`` then wipes what dcm2niix kept of the header (``descrip``, the TR in pixdim[4], the ``.bval`` and
``.bvec`` files): volumes with nothing but their voxels and geometry, which only the bundle's pixel-only calls
can name (docs/pixel_model.md).

Printed per class, separately for the bundle's test groups (no choice of the bundle saw them) and its
development groups (their DICOM headers trained the timing model: not an out-of-fold figure). A series counts
when its folder converts to exactly one volume; the orientation is scored against the MANIFEST plane. About
20 s for the conversion and the run.
"""

from __future__ import annotations

import argparse
import collections
import csv
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from radclass.config import data_root
from radclass.evaluate.metrics import clopper_pearson
from radclass.models.bundle import DEFAULT_BUNDLE, ModelBundle
from radclass.pipeline.annotate import annotate_paths


def convert(root: Path, out: Path, exe: str) -> dict[Path, tuple[str, str, str]]:
    """Folder -> (dataset, label, plane) of every pool MR DICOM series that dcm2niix turns into one volume."""
    with open(root / "MANIFEST.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["format"] == "dicom" and r["modality"] == "MR"]
    done = {}
    for i, r in enumerate(rows):
        src = root / r["relpath"]
        folder = out / f"{i:03d}"
        folder.mkdir()
        subprocess.run(
            [exe, "-b", "n", "-z", "y", "-f", "vol_%s", "-o", str(folder), str(src if src.is_dir() else src.parent)],
            capture_output=True,
        )
        if len(list(folder.glob("*.nii.gz"))) == 1:
            done[folder] = (r["dataset"], r["sequence"], r["orientation"])
        else:
            shutil.rmtree(folder)
    return done


def blank(folder: Path) -> None:
    """Leave each NIfTI of ``folder`` with no acquisition header at all: no description, no TR, no b-values."""
    import nibabel as nib
    import numpy as np

    for path in folder.rglob("*.nii.gz"):
        img = nib.load(path)
        out = nib.Nifti1Image(np.asanyarray(img.dataobj), img.affine, img.header.copy())
        out.header["descrip"] = b""
        out.header["pixdim"][4] = 0
        nib.save(out, path)
    for path in [*folder.rglob("*.bval"), *folder.rglob("*.bvec")]:
        path.unlink()


def _share(k: int, n: int) -> str:
    if not n:
        return "-"
    lo, hi = clopper_pearson(k, n)
    return f"{k}/{n} ({lo:.0%}-{hi:.0%})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=DEFAULT_BUNDLE, help="bundle name or folder")
    ap.add_argument("--csv", type=Path, default=None, help="also write the annotate table, with the MANIFEST label")
    ap.add_argument("--blank", action="store_true", help="wipe the converted headers (pixel-only volumes)")
    args = ap.parse_args()
    exe = shutil.which("dcm2niix")
    if exe is None:
        raise SystemExit("dcm2niix is not installed (Debian package dcm2niix)")
    bundle = ModelBundle.load(args.model)
    held = set(bundle.meta.get("test_groups") or ())
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        labels = convert(data_root(), Path(tmp), exe)
        if args.blank:
            blank(Path(tmp))
        t1 = time.perf_counter()
        table = annotate_paths([Path(tmp)], progress=False, bundle=bundle)
        t2 = time.perf_counter()
    print(f"{len(labels)} volumes converted in {t1 - t0:.1f} s, annotated in {t2 - t1:.1f} s")
    table = table[table["path"].astype(str).str.endswith(".nii.gz")]
    if args.csv:
        table.assign(truth=[labels[Path(p).parent][1] for p in table["path"]]).to_csv(args.csv, index=False)
    planes = [
        (labels[Path(p)][2], o) for p, o in zip(table["path"].map(lambda p: Path(p).parent), table["orientation"])
    ]
    planes = [(truth, got) for truth, got in planes if truth in ("AX", "COR", "SAG")]
    right = sum(truth == got for truth, got in planes)
    print(f"orientation (header geometry of the NIfTI) right on {_share(right, len(planes))} with a MANIFEST plane")
    for name, in_test in (("test groups", True), ("development groups", False)):
        counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        wrong: collections.Counter = collections.Counter()
        for _, row in table.iterrows():
            dataset, label, _ = labels[Path(row["path"]).parent]
            if (dataset in held) != in_test:
                continue
            c = counts[label]
            c["series"] += 1
            if row["status"] == "ok":
                c["answered"] += 1
                c["right"] += int(row["sequence"] == label)
                if row["sequence"] != label:
                    wrong[(label, row["sequence"])] += 1
        total = sum(counts.values(), collections.Counter())
        print(
            f"\n{name}: {total['series']} series, answered {_share(total['answered'], total['series'])}, "
            f"right {_share(total['right'], total['answered'])} of the answered"
        )
        print(f"  {'class':<10} {'series':>6}  answered  right")
        for label in sorted(counts):
            c = counts[label]
            print(f"  {label:<10} {c['series']:>6}  {c['answered']:>8}  {c['right']:>5}")
        if wrong:
            print("  wrong answers (truth -> answer): " + ", ".join(f"{a}->{b} {n}" for (a, b), n in wrong.items()))
    print("\n(unknown answers stay UNKNOWN with their reason in the table)")


if __name__ == "__main__":
    main()
