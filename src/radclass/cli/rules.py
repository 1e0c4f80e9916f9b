"""``radclass rules PATH... --out labels.csv [--scheme NAME|FILE] [--map-to default]``: derive training labels from
names with the editable rules, in the default classes or in a class scheme (``kasmanoff25``)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from radclass.cli.app import app


@app.command()
def rules(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to scan.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Labels table: .csv, .json or .parquet.")],
    rules_file: Annotated[
        Path | None, typer.Option("--rules", help="Rules TOML (default: the scheme's own rules).")
    ] = None,
    scheme_name: Annotated[
        str,
        typer.Option("--scheme", help="Class scheme: default, kasmanoff25, or a scheme TOML (docs/training.md)."),
    ] = "default",
    map_to: Annotated[
        str | None,
        typer.Option(
            "--map-to",
            help="Write the labels mapped onto this scheme (only 'default'); the scheme's own label goes to "
            "the column sequence_<scheme>.",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Apply label rules (regexes over SeriesDescription/ProtocolName/ImageType + parameter ranges) to every
    series: `path,series_uid,sub_series,series_description,sequence,rule` (sequence empty when no rule matched);
    with a scheme other than the default, the column sequence_default holds the default class of each label."""
    import pandas as pd

    from radclass.outputs.tables import OutputFormatError, check_output_path, write_table
    from radclass.pipeline.scan import scan
    from radclass.progress import progress_bar
    from radclass.rules import DEFAULT_SCHEME, LabelRules, load_scheme

    try:
        check_output_path(out)
        if map_to is not None and map_to != DEFAULT_SCHEME:
            raise ValueError(f"--map-to can only map onto the {DEFAULT_SCHEME!r} classes, not {map_to!r}.")
        scheme = load_scheme(scheme_name)
        if rules_file is not None:
            scheme = replace(scheme, rules=LabelRules.load(rules_file))
    except (OutputFormatError, OSError, ValueError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    with progress_bar("Reading headers", enabled=not quiet) as update:
        result = scan(paths, progress=update)
    rows = []
    for s in result.series:
        row = s.row()
        match = scheme.rules.label(row)
        rows.append(
            {
                "path": s.path,
                "series_uid": s.series_uid,
                "sub_series": s.sub_series,
                "series_description": row.get("series_description"),
                "sequence": match[0] if match else "",
                "rule": match[1] if match else "",
            }
        )
    df = pd.DataFrame(rows, columns=["path", "series_uid", "sub_series", "series_description", "sequence", "rule"])
    if not scheme.is_default:
        mapped = scheme.map_to_default(df["sequence"])
        if map_to is None:
            df["sequence_default"] = mapped
        else:
            df[f"sequence_{scheme.name}"] = df["sequence"]
            df["sequence"] = mapped
    write_table(df, out)
    names = DEFAULT_SCHEME if map_to or scheme.is_default else scheme.name
    typer.echo(f"{int((df['sequence'] != '').sum())} of {len(df)} series labelled by rules ({names} classes) -> {out}")
