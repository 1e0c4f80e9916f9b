"""``radclass bids ARCHIVE... --out BIDS_DIR``: a BIDS dataset named from radclass's labels (dcm2niix converts)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from radclass.cli.app import app


def print_plan(result) -> None:  # result: radclass.outputs.bids.dataset.BidsResult
    """The plan as a table: every input series, its BIDS path or why it is skipped."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"BIDS plan for {result.root}" + (" (dry run: nothing written)" if result.dry_run else ""))
    for name in ("status", "sequence", "source", "BIDS path / reason"):
        table.add_column(name, overflow="fold")
    for r in result.rows:
        table.add_row(r.status.value, r.sequence, r.source, r.bids_path or r.reason)
    Console(width=200).print(table)


@app.command()
def bids(
    archives: Annotated[list[Path], typer.Argument(help="Archive files or folders (DICOM, NIfTI).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="BIDS dataset folder (created; re-runs add to it).")],
    annotations: Annotated[
        Path | None,
        typer.Option(help="Use this `radclass annotate` table (its rows under ARCHIVE) instead of annotating."),
    ] = None,
    participants: Annotated[
        Path | None,
        typer.Option(
            help="CSV/TSV mapping patient_id -> participant_id (optional study_uid -> session_id; "
            "other columns go to participants.tsv)."
        ),
    ] = None,
    task_rules: Annotated[
        Path | None,
        typer.Option(help="TOML of task rules for BOLD series (default: the packaged rules/tasks.toml)."),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Convert into a temporary folder and print the plan; write nothing under --out."
        ),
    ] = False,
    name: Annotated[str | None, typer.Option(help="Dataset name for dataset_description.json (new datasets).")] = None,
    validate: Annotated[
        bool, typer.Option("--validate", help="Run bids-validator-deno on the dataset afterwards; exit 4 on any error.")
    ] = False,
    slices: Annotated[int, typer.Option(help="Slices decoded per series when annotating.")] = 5,
    model: Annotated[str, typer.Option(help="Bundled model name or bundle folder (when annotating).")] = "mri-series",
    workers: Annotated[int, typer.Option(help="Header-reading and slice-decoding processes (0 = one per core).")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars and no plan table.")] = False,
) -> None:
    """Convert every series with dcm2niix and name it from its sequence/orientation/contrast labels."""
    from radclass.outputs.bids.convert import ConverterMissing
    from radclass.outputs.bids.dataset import build_bids

    missing = [p for p in archives if not p.exists()]
    if missing:
        typer.echo(f"error: no such file or folder: {', '.join(map(str, missing))}", err=True)
        raise typer.Exit(2)
    if out.exists() and not out.is_dir():
        typer.echo(f"error: --out {out} exists and is not a folder", err=True)
        raise typer.Exit(2)
    try:
        rows = _annotation_rows(archives, annotations, slices=slices, model=model, workers=workers, quiet=quiet)
        result = build_bids(rows, out, participants=participants, task_rules=task_rules, dry_run=dry_run, name=name)
    except (ConverterMissing, ValueError, OSError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    if dry_run or not quiet:
        print_plan(result)
    where = "planned (dry run)" if dry_run else f"-> {out}"
    typer.echo(f"{len(result.converted)} images converted, {len(result.skipped)} series/files skipped {where}")
    if not dry_run:
        typer.echo(
            f"ledger: {out / 'code/radclass/conversion.tsv'}; exports: code/radclass/dcm2bids_config.json, "
            "code/radclass/heuristic.py"
        )
        if result.heuristic_left_out:
            typer.echo(
                f"note: the HeuDiConv heuristic leaves out {len(result.heuristic_left_out)} series whose "
                "split into several images HeuDiConv names differently",
                err=True,
            )
    if validate and not dry_run:
        _validate(out)


def _validate(out: Path) -> None:
    from radclass.outputs.bids.validate import ValidatorMissing
    from radclass.outputs.bids.validate import validate as run_validator

    try:
        report = run_validator(out)
    except (ValidatorMissing, RuntimeError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"bids-validator: {len(report.errors)} errors, {len(report.warnings)} warnings")
    for code, n in sorted(report.counts("error").items()):
        typer.echo(f"  error {code}: {n}", err=True)
    if report.errors:
        raise typer.Exit(4)


def _annotation_rows(
    archives: list[Path], annotations: Path | None, *, slices: int, model: str, workers: int, quiet: bool
) -> list[dict]:
    """Rows of the given annotation table that lie under the archives, or a fresh annotation of the archives."""
    if annotations is None:
        from radclass.pipeline.annotate import annotate_paths

        return annotate_paths(
            archives, slices=slices, progress=not quiet, bundle=model, workers=workers or None
        ).to_dict("records")
    from radclass.outputs.tables import read_table

    roots = [p.resolve() for p in archives]
    rows = [
        r
        for r in read_table(annotations).to_dict("records")
        if any(_under(Path(str(r.get("path") or "")), root) for root in roots)
    ]
    if not rows:
        raise ValueError(f"No row of {annotations} lies under {', '.join(map(str, archives))}.")
    return rows


def _under(path: Path, root: Path) -> bool:
    resolved = path.resolve()
    return resolved == root or root in resolved.parents
