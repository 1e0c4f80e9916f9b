"""``radclass rules PATH... --out labels.csv``: derive training labels from names with the editable rules."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from radclass.cli.app import app


@app.command()
def rules(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to scan.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Labels table: .csv, .json or .parquet.")],
    rules_file: Annotated[Path | None, typer.Option("--rules", help="Rules TOML (default: packaged rules).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Apply label rules (regexes over SeriesDescription/ProtocolName/ImageType + parameter ranges) to every
    series: `path,series_uid,sub_series,series_description,sequence,rule` (sequence empty when no rule matched)."""
    import pandas as pd

    from radclass.outputs.tables import OutputFormatError, check_output_path, write_table
    from radclass.pipeline.scan import scan
    from radclass.progress import progress_bar
    from radclass.rules import LabelRules

    try:
        check_output_path(out)
        label_rules = LabelRules.load(rules_file)
    except (OutputFormatError, OSError, ValueError, KeyError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    with progress_bar("Reading headers", enabled=not quiet) as update:
        result = scan(paths, progress=update)
    rows = []
    for s in result.series:
        row = s.row()
        match = label_rules.label(row)
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
    write_table(df, out)
    typer.echo(f"{int((df['sequence'] != '').sum())} of {len(df)} series labelled by rules -> {out}")
