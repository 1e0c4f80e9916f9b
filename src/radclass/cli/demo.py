"""``radclass demo DIR``: simulate a small MR study, annotate it with the bundled models, show the agreement."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from radclass.cli.app import app


def agreement_table(truth: Any, annotations: Any) -> Any:
    """Truth rows joined with their annotation (by SeriesInstanceUID, else by series folder)."""
    import pandas as pd

    ann = annotations.copy()
    if "series_uid" in ann.columns and ann["series_uid"].notna().any():
        merged = truth.merge(ann, on="series_uid", how="left", suffixes=("", "_pred"))
    else:
        ann["path"] = ann["path"].map(lambda p: str(Path(p).resolve()))
        merged = truth.assign(path=truth["path"].map(lambda p: str(Path(p).resolve()))).merge(
            ann, on="path", how="left", suffixes=("", "_pred")
        )
    out = pd.DataFrame(
        {
            "series": [Path(p).name for p in merged["path"]],
            "true_sequence": merged["sequence"],
            "pred_sequence": merged["sequence_pred"].fillna("-"),
            "true_orientation": merged["orientation"],
            "pred_orientation": merged["orientation_pred"].fillna("-"),
            "confidence": merged["confidence"] if "confidence" in merged else float("nan"),
            "status": merged["status"].fillna("missing") if "status" in merged else "missing",
        }
    )
    out["sequence_ok"] = out["true_sequence"] == out["pred_sequence"]
    out["orientation_ok"] = out["true_orientation"] == out["pred_orientation"]
    return out


def print_agreement(table: Any) -> None:
    """A rich per-series table and the sequence / orientation agreement."""
    from rich.console import Console
    from rich.table import Table

    view = Table(title="Synthetic study: truth vs. radclass")
    for name in (
        "series",
        "sequence (true)",
        "sequence (pred)",
        "orientation (true)",
        "orientation (pred)",
        "confidence",
        "status",
    ):
        view.add_column(name)
    mark = {True: "[green]", False: "[red]"}
    for r in table.itertuples():
        conf = "" if r.confidence != r.confidence else f"{float(r.confidence):.2f}"  # NaN-safe
        view.add_row(
            r.series,
            r.true_sequence,
            f"{mark[r.sequence_ok]}{r.pred_sequence}",
            r.true_orientation,
            f"{mark[r.orientation_ok]}{r.pred_orientation}",
            conf,
            str(r.status),
        )
    console = Console()
    console.print(view)
    n = len(table)
    console.print(
        f"sequence agreement: {int(table.sequence_ok.sum())}/{n} ({table.sequence_ok.mean():.0%}); "
        f"orientation agreement: {int(table.orientation_ok.sum())}/{n} ({table.orientation_ok.mean():.0%})"
    )


@app.command()
def demo(
    out: Annotated[
        Path, typer.Argument(help="Folder for the study (DIR/dicom), DIR/truth.csv and DIR/annotations.csv.")
    ],
    seed: Annotated[int, typer.Option(help="Random seed of the synthetic study.")] = 0,
    max_slices: Annotated[int, typer.Option(help="Slices per synthetic series.")] = 12,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Write a synthetic 11-series brain study, annotate it with the bundled models and print the agreement."""
    from radclass.progress import progress_bar
    from radclass.simulate.dicom import write_study

    out.mkdir(parents=True, exist_ok=True)
    with progress_bar("Simulating series", enabled=not quiet) as update:
        truth = write_study(
            out / "dicom",
            None,
            seed,
            truth_csv=out / "truth.csv",
            max_slices=max_slices,
            max_matrix=192,
            progress=update,
        )
    typer.echo(f"wrote {len(truth)} synthetic series -> {out / 'dicom'} (truth: {out / 'truth.csv'})")
    try:
        from radclass.outputs.tables import write_table
        from radclass.pipeline.annotate import annotate_paths
    except ImportError as err:
        typer.echo(f"error: annotation pipeline not available ({err})", err=True)
        raise typer.Exit(1) from None
    try:
        annotations = annotate_paths([out / "dicom"], progress=not quiet)
    except Exception as err:  # e.g. the bundled model is missing: say so rather than print a traceback
        typer.echo(f"error: annotation failed: {type(err).__name__}: {err}", err=True)
        raise typer.Exit(1) from None
    write_table(annotations, out / "annotations.csv")
    print_agreement(agreement_table(truth, annotations))
    typer.echo(f"annotations -> {out / 'annotations.csv'}")
