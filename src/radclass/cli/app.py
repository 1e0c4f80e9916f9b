"""The Typer application object every command module registers itself on."""

import typer

app = typer.Typer(
    name="radclass",
    help="Classify medical images: annotate MRI series, train/evaluate/explain classifiers, DICOM integration.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """radclass: classify medical images (run ``radclass COMMAND --help`` for a command's options)."""
