"""Full runs of the diagnostic recipes (issue #5) on the real data pool, printing their figures.

Usage::

    python benchmarks/bench_recipes.py [--recipes ct-hemorrhage liver-seg-first] [--out runs/bench-recipes]
                                       [--bundle] [--threads 1]

* ``ct-hemorrhage``: Desai et al.'s configurations (AlexNet / GoogLeNet x scratch / self-pretrained x
  augmented or not), 5-fold cross-validated on the 160 head-CT slices; out-of-fold ROC AUC with 95 % DeLong CI
  per configuration and the DeLong p-value against the best (through ``radclass evaluate``). ``--bundle``
  also writes the bundled model to ``src/radclass/bundled/ct-hemorrhage``.
* ``liver-seg-first``: U-Net (ResNet34 encoder) Dice on held-out slices, then the ResNet50 on the masked
  slice (SUPERIOR vs INFERIOR liver half) with the U-Net's and with the reference masks.

Settings come from ``configs/<recipe>.toml``. Everything runs on the CPU; the wall time is printed.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def bench_ct(out: Path, threads: int, bundle: bool) -> None:
    from radclass.diagnostic.recipes.ct_hemorrhage import CtHemorrhageConfig, run_ct_hemorrhage

    cfg = CtHemorrhageConfig.load(ROOT / "configs" / "ct-hemorrhage.toml")
    cfg = replace(cfg, fit=replace(cfg.fit, threads=threads))
    target = ROOT / "src" / "radclass" / "bundled" / "ct-hemorrhage" if bundle else None
    s = run_ct_hemorrhage(out / "ct-hemorrhage", cfg, bundle_to=target)
    print(f"\n== ct-hemorrhage: {s['n_images']} slices, {s['folds']}-fold CV, {s['seconds']:.0f} s ==")
    print(f"{'configuration':30s} {'AUC':>6s}  {'95% CI (DeLong)':>15s}  {'fold AUCs':30s} {'p vs best':>9s} {'s':>6s}")
    for name, r in s["configurations"].items():
        p = "best" if name == s["best"] else f"{r.get('delong_p_vs_best', float('nan')):.3f}"
        folds = " ".join(f"{a:.2f}" for a in r["fold_aucs"])
        print(f"{name:30s} {r['auc']:6.3f}  {r['auc_ci95'][0]:.3f}-{r['auc_ci95'][1]:.3f}  {folds:30s} {p:>9s} {r['seconds']:6.0f}")
    print(f"bundled: {s['bundled']} -> {s.get('bundle', {}).get('folder')}")


def bench_liver(out: Path, threads: int) -> None:
    from radclass.diagnostic.recipes.liver_seg_first import LiverSegFirstConfig, run_liver_seg_first

    cfg = LiverSegFirstConfig.load(ROOT / "configs" / "liver-seg-first.toml")
    cfg = replace(cfg, fit=replace(cfg.fit, threads=threads), seg=replace(cfg.seg, threads=threads))
    s = run_liver_seg_first(out / "liver-seg-first", cfg)
    print(f"\n== liver-seg-first: {s['n_slices']} slices, {s['n_held_out']} held out, {s['seconds']:.0f} s ==")
    print("Dice on held-out slices: " + ", ".join(f"{k} {v:.3f}" for k, v in s["dice"].items()))
    c = s["classification"]
    print(f"{c['task']}: train {c['train_counts']}, held out {c['test_counts']}")
    for masking in ("unet_mask", "reference_mask"):
        f = c["figures"].get(masking)
        if f:
            print(f"  masked by {masking:15s} AUC {f['auc']:.3f} [{f['auc_ci95'][0]:.3f}, {f['auc_ci95'][1]:.3f}]"
                  f" accuracy {f['accuracy']:.3f}")
    print(f"  DeLong p (U-Net vs reference mask): {c['figures'].get('delong_p_unet_vs_reference')}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="+", default=["ct-hemorrhage", "liver-seg-first"],
                        choices=["ct-hemorrhage", "liver-seg-first"])
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "bench-recipes")
    parser.add_argument("--bundle", action="store_true", help="write src/radclass/bundled/ct-hemorrhage")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    start = time.time()
    if "ct-hemorrhage" in args.recipes:
        bench_ct(args.out, args.threads, args.bundle)
    if "liver-seg-first" in args.recipes:
        bench_liver(args.out, args.threads)
    print(f"\ntotal {time.time() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
