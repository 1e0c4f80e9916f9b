"""``radclass train CONFIG --out DIR``: build a model bundle from a TOML configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from radclass.cli.app import app


@app.command()
def train(
    config: Annotated[Path, typer.Argument(help="TOML configuration (e.g. configs/mri-series.toml).", exists=True)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Bundle folder to write.")],
) -> None:
    """Train, validate (leave-one-dataset-out) and export a model bundle (needs the `train` extra)."""
    try:
        from radclass.training.mri_bundle import MriBundleConfig, build_mri_bundle
    except ImportError as err:
        typer.echo(f"error: training needs the train extra (pip install 'radclass[train]'): {err}", err=True)
        raise typer.Exit(2) from None
    from rich.console import Console

    console = Console(stderr=True)
    cfg = MriBundleConfig.from_toml(config)
    with console.status("training…"):
        build_mri_bundle(cfg, out, log=lambda msg: console.log(msg))
    typer.echo(f"bundle written to {out}")
