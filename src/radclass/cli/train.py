"""``radclass train [CONFIG] [--labels LABELS.csv] [--init BUNDLE] --out DIR``: build or fine-tune a model bundle.

Without ``--labels`` the labels are the shared pool's MANIFEST (``configs/mri-series.toml`` builds the bundled
model); with ``--labels`` they are a user's table, as ``radclass rules --out`` and ``radclass review --export``
write it. Both take the same path (:func:`radclass.training.mri_bundle.build_mri_bundle`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from radclass.cli.app import app

if TYPE_CHECKING:
    from radclass.rules import ClassScheme


@app.command()
def train(
    config_arg: Annotated[
        Path | None,
        typer.Argument(
            metavar="[CONFIG]",
            help="TOML recipe (e.g. configs/mri-series.toml); same as --config.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Bundle folder to write.")] = Path("bundle"),
    config: Annotated[
        Path | None,
        typer.Option("--config", help="TOML recipe (default: the built-in defaults).", exists=True, dir_okay=False),
    ] = None,
    labels: Annotated[
        list[Path] | None,
        typer.Option(
            "--labels",
            help="Labels table (path and/or series_uid, sequence, optional orientation/contrast/group); "
            "repeat it to let a later table (review corrections) override an earlier one (rules).",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    scheme_name: Annotated[
        str,
        typer.Option(
            "--scheme",
            help="Class scheme of the --labels sequences (default, kasmanoff25, or a scheme TOML); they are "
            "trained as the default classes they map onto.",
        ),
    ] = "default",
    data: Annotated[
        list[Path] | None,
        typer.Option(
            "--data", help="Folders to scan for the labelled series (default: the paths the labels name).", exists=True
        ),
    ] = None,
    init: Annotated[
        str | None, typer.Option("--init", help="Bundle (name or folder) to fine-tune from, e.g. mri-series.")
    ] = None,
    max_minutes: Annotated[
        float | None,
        typer.Option(
            "--max-minutes", min=0, help="Time box of the CNN training (the model as trained so far is exported)."
        ),
    ] = None,
    pixel_signature_only: Annotated[
        bool,
        typer.Option(
            "--pixel-signature-only",
            help="Copy the --init bundle to --out and add (or replace) only its pixel-signature model, trained on "
            "the pool with its choices and class thresholds made on inner dataset folds (docs/pixel_model.md).",
        ),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Train, validate (group-wise; held-out test split) and export a model bundle (needs the `train` extra)."""
    try:
        from radclass.training.labels import LabelsError, labelled_from_tables
        from radclass.training.mri_bundle import MriBundleConfig, build_mri_bundle
    except ImportError as err:
        typer.echo(f"error: training needs the train extra (pip install 'radclass[train]'): {err}", err=True)
        raise typer.Exit(2) from None
    if pixel_signature_only:
        _add_pixel_signature(init, out)
        return
    if config_arg and config and config_arg != config:
        raise typer.BadParameter("give the recipe once (CONFIG or --config)", param_hint="--config")
    recipe = config or config_arg
    try:
        cfg = MriBundleConfig.from_toml(recipe) if recipe else MriBundleConfig()
        if max_minutes is not None:
            cfg = replace(cfg, max_minutes=max_minutes)
        scheme = _scheme(scheme_name, labels)
        labelled = labelled_from_tables(labels, data or (), scheme) if labels else None
    except (LabelsError, OSError, TypeError, ValueError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    if labelled is not None and labelled.excluded:
        typer.echo(f"{len(labelled.excluded)} labelled rows left out:", err=True)
        for e in labelled.excluded:
            typer.echo(f"  {e.name} ({e.source}): {e.reason}", err=True)
    from radclass.models.bundle import BundleError

    try:
        with _EpochBar(enabled=not quiet) as (log, on_epoch):
            build_mri_bundle(cfg, out, log=log, labelled=labelled, init=init, on_epoch=on_epoch)
    except (BundleError, ValueError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"bundle written to {out}")


def _scheme(name: str, labels: list[Path] | None) -> ClassScheme | None:
    """The class scheme of the labels tables (None for the default classes); ValueError for a bad scheme."""
    from radclass.rules import DEFAULT_SCHEME, load_scheme

    if name == DEFAULT_SCHEME:
        return None
    if not labels:
        raise ValueError(f"--scheme {name} names the classes of --labels tables: give the tables with --labels.")
    return load_scheme(name)


def _add_pixel_signature(init: str | None, out: Path) -> None:
    """``--pixel-signature-only``: the --init bundle, copied to ``out``, with a pixel-signature model added."""
    import shutil

    from radclass.models.bundle import BundleError, ModelBundle
    from radclass.training.pixel_model import add_pixel_signature

    if not init:
        raise typer.BadParameter("--pixel-signature-only adds to a bundle: name it with --init", param_hint="--init")
    try:
        source = ModelBundle.load(init).folder
        if out.resolve() != source.resolve():
            if out.exists():
                raise typer.BadParameter(f"{out} exists; choose a new folder for the bundle", param_hint="--out")
            shutil.copytree(source, out)
        add_pixel_signature(out, log=typer.echo)
    except (BundleError, ValueError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"bundle written to {out}")


class _EpochBar:
    """A rich progress bar of the CNN epochs (stage, epoch, loss, held-out accuracy) with the log above it."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Any = None  # a rich Progress while training

    def __enter__(self):
        from rich.console import Console

        console = Console(stderr=True)
        if not self.enabled:
            return (lambda msg: None), None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(),
            console=console,
        )
        self.bar.__enter__()
        task = self.bar.add_task("training", total=None, stats="")

        def on_epoch(stage: str, epoch: int, epochs: int, record: dict) -> None:
            acc = f" held-out acc {record['monitor_acc']:.3f}" if "monitor_acc" in record else ""
            acc += f" val acc {record['val_acc']:.3f}" if "val_acc" in record else ""
            self.bar.update(
                task,
                description=f"{stage} epoch",
                completed=epoch,
                total=epochs,
                stats=f"loss {record['loss']:.3f}{acc}",
            )

        return (lambda msg: self.bar.console.log(msg, markup=False, _stack_offset=2)), on_epoch

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)
