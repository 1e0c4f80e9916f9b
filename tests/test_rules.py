"""Label rules: default rules on real-world names, user TOML, parameter-only rules."""

from __future__ import annotations

import pytest

from radclass.rules import LabelRules


@pytest.mark.parametrize("description,expected", [
    ("t1_mpr_tra", "T1"), ("sT2W/FLAIR SENSE", "FLAIR"), ("AX T1 POST", "T1C"), ("Ax DWI 1000", "DWI"),
    ("ep2d_bold_moco", "BOLD"), ("AAHScout_32ch", "SCOUT"), ("tof_fl3d_tra", "MRA"), ("SWI_Images", "SWI"),
    ("gre_field_mapping", "FIELDMAP"), ("t2_tse_tra", "T2"), ("PD_TSE_COR", "PD"), ("asl_2d_tra", "PERFUSION"),
    ("Sag T1 MPRAGE +C", "T1C"), ("AX T2* GRE", "T2STAR"),
])
def test_default_rules_on_descriptions(description, expected):
    assert LabelRules.load().label({"series_description": description})[0] == expected


def test_image_type_and_parameter_rules():
    rules = LabelRules.load()
    assert rules.label({"image_type": "DERIVED\\PRIMARY\\DIFFUSION\\ADC"})[0] == "ADC"
    assert rules.label({"repetition_time": 9000, "inversion_time": 2500})[0] == "FLAIR"
    assert rules.label({"repetition_time": 500, "echo_time": 12}) is None


def test_user_rules_file(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text('[[rule]]\nname = "site-flair"\nsequence = "FLAIR"\ndescription = "dark_water"\n')
    rules = LabelRules.load(path)
    assert rules.label({"series_description": "AX_DARK_WATER"}) == ("FLAIR", "site-flair")
    assert rules.label({"series_description": "t1_mprage"}) is None


def test_rules_command_on_real_series(data_root, tmp_path, run_cli):
    import pandas as pd

    out = tmp_path / "labels.csv"
    result = run_cli("rules", data_root / "mri" / "dicom" / "dcm_qa_xa30", "--out", out, "-q")
    assert result.exit_code == 0, result.output
    df = pd.read_csv(out, keep_default_na=False)
    labelled = df[df["sequence"] != ""]
    assert len(labelled) >= 15
    t1 = labelled[labelled["path"].str.endswith("5_anat-T1w_acq-tfl")]
    assert list(t1["sequence"]) == ["T1"]


def test_label_is_the_first_rule_that_matches_on_pool_rows(pool_scan):
    """label() (the row's texts made once for all rules) names the first rule whose matches() holds."""
    rules = LabelRules.load()
    rows = [s.row() for s in pool_scan.series]
    rows += [{"series_description": "asl_2d_tra"}, {"protocol_name": "t1_mpr", "series_description": "ax_flair"}]
    named = 0
    for row in rows:
        first = next(((r.sequence, r.name) for r in rules.rules if r.matches(row)), None)
        assert rules.label(row) == first
        named += first is not None
    assert named >= 100 and len(rows) - named >= 10  # both outcomes on real rows


def test_label_remembered_per_texts_and_ranges():
    """label() is remembered per what the rules read: the same description with a TR or acquisition that another
    rule needs gets that rule's label, not the remembered one."""
    rules = LabelRules.from_toml(
        """
[[rule]]
name = "short-tr"
sequence = "T1"
description = "mprage"
tr = [0, 3000]
[[rule]]
name = "3d"
sequence = "FLAIR"
description = "mprage"
acquisition = "3D"
"""
    )
    row = {"series_description": "MPRAGE", "repetition_time": 2300}
    assert rules.label(row) == ("T1", "short-tr")
    assert rules.label({**row, "repetition_time": 9000}) is None
    assert rules.label({**row, "repetition_time": 9000, "acquisition": "3D"}) == ("FLAIR", "3d")
    assert rules.label(row) == ("T1", "short-tr")
