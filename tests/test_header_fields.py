"""The raw element walk keeps every element the header mapping reads, and the value readers never raise.

``radclass.io.header_fields`` reads elements by keyword; the walk of ``radclass.io.raw_dataset`` keeps only the
elements in its lists. An element read by the mapping but missing from those lists would be silently empty for
every file the walk takes (pydicom's fallback would still read it), so the lists are checked against the
keywords found in the mapping's source. The pool-wide equality of the walk and pydicom is checked in
``tests/test_speed_paths.py``.
"""

from __future__ import annotations

import ast
import inspect

import pytest
from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset

from radclass.io import header_fields, raw_dataset
from radclass.io.header_values import get_float, get_floats, get_int, get_pair, get_text, get_tokens, tesla

_READERS = {"get_text", "get_tokens", "get_float", "get_int", "get_floats", "get_pair"}


def _mapping_keywords() -> tuple[set[str], set[str]]:
    """(top-level keywords, first-frame functional group sequences) read in header_fields' source."""
    tree = ast.parse(inspect.getsource(header_fields))
    top: set[str] = set()
    sequences: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and len(node.args) >= 2:
            first_arg, second = node.args[0], node.args[1]
            if node.func.id in _READERS and isinstance(second, ast.Constant) and isinstance(second.value, str):
                top.add(second.value)
            if node.func.id == "first" and isinstance(first_arg, ast.Constant):
                sequences.add(first_arg.value)
        elif isinstance(node, ast.Compare) and isinstance(node.left, ast.Constant) and isinstance(node.ops[0], ast.In):
            if isinstance(node.comparators[0], ast.Name) and node.comparators[0].id == "ds":
                top.add(node.left.value)
        elif isinstance(node, ast.For) and isinstance(node.iter, ast.Tuple):  # for kw in ("A", "B"): get_text(ds, kw)
            top.update(e.value for e in node.iter.elts if isinstance(e, ast.Constant) and isinstance(e.value, str))
    return top, sequences


def test_the_walk_keeps_every_element_the_mapping_reads():
    top, sequences = _mapping_keywords()
    assert len(top) > 40 and len(sequences) >= 5  # the parse found the reads
    assert all(tag_for_keyword(k) is not None for k in top | sequences), "not a DICOM keyword"
    missing = sorted(k for k in top if tag_for_keyword(k) not in raw_dataset.HEADER_TAGS)
    assert not missing, f"read by header_fields, dropped by the walk: {missing}"
    missing_seqs = sorted(k for k in sequences if tag_for_keyword(k) not in raw_dataset._FIRST_FRAME_SEQS)
    assert not missing_seqs, f"functional groups read by header_fields, dropped by the walk: {missing_seqs}"


def _dataset(**values) -> Dataset:
    ds = Dataset()
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    return ds


@pytest.mark.parametrize(
    ("reader", "args", "empty"),
    [
        (get_text, ("SeriesDescription",), ""),
        (get_tokens, ("ImageType",), ()),
        (get_float, ("EchoTime",), None),
        (get_int, ("Rows",), None),
        (get_floats, ("ImageOrientationPatient", 6), ()),
        (get_pair, ("PixelSpacing",), None),
    ],
)
def test_value_readers_give_the_empty_value_of_their_type_when_missing(reader, args, empty):
    assert reader(Dataset(), *args) == empty


def test_value_readers_on_real_shapes():
    ds = _dataset(
        SeriesDescription="  t1_mprage ",
        ImageType=["ORIGINAL", "PRIMARY ", "", "M"],
        EchoTime="2.98",
        Rows=256,
        ImageOrientationPatient=["1", "0", "0", "0", "0.99999", "-0.004"],
        PixelSpacing=["0.5", "0.5", "1"],  # three values where two are expected: no pair
        ProtocolName="n/a",
    )
    assert get_text(ds, "SeriesDescription") == "t1_mprage"
    assert get_tokens(ds, "ImageType") == ("ORIGINAL", "PRIMARY", "M")
    assert get_float(ds, "EchoTime") == 2.98
    assert get_int(ds, "Rows") == 256
    assert get_floats(ds, "ImageOrientationPatient", 6) == (1.0, 0.0, 0.0, 0.0, 1.0, -0.004)
    assert get_pair(ds, "PixelSpacing") is None
    assert get_float(ds, "ProtocolName") is None  # not a number: missing, never an exception


def test_tesla_reads_gauss_above_100():
    assert tesla(1.5) == 1.5 and tesla(15000.0) == 1.5 and tesla(None) is None
