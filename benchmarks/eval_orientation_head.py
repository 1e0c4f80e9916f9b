"""The bundled CNN's orientation head on its held-out test split, beside the header geometry.

    .venv/bin/python benchmarks/eval_orientation_head.py [--model mri-series]

The bundle's CNN is its development model (the card says so), so the test groups named in its ``bundle.json``
are unseen by it. For every test series whose MANIFEST orientation is AX, COR or SAG, the K slices annotate
reads are given to the CNN; the series' orientation is the head's mean probability over them (as annotate
publishes it for series without geometry, ``orientation_from_pixels``). Printed: series accuracy with a
Clopper-Pearson 95% CI, per plane, and the header geometry's accuracy on the same series. Where the header has
a plane, annotate never uses the head (nor flags a disagreement); the head's figure says how far it could be
trusted where there is none (PNG/JPEG slices).
"""

from __future__ import annotations

import argparse
from collections import Counter

import numpy as np

from radclass.evaluate.metrics import clopper_pearson
from radclass.models.bundle import ModelBundle
from radclass.training.pool import manifest_set
from radclass.training.slice_data import ORIENT_HEAD, pool_slices


def _ci(k: int, n: int) -> str:
    lo, hi = clopper_pearson(k, n)
    return f"{k}/{n} ({k / n:.0%}, 95% CI {lo:.0%}-{hi:.0%})" if n else "-"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="mri-series")
    args = ap.parse_args()
    bundle = ModelBundle.load(args.model)
    groups = set(bundle.meta.get("test_groups") or [])
    if not groups:
        raise SystemExit(f"The bundle {bundle.folder} names no test groups: nothing unseen to measure on.")
    test = [p for p in manifest_set().items if p.dataset in groups and p.orientation in ORIENT_HEAD]
    slices = pool_slices(test, k=bundle.slices_per_series, size=bundle.input_size, reslice_isotropic=False)
    _, orient = bundle.cnn_proba(slices.x)
    rows = []
    for p in test:
        m = slices.series == p.id
        if not m.any():
            continue
        head = ORIENT_HEAD[int(np.argmax(orient[m].mean(axis=0)))]
        rows.append((p.orientation, head, str(p.series.header.get("orientation") or "")))
    truth = np.array([r[0] for r in rows])
    head = np.array([r[1] for r in rows])
    geometry = np.array([r[2] for r in rows])
    print(f"bundle {bundle.version}; test groups {sorted(groups)}; {len(rows)} series with an AX/COR/SAG label")
    print(f"orientation head: {_ci(int((head == truth).sum()), len(rows))}")
    has = np.isin(geometry, ORIENT_HEAD)
    right = int((geometry[has] == truth[has]).sum())
    print(
        f"header geometry: {_ci(int((geometry == truth).sum()), len(rows))} "
        f"(a plane in {int(has.sum())} headers; on those {_ci(right, int(has.sum()))})"
    )
    for plane in ORIENT_HEAD:
        m = truth == plane
        wrong = dict(Counter(str(h) for h in head[m & (head != plane)]))
        print(f"  {plane}: head {_ci(int((head[m] == plane).sum()), int(m.sum()))}; called instead: {wrong}")


if __name__ == "__main__":
    main()
