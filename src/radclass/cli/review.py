"""``radclass review``: the review page over a SQLite index, or an export of its reviewed labels."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from radclass.cli.app import app


@app.command()
def review(
    db: Annotated[Path, typer.Option("--db", help="SQLite index written by annotate/listen.")],
    host: Annotated[
        str,
        typer.Option(
            "--host", help="Address to bind (loopback unless told otherwise; any other address needs --token)."
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port of the page.")] = 8000,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="RADCLASS_REVIEW_TOKEN",
            help="Secret every request must carry (Bearer, basic-auth password, or /?token= once).",
        ),
    ] = None,
    model: Annotated[str, typer.Option("--model", help="Model bundle the explanations run.")] = "mri-series",
    export: Annotated[
        Path | None,
        typer.Option(
            "--export",
            help="Write the reviewed series as training labels (the CSV `radclass train --labels` reads) and exit.",
        ),
    ] = None,
) -> None:
    """Serve the review page (work list, viewer, explanations, corrections), or export the reviewed labels."""
    if not db.is_file():
        raise typer.BadParameter(f"no index at {db}", param_hint="--db")
    if export is not None:
        from radclass.outputs.sqlite_index import export_corrections

        n = export_corrections(db, export)
        typer.echo(f"wrote {n} labelled series to {export}")
        return
    from radclass.review.security import check_bind

    try:
        check_bind(host, token)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--host/--token") from None
    import uvicorn

    from radclass.review.app import create_app

    typer.echo(
        f"radclass review on http://{host}:{port}/ (Ctrl-C to stop)"
        + (" - open /?token=<token> once to sign in" if token else "")
    )
    uvicorn.run(create_app(db, token=token, model=model), host=host, port=port, log_level="warning")
