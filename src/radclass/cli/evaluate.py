"""``radclass evaluate``: metrics, statistics and an HTML report for a prediction table against the truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from radclass.cli.app import app

_PRED_HELP = "Predictions CSV: path,label + probability or p_<CLASS> columns, or `radclass annotate` output."
_BOOT_HELP = "Bootstrap resamples for the balanced accuracy, macro-F1 and kappa intervals (0 = none)."


@app.command()
def evaluate(
    pred: Annotated[Path, typer.Argument(help=_PRED_HELP, exists=True, dir_okay=False)],
    truth: Annotated[
        Path,
        typer.Option(
            "--truth", help="Truth CSV (path,label) or the data pool's MANIFEST.csv.", exists=True, dir_okay=False
        ),
    ],
    report: Annotated[
        Path,
        typer.Option("--report", help="Folder for report.html, metrics.json, CSV tables and figures.", file_okay=False),
    ],
    positive: Annotated[
        str | None, typer.Option("--positive", help="Positive class of a binary task (default: inferred).")
    ] = None,
    compare: Annotated[
        list[Path] | None,
        typer.Option(
            "--compare",
            help="Another classifier's or a reader's predictions; repeat for several.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    bootstrap: Annotated[int, typer.Option("--bootstrap", min=0, help=_BOOT_HELP)] = 1000,
    band: Annotated[
        int, typer.Option("--band", min=0, help="Bootstrap resamples for the binary ROC sensitivity band (0 = none).")
    ] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Random seed of the bootstrap.")] = 0,
    scheme_name: Annotated[
        str,
        typer.Option(
            "--scheme",
            help="Class scheme of the truth labels (default, kasmanoff25, or a scheme TOML): mapped onto the "
            "default classes first, and written to REPORT/truth_default.csv.",
        ),
    ] = "default",
) -> None:
    """Evaluate PRED against --truth: per-class and overall metrics with 95% CIs, ROC/PR, calibration, tests."""
    from radclass.evaluate.report import run_evaluation

    try:
        truth = _truth_in_default_classes(truth, scheme_name, report)
        metrics, written = run_evaluation(
            pred,
            truth,
            report,
            positive=positive,
            compare=compare or (),
            n_bootstrap=bootstrap,
            band_resamples=band,
            seed=seed,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    inputs = metrics["inputs"]
    typer.echo(
        f"{metrics['classifier']}: {inputs['matched']} cases, accuracy {metrics['accuracy']:.3f}, "
        f"balanced accuracy {metrics['balanced_accuracy']:.3f}"
    )
    if "roc_auc" in metrics:
        auc = metrics["roc_auc"]
        typer.echo(f"ROC AUC ({metrics['positive']}) {auc['value']:.3f} [{auc['ci95'][0]:.3f}, {auc['ci95'][1]:.3f}]")
    typer.echo(
        f"unmatched: {inputs['n_unmatched_predictions']} predictions, "
        f"{inputs['n_ambiguous_predictions']} ambiguous, {inputs['n_unmatched_truth']} truth rows"
    )
    typer.echo(f"report: {written['report.html']}")


def _truth_in_default_classes(truth: Path, scheme_name: str, report: Path) -> Path:
    """The truth table itself, or (another scheme) its labels mapped onto the default classes, written to the
    report folder; ValueError naming a label outside the scheme."""
    from radclass.evaluate.inputs import read_truth
    from radclass.rules import DEFAULT_SCHEME, load_scheme

    if scheme_name == DEFAULT_SCHEME:
        return truth
    scheme = load_scheme(scheme_name)
    table = read_truth(truth)
    table[f"label_{scheme.name}"] = table["label"]
    table["label"] = scheme.map_to_default(table["label"])
    report.mkdir(parents=True, exist_ok=True)
    mapped = report / "truth_default.csv"
    table.to_csv(mapped, index=False)
    return mapped
