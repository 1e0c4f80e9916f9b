"""``radclass simulate OUT``: write a synthetic MR study (DICOM series + truth.csv) with the physics simulator."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from radclass.cli.app import app


@app.command()
def simulate(
    out: Annotated[Path, typer.Argument(help="Folder for the study: one sub-folder per series plus truth.csv.")],
    series: Annotated[
        int | None,
        typer.Option("--series", "-n", help="Number of random series (default: a typical 11-series brain study)."),
    ] = None,
    spec: Annotated[
        list[str] | None,
        typer.Option("--spec", help="SEQUENCE:PLANE of one series, repeatable (e.g. --spec T1:SAG --spec DWI:AX)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same study).")] = 0,
    max_slices: Annotated[int, typer.Option(help="At most this many slices per series.")] = 24,
    max_matrix: Annotated[int, typer.Option(help="At most this many rows/columns per slice.")] = 256,
    sheet: Annotated[Path | None, typer.Option(help="Also write a contact sheet PNG (one tile per series).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Simulate MR series from tissue physics (MNI152 anatomy) with vendor-realistic DICOM headers."""
    import numpy as np

    from radclass.progress import progress_bar
    from radclass.simulate.dicom import sample_specs, write_study
    from radclass.taxonomy import ORIENTATIONS, SEQUENCES

    specs = sample_specs(series, np.random.default_rng(seed + 7919)) if series else None
    if spec:
        specs = [tuple(item.upper().split(":", 1)) for item in spec]  # type: ignore[misc]
        bad = [s for s in specs if len(s) != 2 or s[0] not in SEQUENCES or s[1] not in ORIENTATIONS]
        if bad:
            typer.echo(
                f"error: --spec must be SEQUENCE:PLANE with SEQUENCE in {', '.join(SEQUENCES)} and PLANE in "
                f"{', '.join(ORIENTATIONS)}; got {bad}",
                err=True,
            )
            raise typer.Exit(2)
    with progress_bar("Simulating series", enabled=not quiet) as update:
        truth = write_study(out, specs, seed, max_slices=max_slices, max_matrix=max_matrix, progress=update)
    if sheet:
        from radclass.simulate.preview import contact_sheet, sheet_labels

        contact_sheet(truth["path"], sheet_labels(truth), sheet)
    typer.echo(f"{len(truth)} series, {int(truth['n_files'].sum())} files -> {out} (truth: {Path(out) / 'truth.csv'})")
