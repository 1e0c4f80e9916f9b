"""radclass.outputs.bids.naming: sequence -> datatype/suffix/entities, labels and file stems."""

from __future__ import annotations

import pytest

from radclass.outputs.bids.naming import (
    Datatype,
    Entity,
    Suffix,
    check_entities,
    clean_label,
    file_stem,
    target_for,
)
from radclass.taxonomy import SEQUENCES


def test_every_sequence_has_a_target_or_a_reason() -> None:
    placed = set()
    for seq in (*SEQUENCES, "UNKNOWN"):
        target = target_for(seq)
        if isinstance(target, str):
            assert seq in target or "derived" in target, (seq, target)
        else:
            placed.add(seq)
    assert placed == {"T1", "T1C", "T2", "FLAIR", "PD", "T2STAR", "DWI", "PERFUSION", "MRA", "BOLD", "FIELDMAP"}


@pytest.mark.parametrize("seq,datatype,suffix", [
    ("T1", Datatype.ANAT, Suffix.T1W), ("T2", Datatype.ANAT, Suffix.T2W), ("FLAIR", Datatype.ANAT, Suffix.FLAIR),
    ("PD", Datatype.ANAT, Suffix.PDW), ("T2STAR", Datatype.ANAT, Suffix.T2STARW), ("MRA", Datatype.ANAT, Suffix.ANGIO),
    ("DWI", Datatype.DWI, Suffix.DWI), ("BOLD", Datatype.FUNC, Suffix.BOLD), ("PERFUSION", Datatype.PERF, Suffix.ASL),
])
def test_targets(seq: str, datatype: Datatype, suffix: Suffix) -> None:
    target = target_for(seq, "pre")
    assert (target.datatype, target.suffix, target.entities) == (datatype, suffix, {})


def test_post_contrast_gets_ce() -> None:
    assert target_for("T1C").entities == {Entity.CE: "gadolinium"}
    assert target_for("FLAIR", "post").entities == {Entity.CE: "gadolinium"}
    assert target_for("DWI", "post").entities == {}  # dwi file names have no ce-


def test_fieldmap_goes_to_fmap() -> None:
    assert target_for("FIELDMAP").datatype is Datatype.FMAP


@pytest.mark.parametrize("seq,words", [("SCOUT", "localizer"), ("OTHER", "OTHER"), ("UNKNOWN", "abstained"),
                                       ("ADC", "derivatives"), ("DTI_MAP", "derivatives"), ("SWI", "SWI"),
                                       ("HEMORRHAGE", "not a radclass label")])
def test_no_place_reasons(seq: str, words: str) -> None:
    reason = target_for(seq)
    assert isinstance(reason, str) and words in reason


def test_file_stem_orders_entities_as_bids() -> None:
    ents = {Entity.RUN: "2", Entity.SUB: "01", Entity.DIR: "AP", Entity.ACQ: "sag", Entity.SES: "x", Entity.TASK: "rest"}
    assert file_stem(ents, Suffix.BOLD) == "sub-01_ses-x_task-rest_acq-sag_dir-AP_run-2_bold"
    assert file_stem({Entity.SUB: "01", Entity.SES: ""}, Suffix.T1W) == "sub-01_T1w"


def test_check_entities() -> None:
    check_entities({Entity.SUB: "01", Entity.DIR: "PA"}, Suffix.DWI)
    with pytest.raises(ValueError, match="does not allow the entity dir-"):
        check_entities({Entity.SUB: "01", Entity.DIR: "PA"}, Suffix.T1W)
    with pytest.raises(ValueError, match="letters and digits"):
        check_entities({Entity.SUB: "a-b"}, Suffix.T1W)


def test_clean_label() -> None:
    assert clean_label("12343@hucheng") == "12343hucheng"
    assert clean_label("") == "unknown"
    assert clean_label(float("nan"), "") == ""
