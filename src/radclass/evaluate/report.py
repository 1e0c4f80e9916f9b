"""Write an evaluation to a report folder: ``report.html`` (self-contained), ``metrics.json``, CSV tables, PNGs.

:func:`run_evaluation` is what ``radclass evaluate`` calls.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from radclass.evaluate import plots
from radclass.evaluate.evaluation import Evaluation, compare_evaluations, evaluate_predictions
from radclass.evaluate.inputs import read_predictions, read_truth

__all__ = ["evaluation_json", "comparison_json", "run_evaluation", "write_report"]

_PROPORTIONS = ("sensitivity", "specificity", "precision", "accuracy")


def _clean(value: Any) -> Any:
    """JSON-safe copy: numpy scalars to Python, NaN/inf to None."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def evaluation_json(e: Evaluation) -> dict[str, Any]:
    """The metrics of one evaluation as a JSON-ready dict (the ``metrics.json`` schema)."""
    per_class: dict[str, dict[str, Any]] = {}
    for label, row in e.per_class.iterrows():
        entry: dict[str, Any] = {k: int(row[k]) for k in ("support", "tp", "fp", "fn", "tn")}
        for name in _PROPORTIONS:
            entry[name] = row[name]
            entry[f"{name}_ci95"] = [row[f"{name}_ci_low"], row[f"{name}_ci_high"]]
        entry["f1"] = row["f1"]
        per_class[str(label)] = entry
    out: dict[str, Any] = {
        "classifier": e.name,
        "task": "binary" if e.binary else "multiclass",
        "labels": e.labels,
        "positive": e.positive,
        **e.overall,
        "per_class": per_class,
    }
    for metric, ci in e.bootstrap.items():
        out[f"{metric}_bootstrap"] = {"value": ci.estimate, "ci95": [ci.low, ci.high], "n_resamples": ci.n_resamples}
    if e.binary and e.rocs:
        roc, pr = e.rocs[0], e.prs[0]
        out["roc_auc"] = {"value": roc.auc, "ci95": list(roc.auc_ci), "method": "DeLong"}
        out["average_precision"] = pr.average_precision
    elif e.rocs:
        out["roc_auc_ovr"] = {r.label: {"value": r.auc, "ci95": list(r.auc_ci), "method": "DeLong"} for r in e.rocs}
        out["roc_auc_macro"] = float(np.mean([r.auc for r in e.rocs]))
        for r, p in zip(e.rocs, e.prs):
            per_class[r.label]["roc_auc"] = {"value": r.auc, "ci95": list(r.auc_ci)}
            per_class[r.label]["average_precision"] = p.average_precision
        out["average_precision_macro"] = float(np.mean([p.average_precision for p in e.prs]))
    if e.calibration is not None:
        out["calibration"] = {"kind": e.calibration_kind, "ece": e.ece, "bins": e.calibration.to_dict(orient="records")}
    if e.risk_coverage is not None:
        rc = e.risk_coverage
        coverage, risk = rc.operating_point
        out["risk_coverage"] = {"aurc": rc.aurc, "operating_point": {"coverage": coverage, "risk": risk}}
    inputs = dict(e.inputs)
    for key in ("unmatched_predictions", "ambiguous_predictions", "unmatched_truth"):
        inputs[f"n_{key}"] = len(inputs[key])
    out["inputs"] = inputs
    out["confusion_matrix"] = {
        "labels": list(e.confusion.index),
        "columns": list(e.confusion.columns),
        "counts": e.confusion.to_numpy().tolist(),
    }
    return _clean(out)


def comparison_json(comparison: dict[str, Any]) -> dict[str, Any]:
    """The classifier comparison as a JSON-ready dict."""
    out = {k: v for k, v in comparison.items() if k not in ("per_class", "friedman_nemenyi")}
    table: pd.DataFrame = comparison["per_class"]
    out["per_class"] = {name: table[name].to_dict(orient="index") for name in comparison["classifiers"]}
    fn = comparison.get("friedman_nemenyi")
    if fn is not None:
        out["friedman_nemenyi"] = {
            "metric": "per-class F1",
            "blocks": fn.n_blocks,
            "average_ranks": fn.average_ranks.to_dict(),
            "chi2": fn.chi2,
            "p_value": fn.p_value,
            "chi2_uncorrected": fn.chi2_uncorrected,
            "iman_davenport_f": fn.iman_davenport_f,
            "iman_davenport_p": fn.iman_davenport_p,
            "alpha": fn.alpha,
            "q_alpha": fn.q_alpha,
            "critical_difference": fn.critical_difference,
            "nemenyi_p": fn.pairwise_p.to_dict(orient="index"),
        }
    return _clean(out)


