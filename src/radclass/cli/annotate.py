"""``radclass annotate PATH... --out FILE``: sequence, orientation and contrast of every MRI series."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from radclass.cli.app import app


@app.command()
def annotate(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (DICOM, NIfTI, PNG/JPEG) to annotate.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output table: .csv, .json or .parquet.")],
    db: Annotated[Path | None, typer.Option(help="Also upsert into this SQLite index (table `series`).")] = None,
    bids: Annotated[
        Path | None, typer.Option(help="Also convert the series into a BIDS dataset here (as `radclass bids`).")
    ] = None,
    slices: Annotated[
        int | None,
        typer.Option(min=1, help="Slices decoded per series (default: the bundle's slices_per_series, 5 bundled)."),
    ] = None,
    model: Annotated[str, typer.Option(help="Bundled model name or bundle folder.")] = "mri-series",
    rules: Annotated[Path | None, typer.Option(help="Label-rules TOML (default: the packaged rules).")] = None,
    threshold: Annotated[float | None, typer.Option(help="Abstention threshold (default: the bundle's).")] = None,
    workers: Annotated[
        int,
        typer.Option(
            help="Header-reading and slice-decoding processes (0 = one per core); "
            "with --engine ray and no --address, the CPUs of the local Ray."
        ),
    ] = 0,
    strict: Annotated[bool, typer.Option(help="Exit with status 3 when any file was skipped.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    engine: Annotated[
        str, typer.Option(help="local (worker processes) or ray (Ray Data stages; needs the ray extra).")
    ] = "local",
    address: Annotated[
        str | None, typer.Option(help="Ray cluster address for --engine ray (default: a local Ray).")
    ] = None,
    pixels: Annotated[
        str,
        typer.Option(
            help="auto: decode slices only for the series whose label, confidence, orientation or flags the "
            "pixel model can change (the others are flagged pixels_skipped); all: every series, for a full audit "
            "of the CNN."
        ),
    ] = "auto",
) -> None:
    """Annotate every series with the bundled header forest + slice CNN (onnxruntime only)."""
    from radclass.models.bundle import BundleError
    from radclass.outputs.tables import OutputFormatError, check_output_path, write_table
    from radclass.pipeline.annotate import annotate_paths
    from radclass.pipeline.pixel_policy import PixelMode

    if engine not in ("local", "ray"):
        typer.echo(f"error: --engine must be local or ray, not {engine!r}", err=True)
        raise typer.Exit(2)
    try:
        pixel_mode = PixelMode.parse(pixels)
    except ValueError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    try:
        check_output_path(out)
        if engine == "ray":
            from radclass.pipeline.ray_engine import RayOptions, RayUnavailable, annotate_paths_ray

            try:
                df = annotate_paths_ray(
                    paths,
                    slices=slices,
                    bundle=model,
                    rules=rules,
                    threshold=threshold,
                    options=RayOptions(address=address, num_cpus=workers or None),
                    pixels=pixel_mode,
                )
            except RayUnavailable as err:
                typer.echo(f"error: {err}", err=True)
                raise typer.Exit(2) from None
        else:
            df = annotate_paths(
                paths,
                slices=slices,
                progress=not quiet,
                bundle=model,
                rules=rules,
                threshold=threshold,
                workers=workers or None,
                pixels=pixel_mode,
            )
    except (OutputFormatError, BundleError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    write_table(df, out)
    if db is not None:
        from radclass.outputs.sqlite_index import upsert_series

        upsert_series(db, df)
    if bids is not None:
        from radclass.outputs.bids.convert import ConverterMissing
        from radclass.outputs.bids.dataset import build_bids

        try:
            converted = build_bids(df.to_dict("records"), bids)
        except (ConverterMissing, ValueError, OSError) as err:
            typer.echo(f"error: BIDS conversion failed (the table {out} is written): {err}", err=True)
            raise typer.Exit(2) from None
        typer.echo(
            f"BIDS: {len(converted.converted)} images, {len(converted.skipped)} skipped -> {bids} "
            "(see `radclass bids --help` for participants, task rules and dry runs)"
        )
    series = df[df["series_uid"].astype(str) != ""]
    n_unknown = int((series["status"] == "unknown").sum())
    n_skipped_files = int((df["series_uid"].astype(str) == "").sum())
    typer.echo(f"{len(series)} series annotated ({n_unknown} UNKNOWN), {n_skipped_files} files skipped -> {out}")
    if strict and n_skipped_files:
        raise typer.Exit(3)
