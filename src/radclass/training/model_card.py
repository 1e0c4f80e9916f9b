"""Write ``model_card.md`` for a bundle from its metadata and validation report (figures as measured)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from radclass.training.pool import LabelledSeries


def _pct(v: Any) -> str:
    return f"{100 * v:.1f}%" if isinstance(v, (int, float)) else "n/a"


def _clopper_pearson(k: int, n: int) -> str:
    from radclass.evaluate.metrics import clopper_pearson

    if n == 0:
        return "n/a"
    lo, hi = clopper_pearson(k, n)
    return f"{100 * lo:.0f}-{100 * hi:.0f}%"


def share(k: int, n: int) -> dict[str, Any]:
    """``k`` of ``n`` as a record with its 95% Clopper-Pearson interval (``{"k", "n", "ci95"}``)."""
    from radclass.evaluate.metrics import clopper_pearson

    if not n:
        return {"k": int(k), "n": 0, "ci95": None}
    lo, hi = clopper_pearson(int(k), int(n))
    return {"k": int(k), "n": int(n), "ci95": [round(lo, 3), round(hi, 3)]}


def shipping_state(shipped: bool, confidence: float, min_precision: float) -> str:
    """How a card says whether pixel-only calls are made: shipped with their confidence, or why not."""
    if shipped:
        return f"shipped: such calls carry a confidence of at most {confidence:.3f}"
    return f"not shipped: the lower 95% bound of their precision is below {min_precision}"


def counts_text(counts: Mapping[str, int]) -> str:
    """``{"T1": 11, "FLAIR": 0}`` as ``T1 11`` (the classes with none left out)."""
    return ", ".join(f"{c} {n}" for c, n in counts.items() if n)


def pool_name(path: str) -> str:
    """A pool series' name as a record shows it: its path under the data pool (no machine's folder in a card)."""
    from radclass.config import data_root

    root = str(data_root()) + "/"
    return path[len(root) :] if path.startswith(root) else path


def share_text(record: Mapping[str, Any], none: str = "none") -> str:
    """A :func:`share` record in words: ``25/27 (93%, 95% CI 76-99%)``; ``none`` when there is nothing to count."""
    k, n = record["k"], record["n"]
    if not n:
        return none
    lo, hi = record["ci95"]
    return f"{k}/{n} ({k / n:.0%}, 95% CI {lo:.0%}-{hi:.0%})"


def write_card_section(card: Path, heading: str, lines: Sequence[str]) -> None:
    """Put a section (``lines``, its first line ``heading``) at the end of ``card``, replacing an earlier section
    of that heading; the rest of the card is kept."""
    text = card.read_text() if card.is_file() else ""
    if heading in text:
        head, _, rest = text.partition(heading)
        following = rest.find("\n## ")
        text = head + (rest[following + 1 :] if following >= 0 else "")
    card.write_text(text.rstrip("\n") + "\n\n" + "\n".join(lines))


def _counts(counter: Counter) -> str:
    return ", ".join(f"{k or 'unknown'} {v}" for k, v in sorted(counter.items(), key=lambda kv: str(kv[0])))


def write_model_card(
    out_dir: Path,
    meta: dict[str, Any],
    report: dict[str, Any],
    items: list[LabelledSeries],
    test: list[LabelledSeries] | None = None,
) -> Path:
    """Write ``model_card.md``: what the training data was, the cross-validated figures, the test split's
    figures (and the base bundle's on the same series when fine-tuned), kept apart."""
    test = test or []
    test_ids = {p.id for p in test}
    pool = [p for p in items if p.id not in test_ids]
    datasets = Counter(p.dataset for p in pool)
    classes = Counter(p.sequence for p in pool)
    vendors = Counter(str(p.series.header.get("manufacturer") or "") for p in pool)
    preds = report.get("predictions", [])
    lines = [
        f"# Model card: {meta['name']} v{meta['version']}",
        "",
        "Annotates an MRI series with its pulse-sequence class (16 classes of `shared/docs/taxonomy.md`) and",
        "orientation. Two models, fused per series: a random forest over acquisition-header features",
        "(`forest.onnx`, never reads SeriesDescription/ProtocolName) and a multi-task 2D CNN over",
        f"{meta['slices_per_series']} sampled slices per series (`cnn.onnx`, "
        f"{meta['input_size']}x{meta['input_size']} input,",
        "sequence + orientation heads). Orientation comes from the header geometry when present, else from the",
        "CNN's orientation head.",
        "",
        "## Training data",
        f"- Labels: `{meta.get('labels', 'MANIFEST.csv')}`; {len(items)} labelled series, of which {len(pool)} in "
        f"{len(datasets)} development groups and {len(test)} in the held-out test split"
        f" ({len(report.get('labels', {}).get('excluded', []))} rows of the labels left out, each listed in"
        " `validation.json` with its reason).",
        "- Development series per group (dataset, subject or site): " + _counts(datasets) + ".",
        "- Per class: " + _counts(classes) + ".",
        "- Per vendor (DICOM Manufacturer; unknown for NIfTI/PNG): " + _counts(vendors) + ".",
        *(
            [
                f"- Fine-tuned from `{meta['fine_tuned_from']}`: CNN started from its weights, its preprocessing kept "
                f"(network {meta['network']}, {meta['input_size']} px, {meta['slices_per_series']} slices); forest on "
                f"the local rows plus {report.get('forest_extra_rows')}."
            ]
            if meta.get("fine_tuned_from")
            else []
        ),
        *(
            []
            if meta.get("fine_tuned_from")
            else [
                f"- Synthetic header rows: {meta['config']['synthetic_headers_per_class']} per class from the "
                "physics-based",
                "  protocol sampler (`radclass.simulate.protocols`), optional fields randomly blanked.",
            ]
        ),
        f"- Simulated slices: {meta['config']['simulated_series_per_class']} series per class x "
        f"{meta['config']['simulated_slices_per_series']} slices from the MR simulator (`radclass.simulate`),"
        f" used in the final CNN: {report.get('use_simulation')}.",
        "- Forest hyper-parameters (chosen by leave-one-group-out balanced accuracy; `{}` = defaults, not tuned): "
        f"`{meta.get('forest_params')}`.",
        "",
        "## Validation scheme",
        f"Whole groups holding about {_pct(meta['config'].get('test_fraction', 0))} of the series (seed"
        f" {meta['config'].get('seed')}) form the held-out test split: {meta.get('test_groups') or 'none'}. No choice",
        "sees them. On the development groups: leave-one-group-out for the forest (each group predicted by a forest",
        "trained on the others plus the extra rows; its hyper-parameters chosen the same way); the CNN over"
        f" {meta['config']['cnn_folds']} group folds.",
        "Fusion weights and the abstention thresholds are chosen on these out-of-fold predictions; the final models",
        "are trained on the development groups and measured once on the test split.",
        *(
            [
                "**The shipped forest was then refit on every group** (test groups included, "
                f"{report.get('forest_refit_on_all', {}).get('series', '?')} real rows) with the same "
                "hyper-parameters, so that",
                "no header convention seen only in a test group is lost; the test-split figures below are those of "
                "the development",
                "forest (the refit has seen the test groups and is not measured by them). The CNN is the "
                "development one.",
            ]
            if meta.get("forest_refit_on_all")
            else []
        ),
        "Small classes rest on few series: read the confidence intervals.",
        "",
        "## Cross-validated results (development groups, out-of-fold)",
        "",
        "| model | series | accuracy | balanced accuracy |",
        "|---|---|---|---|",
    ]
    for key, label in (
        ("forest_real_only", "forest, real headers only"),
        ("forest_with_synthetic", "forest, real + synthetic headers"),
        ("cnn_without_simulation", "CNN, real slices only"),
        ("cnn_with_simulation", "CNN, real + simulated slices"),
    ):
        r = report.get(key)
        if r and r.get("n"):
            lines.append(f"| {label} | {r['n']} | {_pct(r['accuracy'])} | {_pct(r['balanced_accuracy'])} |")
    for key, label in (("majority_vote", "majority vote (published rule)"), ("fusion", "probability fusion (bundled)")):
        r = report.get(key, {})
        lines.append(
            f"| {label} | {report.get('n_series')} | {_pct(r.get('accuracy'))} | {_pct(r.get('balanced_accuracy'))} |"
        )
    ab = report.get("abstention", {})
    lines += [
        "",
        f"Abstention (UNKNOWN below a threshold chosen for at most {_pct(meta['fusion'].get('max_error_rate'))}"
        f" validation error): header-informed series {ab.get('threshold_header', 1):.3f}, pixel-only series"
        f" {ab.get('threshold_pixels', 1):.3f}; coverage {_pct(ab.get('coverage'))}"
        f" (header {_pct(ab.get('coverage_header'))}, pixels only {_pct(ab.get('coverage_pixels'))}),"
        f" accuracy on accepted series {_pct(ab.get('accepted_accuracy'))}.",
        f"Fusion: log-linear pool with CNN share {meta['fusion'].get('w_cnn')} and forest share"
        f" {meta['fusion'].get('w_forest')} (chosen by balanced accuracy; a lone input is used alone).",
        *_evidence_rules(report),
        "",
        "### Per class (fused, cross-validated; 95% Clopper-Pearson CI)",
        "",
        "| class | series | sensitivity | 95% CI | specificity | F1 |",
        "|---|---|---|---|---|---|",
    ]
    from radclass.evaluate.metrics import per_class_metrics

    table = per_class_metrics(
        [p["truth"] for p in preds], [p["pred"] for p in preds], sorted(report.get("per_class", {}))
    ).fillna(0.0)  # a proportion without cases is shown as 0
    for c, r in table.iterrows():
        tp, support = int(r["tp"]), int(r["support"])
        lines.append(
            f"| {c} | {support} | {_pct(r['sensitivity'])} | {_clopper_pearson(tp, support)} "
            f"| {_pct(r['specificity'])} | {r['f1']:.2f} |"
        )
    lines += ["", "### Confusion (truth -> predicted, out-of-fold)", ""]
    conf = Counter((p["truth"], p["pred"]) for p in preds if p["truth"] != p["pred"])
    lines += [f"- {t} -> {q}: {n}" for (t, q), n in conf.most_common(20)] or ["- none"]
    mc = report.get("model_comparison", {})
    lines += ["", "### CNN vs forest vs fusion across the cross-validation groups (Friedman + Nemenyi)", ""]
    if "p_value" in mc:
        ranks = ", ".join(f"{k} {v:.2f}" for k, v in mc["average_ranks"].items())
        pairs = "; ".join(
            f"{a}-{b} p = {mc['nemenyi_p'][a][b]:.3g}" for i, a in enumerate(mc["names"]) for b in mc["names"][i + 1 :]
        )
        lines.append(
            f"{len(mc['blocks'])} groups; average ranks (1 = best) {ranks}; Friedman p = {mc['p_value']:.3g};"
            f" Nemenyi {pairs}."
        )
    else:
        lines.append(f"Not computed: {mc.get('skipped', 'no groups with both inputs')}.")
    lines += _test_section(report, meta)
    lines += [
        "",
        *(
            ["## Notes", "", *(n for note in meta["config"].get("card_notes", ()) for n in (note, ""))]
            if meta["config"].get("card_notes")
            else []
        ),
        "## Limits",
        *(
            [
                "- Brain MRI only; the pool's T1C series are all NIfTI without a header (the forest knows T1C from",
                "  synthetic headers alone) and its T2/PD DICOM are a handful, so those classes lean on the header",
                "  physics and on simulation. Expect UNKNOWN rather than a guess where evidence is thin.",
            ]
            if str(meta.get("labels", "MANIFEST.csv")).endswith("MANIFEST.csv")
            else [
                "- Trained on the labelled series above only: classes, sites and vendors it has not seen are not",
                "  covered by these figures. Expect UNKNOWN rather than a guess where evidence is thin.",
            ]
        ),
        "- PNG/JPEG inputs are assumed to be MR slices already windowed for display.",
        "",
        "## Rebuild",
        (
            f"`radclass train --labels {' --labels '.join(str(meta.get('labels')).split(', '))} --out DIR`"
            if not str(meta.get("labels", "")).endswith("MANIFEST.csv")
            else (
                "`radclass train configs/mri-series.toml --out src/radclass/bundled/mri-series`"
                if meta.get("name", "mri-series") == "mri-series"
                else f"`radclass train configs/{meta.get('name')}.toml --out DIR`"
            )
        )
        + f" (took {meta.get('trained_seconds')} s).",
    ]
    path = out_dir / "model_card.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _evidence_rules(report: dict[str, Any]) -> list[str]:
    """Lines on the two rules that keep weak pixel evidence out of the fusion (McNemar for the CNN's share,
    support for the pixel-only threshold), with their out-of-fold figures."""
    lines = []
    share = report.get("cnn_share_test")
    if share and share.get("chosen_by_balanced_accuracy", 0) > 0:
        lines.append(
            f"The grid's best CNN share, {share['chosen_by_balanced_accuracy']}, made {share['only_fused_correct']}"
            f" header-informed series right and {share['only_forest_correct']} wrong against the forest alone"
            f" (McNemar p = {share['p_value']:.3g}); a share is kept only when p < 0.05: kept {share['kept']}."
        )
    support = report.get("pixel_threshold_support")
    if support:
        lines.append(
            f"Pixel-only threshold for the error rate: {support['chosen_threshold']:.3f}, accepting"
            f" {support['accepted']} out-of-fold series from {support['groups']} groups; it is kept only with at"
            f" least {support['min_accepted']} series from {support['min_groups']} groups: kept {support['kept']:.3f}."
        )
    return lines


def _test_section(report: dict[str, Any], meta: dict[str, Any]) -> list[str]:
    """The "Test split" section: per-class recall with 95% CIs, confusion matrix, abstention trade-off, and the
    base bundle on the same series when the bundle was fine-tuned."""
    t = report.get("test")
    lines = ["", "## Test split (held-out groups, measured once)", ""]
    if not t:
        return lines + [
            "No test split: too few groups to hold any out (or `test_fraction = 0`); the figures above",
            "are cross-validated only.",
        ]
    lo, hi = t["accuracy_ci"]
    lines += [
        f"{t['n']} series of the groups {meta.get('test_groups')}. Accuracy {_pct(t['accuracy'])}"
        f" (95% CI {_pct(lo)}-{_pct(hi)}), balanced accuracy {_pct(t['balanced_accuracy'])};"
        f" CNN alone {_pct(t['cnn_only'].get('accuracy'))}, forest alone {_pct(t['forest_only'].get('accuracy'))}"
        " (on the series each could read).",
        "",
    ]
    base = report.get("base_test")
    head = "| class | series | recall | 95% CI | precision |" + (" base recall | base 95% CI |" if base else "")
    lines += [head, "|---|---|---|---|---|" + ("---|---|" if base else "")]
    for c, v in t["per_class"].items():
        row = (
            f"| {c} | {v['n']} | {_pct(v['recall'])} | {_clopper_pearson(v['correct'], v['n'])} |"
            f" {_pct(v['precision'])} |"
        )
        if base:
            b = base["per_class"].get(c, {"correct": 0, "n": 0, "recall": None})
            row += f" {_pct(b['recall'])} | {_clopper_pearson(b['correct'], b['n'])} |"
        lines.append(row)
    labels = sorted({q for row in t["confusion"].values() for q in row})
    lines += [
        "",
        "Confusion matrix (rows truth, columns prediction; '' = no evidence):",
        "",
        "| truth | " + " | ".join(labels) + " |",
        "|---|" + "---|" * len(labels),
    ]
    lines += [f"| {r} | " + " | ".join(str(t["confusion"][r].get(q, 0)) for q in labels) + " |" for r in t["confusion"]]
    ab = t["abstention"]
    lines += [
        "",
        f"Abstention rule (the bundle's thresholds): coverage {_pct(ab['coverage'])} ({ab['n_accepted']} of"
        f" {t['n']}), accuracy on accepted series {_pct(ab['accepted_accuracy'])}.",
        "",
        "| confidence threshold | coverage | accuracy on accepted |",
        "|---|---|---|",
    ]
    lines += [f"| {r['threshold']:.2f} | {_pct(r['coverage'])} | {_pct(r['accuracy'])} |" for r in t["tradeoff"]]
    if base:
        blo, bhi = base["accuracy_ci"]
        cmp = report.get("test_vs_base", {})
        lines += [
            "",
            f"### Base bundle `{base.get('bundle')}` on the same test series",
            "",
            f"Accuracy {_pct(base['accuracy'])} (95% CI {_pct(blo)}-{_pct(bhi)}), balanced accuracy"
            f" {_pct(base['balanced_accuracy'])}; abstention coverage {_pct(base['abstention']['coverage'])},"
            f" accuracy on accepted {_pct(base['abstention']['accepted_accuracy'])}.",
            f"Fine-tuned vs base, McNemar ({cmp.get('method')}): p = {cmp.get('p_value', float('nan')):.3g};"
            f" {cmp.get('only_new_correct')} series right only after fine-tuning,"
            f" {cmp.get('only_base_correct')} right only with the base.",
        ]
    return lines
