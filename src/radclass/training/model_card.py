"""Write ``model_card.md`` for a bundle from its metadata and validation report (figures as measured)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from radclass.training.pool import LabelledSeries


def _pct(v: Any) -> str:
    return f"{100 * v:.1f}%" if isinstance(v, (int, float)) else "n/a"


def _clopper_pearson(k: int, n: int) -> str:
    if n == 0:
        return "n/a"
    from scipy.stats import beta

    lo = beta.ppf(0.025, k, n - k + 1) if k > 0 else 0.0
    hi = beta.ppf(0.975, k + 1, n - k) if k < n else 1.0
    return f"{100 * lo:.0f}-{100 * hi:.0f}%"


def write_model_card(out_dir: Path, meta: dict[str, Any], report: dict[str, Any], pool: list[LabelledSeries]) -> Path:
    datasets = Counter(p.dataset for p in pool)
    classes = Counter(p.sequence for p in pool)
    preds = report.get("predictions", [])
    lines = [
        f"# Model card: {meta['name']} v{meta['version']}",
        "",
        "Annotates an MRI series with its pulse-sequence class (16 classes of `shared/docs/taxonomy.md`) and",
        "orientation. Two models, fused per series: a random forest over acquisition-header features",
        "(`forest.onnx`, never reads SeriesDescription/ProtocolName) and a multi-task 2D CNN over",
        f"{meta['slices_per_series']} sampled slices per series (`cnn.onnx`, {meta['input_size']}x{meta['input_size']} input,",
        "sequence + orientation heads). Orientation comes from the header geometry when present, else from the",
        "CNN's orientation head.",
        "",
        "## Training data",
        f"- Real pool (`$RADCLASS_DATA/MANIFEST.csv`): {len(pool)} labelled MR series from {len(datasets)} datasets:",
        "  " + ", ".join(f"{k} {v}" for k, v in sorted(datasets.items())) + ".",
        "- Classes in the pool: " + ", ".join(f"{k} {v}" for k, v in sorted(classes.items())) + ".",
        f"- Synthetic header rows: {meta['config']['synthetic_headers_per_class']} per class from the physics-based",
        "  protocol sampler (`radclass.simulate.protocols`), optional fields randomly blanked.",
        f"- Simulated slices: {meta['config']['simulated_series_per_class']} series per class x "
        f"{meta['config']['simulated_slices_per_series']} slices from the MR simulator (`radclass.simulate`),"
        f" used in the final CNN: {report.get('use_simulation')}.",
        "- Forest hyper-parameters (chosen by leave-one-dataset-out balanced accuracy): "
        f"`{meta.get('forest_params')}`.",
        "",
        "## Validation scheme",
        "Leave-one-dataset-out for the forest (each dataset predicted by a forest trained on the other datasets",
        f"plus synthetic rows); the CNN over {meta['config']['cnn_folds']} dataset folds (whole datasets held out).",
        "Fusion weights and the abstention threshold are chosen on these out-of-fold predictions.",
        "The pool is small and skewed (DWI/BOLD heavy; T1C/T2/PD/SWI/MRA only a handful): per-class figures",
        "for rare classes rest on 1-7 series and their confidence intervals are wide.",
        "",
        "## Series-level results (out-of-fold)",
        "",
        "| model | series | accuracy | balanced accuracy |",
        "|---|---|---|---|",
    ]
    for key, label in (("forest_real_only", "forest, real headers only"),
                       ("forest_with_synthetic", "forest, real + synthetic headers"),
                       ("cnn_without_simulation", "CNN, real slices only"),
                       ("cnn_with_simulation", "CNN, real + simulated slices")):
        r = report.get(key)
        if r and r.get("n"):
            lines.append(f"| {label} | {r['n']} | {_pct(r['accuracy'])} | {_pct(r['balanced_accuracy'])} |")
    for key, label in (("majority_vote", "majority vote (published rule)"), ("fusion", "probability fusion (bundled)")):
        r = report.get(key, {})
        lines.append(f"| {label} | {report.get('n_series')} | {_pct(r.get('accuracy'))} | {_pct(r.get('balanced_accuracy'))} |")
    ab = report.get("abstention", {})
    lines += [
        "",
        f"Abstention (UNKNOWN below a threshold chosen for at most {_pct(meta['fusion'].get('max_error_rate'))}"
        f" validation error): header-informed series {ab.get('threshold_header', 1):.3f}, pixel-only series"
        f" {ab.get('threshold_pixels', 1):.3f}; coverage {_pct(ab.get('coverage'))} (header {_pct(ab.get('coverage_header'))},"
        f" pixels only {_pct(ab.get('coverage_pixels'))}), accuracy on accepted series {_pct(ab.get('accepted_accuracy'))}.",
        f"Fusion: log-linear pool with CNN share {meta['fusion'].get('w_cnn')} and forest share"
        f" {meta['fusion'].get('w_forest')} (chosen by balanced accuracy; a lone input is used alone).",
        "",
        "### Per class (fused, out-of-fold; 95% Clopper-Pearson CI)",
        "",
        "| class | series | sensitivity | 95% CI | specificity | F1 |",
        "|---|---|---|---|---|---|",
    ]
    for c in sorted(report.get("per_class", {})):
        tp = sum(1 for p in preds if p["truth"] == c and p["pred"] == c)
        fn = sum(1 for p in preds if p["truth"] == c and p["pred"] != c)
        fp = sum(1 for p in preds if p["truth"] != c and p["pred"] == c)
        tn = len(preds) - tp - fn - fp
        sens = tp / (tp + fn) if tp + fn else 0.0
        spec = tn / (tn + fp) if tn + fp else 0.0
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        lines.append(f"| {c} | {tp + fn} | {_pct(sens)} | {_clopper_pearson(tp, tp + fn)} | {_pct(spec)} | {f1:.2f} |")
    lines += ["", "### Confusion (truth -> predicted, out-of-fold)", ""]
    conf = Counter((p["truth"], p["pred"]) for p in preds if p["truth"] != p["pred"])
    lines += [f"- {t} -> {q}: {n}" for (t, q), n in conf.most_common(20)] or ["- none"]
    lines += [
        "",
        "## Limits",
        "- Brain MRI only; the pool has no clinical T1C/T2/PD DICOM with pixels, so those classes lean on the",
        "  header physics and on simulation. Expect UNKNOWN rather than a guess where evidence is thin.",
        "- PNG/JPEG inputs are assumed to be MR slices already windowed for display.",
        "",
        "## Rebuild",
        "`radclass train configs/mri-series.toml --out src/radclass/bundled/mri-series`"
        f" (took {meta.get('trained_seconds')} s on this machine's 2 CPU cores).",
    ]
    path = out_dir / "model_card.md"
    path.write_text("\n".join(lines) + "\n")
    return path
