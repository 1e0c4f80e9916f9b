"""External programs radclass starts as subprocesses (dcm2niix, bids-validator-deno, ...): where to find them."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


class ProgramMissing(RuntimeError):
    """A program radclass needs is not installed; the message says how to install it."""


def find_program(name: str, install_hint: str, error: type[ProgramMissing] = ProgramMissing) -> Path:
    """The program ``name``: the one beside this Python first (a PyPI wheel in the same environment), else the
    first on PATH.

    Raises
    ------
    ProgramMissing
        (or ``error``, a subclass) naming the program and ``install_hint``.
    """
    here = Path(sys.executable).parent / name
    if here.is_file() and os.access(here, os.X_OK):
        return here
    found = shutil.which(name)
    if not found:
        raise error(f"{name} is not installed: {install_hint}.")
    return Path(found)
