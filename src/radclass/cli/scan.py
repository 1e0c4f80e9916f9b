"""``radclass scan PATH... --out FILE``: list every series (and every skipped file) under the inputs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from radclass.cli.app import app


@app.command()
def scan(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to walk recursively.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output table: .csv, .json or .parquet.")],
    workers: Annotated[int, typer.Option(help="Header-reading processes (0 = one per core).")] = 0,
    strict: Annotated[bool, typer.Option(help="Exit with status 3 when any file was skipped.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Read headers (never pixels) of DICOM, NIfTI and PNG/JPEG files into one row per series."""
    from radclass.outputs.tables import OutputFormatError, check_output_path, write_table
    from radclass.pipeline.scan import scan as run_scan
    from radclass.progress import progress_bar

    try:
        check_output_path(out)
    except OutputFormatError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    with progress_bar("Reading headers", enabled=not quiet) as update:
        result = run_scan(paths, workers=workers or None, progress=update)
    write_table(result.to_frame(), out)
    typer.echo(f"{result.summary()} -> {out}")
    if strict and result.skipped:
        raise typer.Exit(3)
