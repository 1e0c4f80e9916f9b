"""Nested leave-one-dataset-out validation of the pixel model (tissue-contrast signature + extra trees).

    .venv/bin/python benchmarks/eval_pixel_model.py [--estimators 100] [--simulated 16] [--json out.json]

For each dataset of the pool's brain series with usable pixels, every choice (feature set, use of simulated
series, abstention threshold for <= 10% error) is made on inner group folds of the *other* datasets; the figures
printed are those outer-fold predictions: per-class recall with Clopper-Pearson 95% CIs, accuracy over the
anatomical classes, T1C sensitivity, and coverage/accuracy of the inner-chosen abstention threshold.
Takes about 10 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import pickle
import time
import warnings
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

from radclass.evaluate.metrics import clopper_pearson
from radclass.training.pixel_model import PixelModelConfig, nested_lodo, pool_examples, simulated_examples
from radclass.training.pool import labelled_pool

ANATOMICAL = ("T1", "T1C", "T2", "FLAIR", "PD")


def _ci(k: int, n: int) -> str:
    lo, hi = clopper_pearson(k, n)
    return f"{k}/{n} ({k / n:.0%}, {lo:.0%}-{hi:.0%})" if n else "-"


def main() -> None:
    warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--estimators", type=int, default=100)
    ap.add_argument("--simulated", type=int, default=16, help="simulated series per class")
    ap.add_argument("--json", help="write the outer-fold predictions here")
    ap.add_argument("--cache", help="signatures of the pool and the simulated series: read if present, else written")
    ap.add_argument("--feature-sets", nargs="+", help="candidate feature sets (default: the config's)")
    args = ap.parse_args()
    t0 = time.time()
    config = PixelModelConfig(n_estimators=args.estimators, simulated_per_class=args.simulated)
    if args.feature_sets:
        config = replace(config, feature_sets=tuple(args.feature_sets))
    config.validate()
    if args.cache and Path(args.cache).is_file():
        with open(args.cache, "rb") as fh:
            data, sim = pickle.load(fh)
    else:
        data = pool_examples(labelled_pool(), config.slices)
        sim = simulated_examples(config.simulated_per_class, config.slices, config.seed)
        if args.cache:
            with open(args.cache, "wb") as fh:
                pickle.dump((data, sim), fh)
    print(
        f"{len(data.y)} real series from {len(set(data.groups))} datasets, {len(sim.y)} simulated "
        f"({time.time() - t0:.0f} s)"
    )
    result = nested_lodo(data, sim, config, log=lambda m: print(f"  {time.time() - t0:.0f} s {m}", flush=True))
    pred, conf, y = result.predictions(), result.confidence(), data.y
    accepted = result.accepted()
    print(f"nested LODO done in {time.time() - t0:.0f} s\n")
    print("| class | recall (95% CI) | accepted | accepted correct |")
    print("|---|---|---|---|")
    for c in sorted(set(y)):
        m = y == c
        print(
            f"| {c} | {_ci(int((pred[m] == c).sum()), int(m.sum()))} | {int(accepted[m].sum())} | "
            f"{int((accepted & m & (pred == y)).sum())} |"
        )
    anat = np.isin(y, ANATOMICAL)
    t1c = y == "T1C"
    print(f"\nall classes: accuracy {_ci(int((pred == y).sum()), len(y))}")
    print(f"anatomical classes {ANATOMICAL}: accuracy {_ci(int((pred[anat] == y[anat]).sum()), int(anat.sum()))}")
    print(f"T1C sensitivity: {_ci(int((pred[t1c] == 'T1C').sum()), int(t1c.sum()))}")
    print(
        f"abstention (inner-chosen thresholds): coverage {accepted.mean():.1%}, accepted accuracy "
        f"{_ci(int((pred[accepted] == y[accepted]).sum()), int(accepted.sum()))}"
    )
    print(
        "inner choices:",
        dict(Counter((c["feature_set"], c["simulation"], c["classifier"]) for c in result.choices.values())),
    )
    for c in sorted(set(pred[accepted])):
        m = accepted & (pred == c)
        print(f"  accepted as {c}: {_ci(int((y[m] == c).sum()), int(m.sum()))} right")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(
                {
                    "choices": result.choices,
                    "predictions": [
                        {"path": p, "dataset": g, "truth": t, "pred": q, "confidence": float(c), "accepted": bool(a)}
                        for p, g, t, q, c, a in zip(data.paths, data.groups, y, pred, conf, accepted)
                    ],
                },
                fh,
                indent=1,
            )


if __name__ == "__main__":
    main()
