"""``radclass listen``: a DICOM Storage SCP that annotates every complete series it receives."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from radclass.cli.app import app


@app.command()
def listen(
    store: Annotated[Path, typer.Option("--store", help="Inbox folder: <StudyUID>/<SeriesUID>/<SOPUID>.dcm.")],
    port: Annotated[int, typer.Option("--port", help="TCP port to listen on (0 = any free port).")] = 11112,
    ae_title: Annotated[str, typer.Option("--ae-title", help="Our AE title.")] = "RADCLASS",
    db: Annotated[Path | None, typer.Option("--db", help="SQLite index (default STORE/index.sqlite).")] = None,
    quiet_seconds: Annotated[
        float,
        typer.Option("--quiet-seconds", help="A series is complete after this many seconds without new instances."),
    ] = 10.0,
    forward: Annotated[
        str | None, typer.Option("--forward", help="Send each structured report on by C-STORE: HOST:PORT:AET.")
    ] = None,
    route: Annotated[
        list[str] | None,
        typer.Option(
            "--route",
            help="Forward each complete series by what it is: a TOML rules file, or a rule "
            "SEQUENCES[QUALIFIERS]=AET@HOST:PORT such as T1C,FLAIR=NEURO@10.0.0.5:104 (repeatable; "
            "UNKNOWN and * are selectors too).",
        ),
    ] = None,
    route_default: Annotated[
        str | None,
        typer.Option("--route-default", help="AET@HOST:PORT for series no --route rule selects (default: nowhere)."),
    ] = None,
    allow: Annotated[
        str | None, typer.Option("--allow", help="Comma-separated calling AE titles to accept; others are rejected.")
    ] = None,
    host: Annotated[
        str, typer.Option("--host", help="Address to bind (loopback unless told otherwise).")
    ] = "127.0.0.1",
    slices: Annotated[
        int | None,
        typer.Option("--slices", min=1, help="Slices sampled per series (default: the bundle's slices_per_series)."),
    ] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
    status: Annotated[bool, typer.Option("--status/--no-status", help="Show the status line.")] = True,
) -> None:
    """Receive DICOM instances, annotate each series once it is complete, write and forward an SR."""
    import logging

    from radclass.integration.forward import Destination
    from radclass.integration.listener import Listener, ListenerConfig
    from radclass.integration.routing import RoutingError, RoutingTable

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("pynetdicom", "highdicom"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        destination = Destination.parse(forward) if forward else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--forward") from exc
    routes = None
    if route or route_default:
        try:
            routes = RoutingTable.from_specs(route or [], default=route_default)
        except RoutingError as exc:
            raise typer.BadParameter(str(exc), param_hint="--route") from exc
    config = ListenerConfig(
        store=store,
        port=port,
        ae_title=ae_title,
        host=host,
        db=db,
        quiet_seconds=quiet_seconds,
        forward=destination,
        routes=routes,
        allow=tuple(a for a in (allow or "").split(",") if a.strip()),
        slices=slices,
    )
    Listener(config).serve_forever(status=status)
