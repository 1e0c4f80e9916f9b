"""Class schemes: the packaged Kasmanoff 25-class scheme loads, maps onto the default classes, refuses invalid files
with a sentence, and its rules on the pool's real DICOM series agree with the default rules once mapped."""

from __future__ import annotations

from collections import Counter

import pandas as pd
import pytest

from radclass.rules import ClassScheme, LabelRules, SchemeError, load_scheme, packaged_schemes
from radclass.taxonomy import SEQUENCES, SequenceClass

#: Default classes the 25-class scheme has no class for: its rules label them OTHER (docs/training.md).
FOLDED_INTO_OTHER = {SequenceClass.BOLD, SequenceClass.FIELDMAP, SequenceClass.DTI_MAP, SequenceClass.OTHER}

GOOD = """
[scheme]
name = "site3"
description = "Three classes."
source = "a test"

[[class]]
name = "T1_3D"
description = "3D T1."
maps_to = "T1"

[[class]]
name = "DARK_WATER"
description = "FLAIR by another name."
maps_to = "FLAIR"

[[class]]
name = "REST"
description = "Anything else."
maps_to = "OTHER"

[[rule]]
name = "dark"
sequence = "DARK_WATER"
description = "dark_water"

[[rule]]
name = "t1-3d"
sequence = "T1_3D"
description = "t1"
acquisition = "3D"
"""


def test_kasmanoff25_loads_with_25_classes_each_mapping_onto_a_default_class():
    scheme = load_scheme("kasmanoff25")
    assert "kasmanoff25" in packaged_schemes() and scheme.name == "kasmanoff25"
    assert len(scheme.classes) == 25 and len(set(scheme.names)) == 25
    assert all(c.maps_to in SEQUENCES and c.description for c in scheme.classes)
    assert {r.sequence for r in scheme.rules.rules} == set(scheme.names)  # every class has a rule
    assert "Kasmanoff" in scheme.source
    # the classes issue #13 names, and their default classes
    expected = {"T1_2D": "T1", "T1_3D": "T1", "T1_3D_POST": "T1C", "T2_2D": "T2", "T2_3D": "T2", "FLAIR_2D": "FLAIR",
                "FLAIR_3D": "FLAIR", "IAC": "T2", "VIBE": "T1", "HASTE": "T2", "CISS": "T2", "SWI_MAG": "SWI",
                "SWI_PHASE": "SWI", "SWI_MINIP": "SWI", "TOF_MIP": "MRA", "LOCALIZER": "SCOUT"}
    assert {k: scheme.to_default(k) for k in expected} == expected
    assert scheme.map_to_default(["HASTE", "", "ADC"]) == ["T2", "", "ADC"]
    with pytest.raises(SchemeError, match="'T1C' is not a class of the scheme 'kasmanoff25'"):
        scheme.to_default("T1C")


def test_default_scheme_is_the_taxonomy_with_the_default_rules():
    scheme = load_scheme("default")
    assert scheme.is_default and scheme.names == tuple(SEQUENCES)
    assert all(scheme.to_default(n) == n for n in scheme.names)
    assert scheme.rules.label({"series_description": "t1_mpr_tra"}) == LabelRules.load().label(
        {"series_description": "t1_mpr_tra"}
    )


@pytest.mark.parametrize("description,expected", [
    ("t1_se_tra", "T1_2D"), ("AX T1 POST", "T1_2D_POST"), ("Sag T1 MPRAGE +C", "T1_3D_POST"),
    ("t1_mprage_sag_p2_iso", "T1_3D"), ("t1_vibe_fs_tra", "VIBE"), ("t2_tse_tra", "T2_2D"),
    ("t2_space_sag_p2_iso", "T2_3D"), ("COR HASTE", "HASTE"), ("ciss3d_tra", "CISS"), ("AX T2 IAC", "IAC"),
    ("sT2W/FLAIR SENSE", "FLAIR_2D"), ("t2_spc_da-fl_sag_p2_iso 3D FLAIR", "FLAIR_3D"), ("PD_TSE_COR", "PD"),
    ("AX T2* GRE", "T2STAR"), ("SWI_Images", "SWI"), ("Mag_Images SWI", "SWI_MAG"), ("Pha_Images SWI", "SWI_PHASE"),
    ("minIP SWI", "SWI_MINIP"), ("Ax DWI 1000", "DWI"), ("ADC", "ADC"), ("tof_fl3d_tra", "TOF"),
    ("TOF MIP COR", "TOF_MIP"), ("asl_2d_tra", "PERFUSION"), ("AAHScout_32ch", "LOCALIZER"),
    ("ep2d_bold_moco", "OTHER"), ("gre_field_mapping", "OTHER"),
])
def test_kasmanoff25_rules_on_descriptions(description, expected):
    scheme = load_scheme("kasmanoff25")
    row = {"series_description": description, "acquisition": "3D" if "3d" in description.lower() else ""}
    assert scheme.rules.label(row)[0] == expected
    default = LabelRules.load().label(row)
    if default and expected != "OTHER":  # where both speak, the mapped label is the default rules' label
        assert scheme.to_default(expected) == default[0]


