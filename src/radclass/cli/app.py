"""The Typer application object every command module registers itself on."""

import typer

app = typer.Typer(
    name="radclass",
    help="Classify medical images: annotate MRI series, train/evaluate/explain classifiers, DICOM integration.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain (click) help and error messages: rendering them with rich imports typer.rich_utils, 130-140 ms of
    # the 0.4 s that `radclass --help` took (docs/performance.md).
    rich_markup_mode=None,
)


@app.callback()
def _root() -> None:
    """radclass: classify medical images (run ``radclass COMMAND --help`` for a command's options)."""
