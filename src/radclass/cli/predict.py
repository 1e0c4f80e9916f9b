"""``radclass predict --task TASK PATH... --out preds.csv``: a bundled diagnostic model on image files
(onnxruntime only; torch is not needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from radclass.cli.app import app


@app.command()
def predict(
    paths: Annotated[
        list[Path], typer.Argument(help="Image files (PNG/JPEG, DICOM, NIfTI) or folders of them.", exists=True)
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output table (.csv, .json or .parquet).")],
    task: Annotated[str, typer.Option("--task", help="Bundled model, e.g. ct-hemorrhage.")] = "ct-hemorrhage",
    bundle: Annotated[
        Path | None,
        typer.Option(
            "--bundle", help="Use this bundle folder instead of the bundled task.", exists=True, file_okay=False
        ),
    ] = None,
) -> None:
    """One row per image: path, label (e.g. HEMORRHAGE or NORMAL), probability of the positive class."""
    from radclass.diagnostic.predict import predict_paths
    from radclass.models.bundle import BundleError
    from radclass.outputs.tables import OutputFormatError, check_output_path, write_table

    try:
        check_output_path(out)
        table = predict_paths(paths, task=None if bundle else task, bundle_dir=bundle)
    except (BundleError, OutputFormatError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    write_table(table, out)
    labelled = table[table["label"] != ""]
    counts = labelled["label"].value_counts().to_dict()
    parts = [f"{k} {v}" for k, v in sorted(counts.items())]
    if len(labelled) < len(table):
        parts.append(f"{len(table) - len(labelled)} unreadable (see column reason)")
    typer.echo(f"{len(table)} images: {', '.join(parts) or 'none'} -> {out}")
