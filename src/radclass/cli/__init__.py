"""Command-line interface: ``radclass COMMAND``.

Each command lives in its own module and registers on :data:`radclass.cli.app.app`. Command modules import
only typer and the standard library at the top; the work is imported inside the command body so that
``radclass --help`` starts fast.
"""

from __future__ import annotations

import importlib

from radclass.cli.app import app

_COMMAND_MODULES = (
    "scan",
    "annotate",
    "train",
    "rules",
    "evaluate",
    "explain",
    "simulate",
    "predict",
    "recipe",
    "listen",
    "review",
    "demo",
    "bids",
)

for _name in _COMMAND_MODULES:
    try:
        importlib.import_module(f"radclass.cli.{_name}")
    except ModuleNotFoundError as exc:  # a command whose module is not written yet
        if exc.name != f"radclass.cli.{_name}":
            raise


def main() -> None:
    """Entry point of the ``radclass`` script."""
    app()
