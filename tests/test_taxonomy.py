"""The vocabularies (radclass.taxonomy) against the project's taxonomy document, the pool's labels and the README."""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path

import pytest

from radclass.taxonomy import (
    CONTRASTS,
    DEFAULT_CONTRAST,
    ORIENTATIONS,
    SEQUENCES,
    UNKNOWN,
    Contrast,
    Flag,
    FlagNote,
    Plane,
    SequenceClass,
    Status,
    join_flags,
    parse_flags,
)

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(scope="module")
def taxonomy_doc(data_root: Path) -> str:
    doc = data_root.parent / "docs" / "taxonomy.md"
    if not doc.exists():
        pytest.skip(f"taxonomy document not found at {doc}")
    return doc.read_text()


def _section(doc: str, title: str) -> str:
    return doc.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def test_every_sequence_of_the_document_is_a_member_and_no_other(taxonomy_doc):
    labels = re.findall(r"^\| ([A-Z0-9_]+) \|", _section(taxonomy_doc, "Sequence"), flags=re.MULTILINE)
    assert len(labels) == 16
    assert tuple(labels) == SEQUENCES  # same classes, same order
    assert f"`{UNKNOWN}`" in taxonomy_doc and UNKNOWN not in SEQUENCES
    assert {s.value for s in SequenceClass} == {*labels, "UNKNOWN"}


def test_planes_and_contrasts_of_the_document(taxonomy_doc):
    orientation = _section(taxonomy_doc, "Orientation")
    for plane in (*ORIENTATIONS, Plane.MIXED):
        assert re.search(rf"\b{plane.value}\b", orientation), plane
    contrast = re.findall(r"`(\w+)`", _section(taxonomy_doc, "Contrast"))
    assert tuple(contrast) == CONTRASTS == tuple(Contrast)
    assert set(DEFAULT_CONTRAST) == set(SEQUENCES) and set(DEFAULT_CONTRAST.values()) <= set(Contrast)


def test_pool_labels_are_in_the_vocabularies(manifest):
    mr = manifest[(manifest["modality"] == "MR") & ~manifest["dataset"].str.startswith("liver")]  # LIVER_SEG
    assert len(mr) > 200
    assert set(mr["sequence"]) <= set(SEQUENCES)
    assert set(mr["orientation"]) <= set(Plane)
    assert set(mr["contrast"]) <= set(Contrast)


def test_every_flag_and_status_is_documented_in_the_readme():
    text = README.read_text()
    flags = text.split("\nFlags (", 1)[1].split("\n\n", 1)[0]
    for flag in Flag:
        assert f"`{flag.value}" in flags, flag
    for status in Status:
        assert f"`{status.value}`" in text, status


def test_members_are_their_strings():
    assert SequenceClass.T1 == "T1" and Plane.NA == "NA" and Contrast.POST == "post" and Status.OK == "ok"
    assert json.dumps([SequenceClass.DTI_MAP, Flag.MOSAIC]) == '["DTI_MAP", "mosaic"]'
    assert f"{Plane.MIXED}" == "MIXED" and type(str(Plane.MIXED)) is str
    assert "T1C" in SEQUENCES and SEQUENCES.index("T1C") == 1


def test_flags_join_and_parse_back():
    issue = Flag.PIXEL_ISSUE.note("truncated at byte 100 (pixel data needs 200)")
    assert issue == "pixel_issue:truncated at byte 100 (pixel data needs 200)"
    assert issue.flag is Flag.PIXEL_ISSUE and issue.startswith("pixel_issue:truncated")
    flags = (Flag.NO_PIXELS, issue, Flag.NO_PIXELS, Flag.NON_BRAIN)
    text = join_flags(flags)
    assert text == "no_pixels;pixel_issue:truncated at byte 100 (pixel data needs 200);non_brain"
    back = parse_flags(text)
    assert back == (Flag.NO_PIXELS, issue, Flag.NON_BRAIN)
    assert isinstance(back[0], Flag) and isinstance(back[1], FlagNote) and back[1].detail == issue.detail
    assert parse_flags("") == () and parse_flags(None) == () and join_flags(()) == ""
    again = pickle.loads(pickle.dumps(issue))  # worker processes and Ray pickle series
    assert isinstance(again, FlagNote) and again.flag is Flag.PIXEL_ISSUE and again == issue


def test_bad_flags_are_refused_with_a_sentence():
    with pytest.raises(ValueError, match="Unknown series flag 'shiny'"):
        parse_flags("mosaic;shiny")
    with pytest.raises(ValueError, match="cannot contain ';'"):
        Flag.PIXEL_ISSUE.note("a;b")
    with pytest.raises(TypeError, match="needs a Flag member"):
        FlagNote("mosaic", "x")  # type: ignore[arg-type]
