"""``radclass explain``: saliency, Grad-CAM and occlusion heat maps of a bundled CNN on a target's series."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from radclass.cli.app import app


@app.command()
def explain(
    target: Annotated[
        Path, typer.Argument(help="A DICOM series folder, a folder of series, a NIfTI or an image file.", exists=True)
    ],
    model: Annotated[
        str, typer.Option("--model", help="Name of a model bundle in radclass/bundled/ (model.pt + bundle.json).")
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Folder for the overlay PNGs and explanations.json.", file_okay=False)
    ],
) -> None:
    """Explain a bundled CNN's decision on each series of TARGET: heat-map overlays (PNG) per method."""
    from radclass.explain.run import explain_target

    try:
        written = explain_target(target, model, out)
    except (FileNotFoundError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    for path in written:
        typer.echo(str(path))