def test_acquisition_type_splits_2d_from_3d():
    scheme = load_scheme("kasmanoff25")
    assert scheme.rules.label({"series_description": "T2 FLAIR", "acquisition": "3D"})[0] == "FLAIR_3D"
    assert scheme.rules.label({"series_description": "T2 FLAIR", "acquisition": "2D"})[0] == "FLAIR_2D"
    assert scheme.rules.label({"repetition_time": 5000, "inversion_time": 1800, "acquisition": "3D"})[0] == "FLAIR_3D"


def test_a_user_scheme_file(tmp_path):
    path = tmp_path / "site3.toml"
    path.write_text(GOOD)
    scheme = load_scheme(path)
    assert scheme.names == ("T1_3D", "DARK_WATER", "REST")
    assert scheme.rules.label({"series_description": "AX_DARK_WATER"}) == ("DARK_WATER", "dark")
    assert scheme.rules.label({"series_description": "t1", "acquisition": "2D"}) is None


@pytest.mark.parametrize("change,message", [
    (('maps_to = "FLAIR"', 'maps_to = "FLAIR2"'), "maps to 'FLAIR2', which is not a default class"),
    (('maps_to = "OTHER"', 'maps_to = "UNKNOWN"'), "maps to 'UNKNOWN', which is not a default class"),
    (('name = "REST"', 'name = "T1_3D"'), r"names these classes more than once: \['T1_3D'\]"),
    (('sequence = "DARK_WATER"', 'sequence = "FLAIR"'), r"name classes the scheme does not have: \['FLAIR'\]"),
    (('description = "dark_water"', 'description = "dark(water"'), "invalid regular expression in 'description'"),
    (('acquisition = "3D"', 'acquisition = "4D"'), "acquisition '4D'; it must be one of"),
    (('acquisition = "3D"', 'acqusition = "3D"'), r"unknown keys \['acqusition'\]"),
    (('maps_to = "T1"', 'map_to = "T1"'), r"unknown keys \['map_to'\]"),
    (('[scheme]', '[schema]'), r"unknown tables \['schema'\]"),
    (('name = "dark"', 'name = "dark"\ncontrast = "gad"'), "has contrast 'gad'; it must be one of"),
    (('sequence = "T1_3D"', ''), "names no class: give it a 'sequence' string"),
    (('name = "site3"', 'name = "site3'), "is not valid TOML"),
    (('name = "site3"', 'name = "default"'), "other than 'default'"),
    (('name = "site3"', 'name = "site 3"'), "needs a name of letters, digits"),
])
def test_invalid_scheme_files_are_refused_with_a_sentence(tmp_path, change, message):
    path = tmp_path / "bad.toml"
    path.write_text(GOOD.replace(*change))
    with pytest.raises(SchemeError, match=message) as info:
        load_scheme(path)
    assert str(info.value).endswith(".")


def test_unknown_scheme_names_and_missing_files():
    with pytest.raises(SchemeError, match="There is no class scheme 'kasmanoff26': the packaged schemes are"):
        load_scheme("kasmanoff26")
    with pytest.raises(SchemeError, match="does not exist"):
        load_scheme("/nowhere/scheme.toml")
    with pytest.raises(SchemeError, match="has no classes"):
        ClassScheme("empty", "", "", (), LabelRules([]))


