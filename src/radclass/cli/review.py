"""``radclass review``: the review page over a SQLite index, or an export of its corrections."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from radclass.cli.app import app


@app.command()
def review(
    db: Annotated[Path, typer.Option("--db", help="SQLite index written by annotate/listen.")],
    host: Annotated[str, typer.Option("--host", help="Address to bind (loopback unless told otherwise).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port of the page.")] = 8000,
    export: Annotated[Path | None, typer.Option(
        "--export", help="Write corrections as training labels to this CSV and exit.")] = None,
) -> None:
    """Serve the review page (thumbnails, labels, corrections), or export the corrections."""
    if not db.is_file():
        raise typer.BadParameter(f"no index at {db}", param_hint="--db")
    if export is not None:
        from radclass.outputs.sqlite_index import export_corrections

        n = export_corrections(db, export)
        typer.echo(f"wrote {n} labelled series to {export}")
        return
    import uvicorn

    from radclass.review.app import create_app

    typer.echo(f"radclass review on http://{host}:{port}/ (Ctrl-C to stop)")
    uvicorn.run(create_app(db), host=host, port=port, log_level="warning")