# ---------------------------------------------------------------- HTML

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1200px;
color:#222;padding:0 1em}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.8em 0;font-size:.85em}
th,td{border:1px solid #ccc;padding:.25em .55em;text-align:right}th{background:#f2f2f2}
td:first-child,th:first-child{text-align:left}
.figs{display:flex;flex-wrap:wrap;gap:1em}.figs figure{margin:0}.figs img{max-width:560px;height:auto}
figcaption{font-size:.85em;color:#555}.note{color:#555;font-size:.9em}
details{margin:.5em 0}code{background:#f6f6f6;padding:0 .2em}
"""


def _fmt(v: object, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    if isinstance(v, (float, np.floating)):
        return f"{v:.{digits}f}"
    return html.escape(str(v))


def _ci(value: float, low: float, high: float) -> str:
    return f"{_fmt(value)} ({_fmt(low)}–{_fmt(high)})"


def _table(df: pd.DataFrame, index: bool = True) -> str:
    return df.to_html(index=index, escape=True, na_rep="–", float_format=lambda x: f"{x:.3f}", border=0)


def _img(b64: str, caption: str) -> str:
    return (
        f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{b64}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _per_class_html(e: Evaluation) -> pd.DataFrame:
    """Per-class table laid out as Ranjbar et al. 2019 (Table 1): sensitivity, specificity, accuracy with CIs;
    plus precision, F1 and AUC."""
    t = e.per_class
    out = pd.DataFrame(index=t.index)
    out["support"] = t["support"]
    for name, head in (
        ("sensitivity", "sensitivity (95% CI)"),
        ("specificity", "specificity (95% CI)"),
        ("accuracy", "accuracy (95% CI)"),
        ("precision", "precision (95% CI)"),
    ):
        out[head] = [_ci(v, lo, hi) for v, lo, hi in zip(t[name], t[f"{name}_ci_low"], t[f"{name}_ci_high"])]
    out["F1"] = [_fmt(v) for v in t["f1"]]
    aucs = {r.label: _ci(r.auc, *r.auc_ci) for r in e.rocs}
    if aucs:
        out["AUC (DeLong 95% CI)"] = [aucs.get(label, "–") for label in t.index]
    return out


def _summary_html(e: Evaluation) -> pd.DataFrame:
    o = e.overall
    rows = [
        ("cases evaluated", str(o["n"])),
        ("accuracy (Clopper–Pearson 95% CI)", _ci(o["accuracy"], *o["accuracy_ci95"])),
    ]
    heads = {"balanced_accuracy": "balanced accuracy", "macro_f1": "macro F1", "cohen_kappa": "Cohen's κ"}
    for metric, head in heads.items():
        ci, value = e.bootstrap.get(metric), o[metric]
        rows.append((f"{head} (bootstrap 95% CI)" if ci else head, _ci(value, ci.low, ci.high) if ci else _fmt(value)))
    rows += [
        (
            "weighted sensitivity / precision / F1",
            " / ".join(_fmt(o[f"weighted_{m}"]) for m in ("sensitivity", "precision", "f1")),
        ),
        ("coverage (not UNKNOWN, 95% CI)", _ci(o["coverage"], *o["coverage_ci95"])),
        ("accuracy among decided (95% CI)", _ci(o["selective_accuracy"], *o["selective_accuracy_ci95"])),
    ]
    if e.binary and e.rocs:
        rows.append((f"ROC AUC, positive = {e.positive} (DeLong 95% CI)", _ci(e.rocs[0].auc, *e.rocs[0].auc_ci)))
        rows.append(("average precision", _fmt(e.prs[0].average_precision)))
    elif e.rocs:
        rows.append(("macro one-vs-rest ROC AUC", _fmt(float(np.mean([r.auc for r in e.rocs])))))
    if e.ece is not None:
        rows.append((f"expected calibration error ({e.calibration_kind})", _fmt(e.ece)))
    if e.risk_coverage is not None:
        rows.append(("area under risk–coverage curve", _fmt(e.risk_coverage.aurc)))
    return pd.DataFrame(rows, columns=["metric", "value"])


def _figures(e: Evaluation, rc_curves: dict) -> list[tuple[str, str, Figure]]:
    """(file stem, caption, figure) for every plot of one evaluation."""
    figs = [
        (
            "confusion_counts",
            "Confusion matrix (counts)",
            plots.confusion_matrix_figure(e.confusion, title=f"{e.name}: counts"),
        ),
        (
            "confusion_normalized",
            "Confusion matrix (row-normalised: sensitivity on the diagonal)",
            plots.confusion_matrix_figure(e.confusion_normalized, normalized=True, title=f"{e.name}: row-normalised"),
        ),
    ]
    if e.rocs:
        band = " and bootstrap 95% sensitivity band" if e.rocs[0].band_fpr is not None else ""
        caption = "ROC with DeLong 95% CI of the AUC" + band
        figs.append(("roc", caption, plots.roc_figure(e.rocs, title=f"{e.name}: ROC")))
        figs.append(
            ("pr", "Precision–recall (dotted: prevalence)", plots.pr_figure(e.prs, title=f"{e.name}: precision–recall"))
        )
    if e.calibration is not None:
        figs.append(
            (
                "reliability",
                f"Reliability diagram: {e.calibration_kind}",
                plots.reliability_figure(e.calibration, ece=e.ece, title=f"{e.name}: reliability"),
            )
        )
    if rc_curves:
        figs.append(("risk_coverage", "Risk–coverage (UNKNOWN abstains)", plots.risk_coverage_figure(rc_curves)))
    return figs


def _inputs_html(e: Evaluation) -> str:
    inp = e.inputs
    dropped = ", ".join(f"{k}: {v}" for k, v in inp["rows_dropped_by_status"].items()) or "none"
    parts = [
        f"<p>Predictions <code>{html.escape(str(inp['source']))}</code>: {inp['matched']} matched to the truth; "
        f"rows dropped by status ({dropped}); {inp['sub_series_rows_collapsed']} sub-series rows collapsed "
        "into their series (largest <code>n_files</code> kept).</p>"
    ]
    for key, title in (
        ("unmatched_predictions", "predictions without a truth row"),
        ("ambiguous_predictions", "predictions matching several truth rows (left out)"),
        ("unmatched_truth", "truth rows without a prediction"),
    ):
        items = inp[key]
        body = "".join(f"<li><code>{html.escape(p)}</code></li>" for p in items)
        parts.append(f"<details><summary>{len(items)} {title}</summary><ul>{body}</ul></details>")
    return "".join(parts)


def _comparison_html(comparison: dict[str, Any]) -> str:
    parts = [
        f"<h2>Comparison of classifiers</h2><p class=note>On the {comparison['n_common']} truth rows every "
        "classifier matched. McNemar is the paired test; χ² treats the two result sets as independent samples.</p>"
    ]
    rows = []
    for pair in comparison["pairwise"]:
        mc, ch, dl = pair.get("mcnemar", {}), pair.get("chi2", {}), pair.get("delong", {})
        nan = float("nan")
        rows.append(
            {
                "A": pair["a"],
                "B": pair["b"],
                "accuracy A": pair["accuracy_a"],
                "accuracy B": pair["accuracy_b"],
                "only A right": mc.get("only_a_correct", nan),
                "only B right": mc.get("only_b_correct", nan),
                "McNemar p": mc.get("p_value", nan),
                "χ² p": ch.get("p_value", nan),
                "AUC A": dl.get("auc_a", nan),
                "AUC B": dl.get("auc_b", nan),
                "DeLong p": dl.get("p_value", nan),
            }
        )
    tests = pd.DataFrame(rows).astype({"only A right": "Int64", "only B right": "Int64"})
    parts.append(_table(tests, index=False))
    parts.append("<h3>Per-class precision, recall and F1 side by side</h3>" + _table(comparison["per_class"]))
    fn = comparison.get("friedman_nemenyi")
    if fn is not None:
        ranks = fn.average_ranks.to_frame("average rank (1 = best)")
        parts.append(
            f"<h3>Friedman test over per-class F1 ({fn.n_blocks} classes)</h3>"
            f"<p>χ² = {_fmt(fn.chi2)} (tie-corrected), p = {_fmt(fn.p_value, 4)}; Iman–Davenport F = "
            f"{_fmt(fn.iman_davenport_f)}, p = {_fmt(fn.iman_davenport_p, 4)}. Nemenyi critical difference at α = "
            f"{fn.alpha}: CD = {_fmt(fn.critical_difference)} (q = {_fmt(fn.q_alpha)}).</p>"
            + _table(ranks)
            + "<p>Nemenyi p-values</p>"
            + _table(fn.pairwise_p)
        )
    elif "friedman_nemenyi_skipped" in comparison:
        parts.append(
            f"<p class=note>Friedman test not run: {html.escape(str(comparison['friedman_nemenyi_skipped']))}</p>"
        )
    return "".join(parts)


def write_report(
    evaluations: Sequence[Evaluation],
    out_dir: Path | str,
    *,
    comparison: dict[str, Any] | None = None,
    truth_source: str = "",
) -> dict[str, Path]:
    """Write ``report.html``, ``metrics.json``, CSV tables and PNG figures for ``evaluations[0]`` (+ others).

    Returns the written paths by name.
    """
    out = Path(out_dir)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    main = evaluations[0]
    metrics = evaluation_json(main) | {"truth": truth_source}
    if len(evaluations) > 1:
        metrics["others"] = {e.name: evaluation_json(e) for e in evaluations[1:]}
    if comparison is not None:
        metrics["comparison"] = comparison_json(comparison)
    metrics["generated"] = datetime.now(UTC).isoformat(timespec="seconds")
    written["metrics.json"] = out / "metrics.json"
    written["metrics.json"].write_text(json.dumps(metrics, indent=2, ensure_ascii=False, allow_nan=False) + "\n")

    def csv(name: str, df: pd.DataFrame, index: bool = True) -> None:
        written[name] = out / name
        df.to_csv(written[name], index=index)

    rc_curves = {e.name: e.risk_coverage for e in evaluations if e.risk_coverage is not None}
    body = [
        f"<h1>radclass evaluation: {html.escape(main.name)}</h1>",
        f"<p class=note>Truth: <code>{html.escape(truth_source)}</code>. Generated {metrics['generated']}. "
        "Proportions with exact Clopper–Pearson 95% intervals; UNKNOWN predictions abstain and count as "
        "misses of the true class.</p>",
    ]
    for k, e in enumerate(evaluations):
        suffix = "" if k == 0 else f"_{e.name}"
        csv(f"per_class{suffix}.csv", e.per_class)
        csv(f"confusion_matrix{suffix}.csv", e.confusion)
        csv(f"confusion_matrix_normalized{suffix}.csv", e.confusion_normalized)
        csv(f"cases{suffix}.csv", e.cases.drop(columns=["truth_index"]), index=False)
        csv(
            f"unmatched{suffix}.csv",
            pd.DataFrame(
                [("prediction", p) for p in e.inputs["unmatched_predictions"]]
                + [("prediction (ambiguous)", p) for p in e.inputs["ambiguous_predictions"]]
                + [("truth", p) for p in e.inputs["unmatched_truth"]],
                columns=["side", "path"],
            ),
            index=False,
        )
        body.append(f"<h2>{html.escape(e.name)}</h2>" + _inputs_html(e))
        body.append("<h3>Summary</h3>" + _table(_summary_html(e), index=False))
        body.append("<h3>Per class (one vs rest)</h3>" + _table(_per_class_html(e)))
        body.append("<h3>Confusion matrix (rows: truth, columns: prediction)</h3>" + _table(e.confusion))
        figures = []
        for stem, caption, fig in _figures(e, rc_curves if k == 0 else {}):
            png, data = out / "figures" / f"{stem}{suffix}.png", plots.png_bytes(fig)
            png.write_bytes(data)
            written[png.name] = png
            figures.append(_img(plots.png_base64(data), caption))
        body.append('<div class="figs">' + "".join(figures) + "</div>")
    if comparison is not None:
        body.insert(2, _comparison_html(comparison))
        csv("comparison_per_class.csv", comparison["per_class"])
    page = (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        f"<title>radclass evaluation: {html.escape(main.name)}</title><style>{_CSS}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
    written["report.html"] = out / "report.html"
    written["report.html"].write_text(page, encoding="utf-8")
    return written


def _unique_names(paths: Sequence[Path]) -> list[str]:
    names: list[str] = []
    for p in paths:
        name = Path(p).stem or "classifier"
        while name in names:
            name = f"{name}_{len(names)}"
        names.append(name)
    return names


def run_evaluation(
    pred: Path | str,
    truth: Path | str,
    report_dir: Path | str,
    *,
    positive: str | None = None,
    compare: Sequence[Path | str] = (),
    n_bootstrap: int = 1000,
    band_resamples: int = 200,
    seed: int = 0,
) -> tuple[dict[str, Any], dict[str, Path]]:
    """Evaluate ``pred`` (and each ``compare`` file) against ``truth``; write the report folder.

    Returns ``(metrics.json content, written paths)``.
    """
    truth_table = read_truth(truth)
    sources = [Path(pred), *map(Path, compare)]
    evaluations = [
        evaluate_predictions(
            read_predictions(src),
            truth_table,
            name=name,
            positive=positive,
            n_bootstrap=n_bootstrap,
            band_resamples=band_resamples,
            random_state=seed,
        )
        for src, name in zip(sources, _unique_names(sources))
    ]
    comparison = compare_evaluations(evaluations) if len(evaluations) > 1 else None
    written = write_report(evaluations, report_dir, comparison=comparison, truth_source=str(truth))
    return json.loads(written["metrics.json"].read_text()), written