def test_kasmanoff25_on_real_series_agrees_with_the_default_rules(data_root, tmp_path, run_cli):
    """``radclass rules --scheme kasmanoff25`` on the pool's DICOM series; mapped, it agrees with the default rules
    wherever both label a series, apart from the default classes the scheme folds into OTHER."""
    folder = data_root / "mri" / "dicom"
    outs = {}
    for args in ((), ("--scheme", "kasmanoff25"), ("--scheme", "kasmanoff25", "--map-to", "default")):
        out = tmp_path / f"labels{len(args)}.csv"
        result = run_cli("rules", folder, "--out", out, "-q", *args)
        assert result.exit_code == 0, result.output
        outs[args[1] if args else "default", len(args)] = pd.read_csv(out, keep_default_na=False)
    default, k25, mapped = outs["default", 0], outs["kasmanoff25", 2], outs["kasmanoff25", 4]
    assert list(default["path"]) == list(k25["path"]) and len(default) >= 150
    assert list(k25["sequence_default"]) == list(mapped["sequence"])
    assert list(mapped["sequence_kasmanoff25"]) == list(k25["sequence"])
    both = (default["sequence"] != "") & (k25["sequence"] != "")
    finer = both & (k25["sequence"] != "OTHER")
    agree = finer & (default["sequence"] == k25["sequence_default"])
    rate = agree.sum() / finer.sum()
    print(f"\n{len(default)} series; default rules label {(default['sequence'] != '').sum()}, kasmanoff25 rules "
          f"{(k25['sequence'] != '').sum()}, both {both.sum()}; outside OTHER {finer.sum()}, of which the mapped "
          f"label agrees on {agree.sum()} ({rate:.1%}); 25-class counts {dict(Counter(k25['sequence'][both]))}")
    assert finer.sum() >= 90 and rate >= 0.98
    folded = set(default["sequence"][both & (k25["sequence"] == "OTHER")])
    assert folded and folded <= FOLDED_INTO_OTHER  # OTHER only where the scheme has no class of its own
    assert len(set(k25["sequence"][both])) >= 8  # the finer classes are used: 2D and 3D FLAIR and T1, ...
    assert {"FLAIR_2D", "FLAIR_3D", "T1_2D", "T1_3D"} <= set(k25["sequence"])


def test_rules_command_refuses_bad_schemes_and_targets(data_root, tmp_path, run_cli):
    folder = data_root / "mri" / "dicom" / "dcm_qa_xa30"
    result = run_cli("rules", folder, "--out", tmp_path / "a.csv", "--scheme", "nope", "-q")
    assert result.exit_code == 2 and "There is no class scheme 'nope'" in result.output
    result = run_cli("rules", folder, "--out", tmp_path / "a.csv", "--scheme", "kasmanoff25", "--map-to", "k9", "-q")
    assert result.exit_code == 2 and "can only map onto the 'default' classes" in result.output
    assert not (tmp_path / "a.csv").exists()


def test_evaluate_maps_25_class_truth_onto_the_default_classes(data_root, tmp_path, run_cli):
    """``evaluate --scheme kasmanoff25``: the bundled model's predictions against 25-class rule labels score as
    against the same labels mapped by ``rules --map-to default``; a label outside the scheme is refused."""
    import json

    folder = data_root / "mri" / "dicom" / "dcm_qa_xa30"
    ann, k25, mapped = tmp_path / "ann.csv", tmp_path / "k25.csv", tmp_path / "mapped.csv"
    assert run_cli("annotate", folder, "--out", ann, "-q").exit_code == 0
    assert run_cli("rules", folder, "--scheme", "kasmanoff25", "--out", k25, "-q").exit_code == 0
    result = run_cli("rules", folder, "--scheme", "kasmanoff25", "--map-to", "default", "--out", mapped, "-q")
    assert result.exit_code == 0, result.output
    scores = {}
    for name, truth, extra in (("scheme", k25, ("--scheme", "kasmanoff25")), ("mapped", mapped, ()), ("raw", k25, ())):
        report = tmp_path / name
        result = run_cli("evaluate", ann, "--truth", truth, "--report", report, "--bootstrap", 0, "--band", 0, *extra)
        assert result.exit_code == 0, result.output
        scores[name] = json.loads((report / "metrics.json").read_text())["accuracy"]
    truth = pd.read_csv(tmp_path / "scheme" / "truth_default.csv", keep_default_na=False)
    assert set(truth["label_kasmanoff25"]) >= {"T1_3D", "DWI"} and "T1" in set(truth["label"])
    print(f"\naccuracy against 25-class truth: mapped {scores['scheme']:.3f}, unmapped {scores['raw']:.3f}")
    assert scores["scheme"] == scores["mapped"] > scores["raw"]
    bad = tmp_path / "bad.csv"
    bad.write_text(f"path,sequence\n{folder / '5_anat-T1w_acq-tfl'},T1_4D\n")
    result = run_cli("evaluate", ann, "--truth", bad, "--report", tmp_path / "bad", "--scheme", "kasmanoff25")
    assert result.exit_code == 2 and "'T1_4D' is not a class of the scheme 'kasmanoff25'" in result.output
