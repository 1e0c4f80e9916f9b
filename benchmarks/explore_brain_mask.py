"""Exploration for issue #12: does a learned brain mask make the tissue-contrast physics readable across sites?

    pip install --no-deps deepbet==1.0.2      # research only (MIT); not a radclass dependency
    .venv/bin/python benchmarks/explore_brain_mask.py [--json out.json]

deepbet ships TorchScript brain-extraction networks inside its wheel, trained on T1-weighted heads; its
low-resolution "bbox" network (128^3 input) is used here alone, on every anatomical NIfTI brain volume of the
pool (T1, T1C, T2, FLAIR, PD; torch on CPU, about 0.6 s per volume on one thread). Inside its mask (largest
part, holes filled), with the CSF-dark voxels left out (below 0.55 x the deep median):

* ``ribbon_deep``: median of the outer ribbon (1-3 voxels from the mask surface, mostly cortex) over the median
  of the deep part (8 voxels and more, mostly white matter): T1 < 1 (white matter brighter), FLAIR/PD/T2 >= 1;
* ``p90_p50``: 90th over 50th percentile of the tissue voxels (a bright CSF/oedema tail in T2);
* ``bright_tail``: the 99.5th percentile of the voxels 3 or more voxels inside the mask over the deep tissue
  median: gadolinium brightens vessels, sinuses, choroid plexus and lesions above white matter.

Printed: per dataset and class, the medians and ranges; then leave-one-dataset-out recall of a fixed model
chosen before the run (``ribbon_deep`` and ``p90_p50`` standardised, balanced multinomial logistic regression,
scikit-learn defaults; nothing tuned, so no inner folds); then T1 against T1C on the T1-weighted volumes (the
question a header without contrast fields leaves open): one threshold on ``bright_tail``, chosen on the other
datasets for each held-out one (nested), and the held-out datasets' sensitivity and specificity.
**The features were designed after looking at first passes over the same volumes** (``bright_tail`` picked
among three tail measures), so the figures say whether the lead is worth building on; they are not a
validated result, and the bundled model does not use them.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import time
import warnings
from collections import Counter, defaultdict
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage

from radclass.config import data_root
from radclass.evaluate.metrics import clopper_pearson

CLASSES = ("T1", "T1C", "T2", "FLAIR", "PD")
SIDE = 128  # the bbox network's input side


def _bbox_network():
    spec = importlib.util.find_spec("deepbet")
    if spec is None or spec.origin is None:
        raise SystemExit("deepbet is not installed: pip install --no-deps deepbet==1.0.2 (research only).")
    path = Path(spec.origin).parents[1] / "data" / "models" / "bbox_model.pt"
    import torch

    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.jit.load(str(path)).eval()


def features(volume: np.ndarray, network) -> tuple[float, float, float]:
    """(ribbon_deep, p90_p50, bright_tail) of one volume (module docstring)."""
    import torch
    import torch.nn.functional as F

    x = torch.nan_to_num(torch.from_numpy(np.ascontiguousarray(volume, dtype=np.float32)))
    small = F.interpolate(x[None, None], (SIDE, SIDE, SIDE), mode="nearest-exact")[0, 0]
    lo, hi = small.quantile(0.005), small.quantile(0.995)
    scaled = ((small - lo) / (hi - lo)).clamp(0, 1)
    scaled = 0.226 * (scaled - scaled.mean()) / scaled.std() + 0.449  # deepbet's input normalisation
    with torch.no_grad():
        mask = network(scaled[None, None])[0, 1].numpy() > 0.5
    labels, n = ndimage.label(mask)
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    mask = ndimage.binary_fill_holes(labels == np.bincount(labels.ravel())[1:].argmax() + 1)
    v = small.numpy()
    v = v - np.percentile(v[mask], 1)
    depth = ndimage.distance_transform_edt(mask)
    deep, ribbon = depth >= 8, (depth >= 1) & (depth <= 3)
    if deep.sum() < 50:
        return float("nan"), float("nan"), float("nan")
    tissue = v > 0.55 * np.median(v[deep])
    reference = np.median(v[deep & tissue])
    ratio = float(np.median(v[ribbon & tissue]) / reference)
    p50, p90 = np.percentile(v[mask & tissue], [50, 90])
    return ratio, float(p90 / p50), float(np.percentile(v[depth >= 3], 99.5) / reference)


def _ci(k: int, n: int) -> str:
    lo, hi = clopper_pearson(k, n)
    return f"{k}/{n} ({k / n:.0%}, 95% CI {lo:.0%}-{hi:.0%})" if n else "-"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, default=None, help="write the per-volume features here")
    args = ap.parse_args()
    root = data_root()
    network = _bbox_network()
    rows = [
        r
        for r in csv.DictReader((root / "MANIFEST.csv").open())
        if r["format"] == "nifti" and r["sequence"] in CLASSES and r.get("anatomy", "brain") == "brain"
    ]
    table = []
    t0 = time.perf_counter()
    for r in rows:
        data = np.asarray(nib.as_closest_canonical(nib.load(root / r["relpath"])).dataobj, dtype=np.float32)
        data = data[..., 0] if data.ndim == 4 else data
        if data.ndim != 3 or min(data.shape) < 8:
            continue
        ratio, tail, bright = features(data, network)
        if np.isfinite([ratio, tail, bright]).all():
            table.append(
                {
                    "dataset": r["dataset"],
                    "sequence": r["sequence"],
                    "ribbon_deep": ratio,
                    "p90_p50": tail,
                    "bright_tail": bright,
                }
            )
    seconds = time.perf_counter() - t0
    print(
        f"{len(table)} of {len(rows)} volumes measured in {seconds:.0f} s ({seconds / max(len(rows), 1):.2f} s each)\n"
    )
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for t in table:
        groups[(t["dataset"], t["sequence"])].append(t)
    names = ("ribbon_deep", "p90_p50", "bright_tail")
    print(
        "| dataset | class | n | " + " | ".join(f"{n} median (range)" for n in names) + " |\n|---|---|---|---|---|---|"
    )
    for (ds, seq), items in sorted(groups.items()):
        a = np.array([[t[n] for n in names] for t in items])
        cells = " | ".join(f"{np.median(a[:, i]):.2f} ({a[:, i].min():.2f}-{a[:, i].max():.2f})" for i in range(3))
        print(f"| {ds} | {seq} | {len(items)} | {cells} |")
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.array([[t["ribbon_deep"], t["p90_p50"]] for t in table])
    y = np.array([t["sequence"] for t in table])
    ds = np.array([t["dataset"] for t in table])
    pred = np.empty_like(y)
    for d in np.unique(ds):
        train = ds != d
        model = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=1000))
        model.fit(x[train], y[train])
        pred[~train] = model.predict(x[~train])
    print("\nLeave-one-dataset-out recall (fixed model, nothing tuned):")
    for c in CLASSES:
        sel = y == c
        print(f"  {c}: {_ci(int((pred[sel] == c).sum()), int(sel.sum()))}")
    print(f"  all anatomical: {_ci(int((pred == y).sum()), len(y))}")
    pair = np.isin(y, ("T1", "FLAIR"))
    right = int((pred[pair] == y[pair]).sum())
    print(f"  T1 vs FLAIR volumes called rightly (among the five classes): {_ci(right, int(pair.sum()))}")
    print(
        "  confusion (truth -> predicted):",
        dict(Counter(f"{a}->{b}" for a, b in zip(y, pred) if a != b).most_common(8)),
    )
    _t1_against_t1c(table)
    if args.json:
        args.json.write_text(json.dumps(table, indent=1))


def _balanced(called: np.ndarray, truth: np.ndarray) -> float:
    """Balanced accuracy of the calls ``called`` (T1C) against ``truth``."""
    sens = (called & truth).sum() / max(int(truth.sum()), 1)
    spec = (~called & ~truth).sum() / max(int((~truth).sum()), 1)
    return float(sens + spec) / 2


def _t1_against_t1c(table: list[dict]) -> None:
    """Nested leave-one-dataset-out of one ``bright_tail`` threshold, T1 against T1C (module docstring)."""
    t1w = [t for t in table if t["sequence"] in ("T1", "T1C")]
    x = np.array([t["bright_tail"] for t in t1w])
    y = np.array([t["sequence"] == "T1C" for t in t1w])
    ds = np.array([t["dataset"] for t in t1w])
    pred = np.zeros_like(y)
    chosen = {}
    for d in np.unique(ds):
        train = ds != d
        chosen[d] = max(np.unique(x[train]), key=lambda t, m=train: _balanced(x[m] >= t, y[m]))
        pred[~train] = x[~train] >= chosen[d]
    print("\nT1 against T1C, one bright_tail threshold chosen on the other datasets (nested):")
    print("  thresholds per held-out dataset:", {str(d): round(float(t), 3) for d, t in chosen.items()})
    print(f"  T1C sensitivity: {_ci(int((pred & y).sum()), int(y.sum()))}")
    print(f"  T1 specificity: {_ci(int((~pred & ~y).sum()), int((~y).sum()))}")
    for d in np.unique(ds):
        sel = ds == d
        print(f"    {d}: {int((pred[sel] == y[sel]).sum())}/{int(sel.sum())} right")


if __name__ == "__main__":
    main()
