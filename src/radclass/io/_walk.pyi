"""Type stub of the compiled raw element walk (``_walk.c``); see :mod:`radclass.io.raw_dataset`."""

from collections.abc import Callable

from typing_extensions import Buffer

class Refused(ValueError):
    """The file is not of the plain shape the walk handles."""

_Entry = tuple[int, bytes | None, int, int, int]

def top(
    data: Buffer,
    pos: int,
    implicit: bool,
    keep: bytes,
    groups: bytes,
    stop: bytes,
    is_seq: Callable[[int, int], bool],
    /,
) -> tuple[list[_Entry], int, _Entry | None]: ...
def items(
    data: Buffer, vpos: int, length: int, implicit: bool, is_seq: Callable[[int, int], bool], /
) -> tuple[list[list[_Entry]], int]: ...
