"""``--pixels auto|all`` (:mod:`radclass.pipeline.pixel_policy`): the policy itself, and on real data that
``auto`` publishes exactly what ``all`` publishes except the CNN's informational columns."""

from __future__ import annotations

import pandas as pd
import pytest

from radclass.config import BUNDLED_DIR
from radclass.pipeline.pixel_policy import PIXELS_SKIPPED_FLAG, PixelMode, pixel_need

BUNDLED = {"w_cnn": 0.0, "w_forest": 1.0, "threshold_header": 0.2, "threshold_pixels": 1.0}
FULL_HEADER = {"repetition_time": 2000.0, "echo_time": 90.0, "image_type": "ORIGINAL\\PRIMARY\\M",
               "scanning_sequence": "SE", "orientation": "AX"}
needs_bundle = pytest.mark.skipif(not (BUNDLED_DIR / "mri-series" / "bundle.json").exists(),
                                  reason="bundled mri-series model not built")
# Enhanced multi-frame, mosaics, classic Philips, NIfTI with and without sidecars, PNG slices, a CT series.
SUBSET = ("mri/dicom/dcm_qa_xa30", "mri/dicom/dcm_qa", "mri/dicom/dcm_qa_philips", "mri/nifti/niivue",
          "mri/png/ixi_guys", "liver/totalseg/example_ct_dicom")
CNN_COLUMNS = ["cnn_sequence", "vote_sequence"]


def test_informative_header_with_plane_needs_no_pixels_under_the_bundled_fusion():
    assert pixel_need(FULL_HEADER, BUNDLED) == ""
    assert pixel_need(FULL_HEADER, BUNDLED, "all") == "--pixels all"
    assert pixel_need({"image_type": "ORIGINAL", "orientation": "SAG"}, BUNDLED) == ""  # one physics field suffices
    # timing alone (a NIfTI without its sidecar): the header forest does not judge it, the pixels may
    assert "timing alone" in pixel_need({"echo_time": 3.0, "orientation": "SAG"}, BUNDLED)


@pytest.mark.parametrize("header, fusion, why", [
    ({"orientation": "AX"}, BUNDLED, "acquisition physics"),  # geometry only: the CNN decides the label
    ({**FULL_HEADER, "echo_time": None, "repetition_time": float("nan"), "image_type": "", "scanning_sequence": None},
     BUNDLED, "acquisition physics"),  # missing values of every kind
    (FULL_HEADER, {**BUNDLED, "w_cnn": 0.3}, "w_cnn"),  # the CNN moves the fused probabilities
    (FULL_HEADER, {"w_forest": 1.0}, "w_cnn"),  # the fusion's default weight is 1
    (FULL_HEADER, {**BUNDLED, "disagree_confidence": 0.9}, "pixels_header_disagree"),
    ({**FULL_HEADER, "orientation": "NA"}, BUNDLED, "orientation"),  # the CNN's plane is published
    ({**FULL_HEADER, "orientation": None}, BUNDLED, "orientation"),
])
def test_pixels_are_needed_where_they_can_change_a_published_column(header, fusion, why):
    assert why in pixel_need(header, fusion)


def test_mode_is_validated():
    assert PixelMode.parse("ALL") is PixelMode.ALL
    with pytest.raises(ValueError, match="auto, all"):
        PixelMode.parse("some")


def test_cli_rejects_an_unknown_mode(data_root, tmp_path, run_cli):
    result = run_cli("annotate", data_root / "mri" / "dicom" / "dcm_qa", "--out", tmp_path / "a.csv",
                     "--pixels", "most", "-q")
    assert result.exit_code == 2
    assert "--pixels must be one of auto, all" in result.output


def _strip_skipped(flags: str) -> str:
    return ";".join(f for f in str(flags).split(";") if f and f != PIXELS_SKIPPED_FLAG)


@needs_bundle
def test_auto_publishes_what_all_publishes(data_root):
    from radclass.models.bundle import ModelBundle
    from radclass.pipeline.annotate import annotate_paths

    paths = [data_root / p for p in SUBSET if (data_root / p).exists()]
    auto = annotate_paths(paths, progress=False, workers=1)
    full = annotate_paths(paths, progress=False, workers=1, pixels="all")
    assert len(auto) == len(full) and auto["n_files"].sum() == full["n_files"].sum()
    skipped = auto["flags"].fillna("").str.split(";").map(lambda f: PIXELS_SKIPPED_FLAG in f)
    mr = auto["status"].isin(["ok", "unknown"])
    assert skipped.sum() >= 0.5 * mr.sum()  # most MR series have a full header: the point of auto
    assert not full["flags"].fillna("").str.contains(PIXELS_SKIPPED_FLAG).any()
    fusion = ModelBundle.load().fusion
    assert fusion.get("w_cnn") == 0.0, "this test assumes the bundled fusion weight"
    # the pixels that were skipped changed nothing else: every other column is identical
    same = [c for c in auto.columns if c not in (*CNN_COLUMNS, "flags")]
    pd.testing.assert_frame_equal(auto[same].astype(str), full[same].astype(str))
    assert auto["flags"].fillna("").map(_strip_skipped).tolist() == full["flags"].fillna("").map(_strip_skipped).tolist()
    assert (auto.loc[skipped, "cnn_sequence"].fillna("") == "").all()
    assert (auto.loc[skipped, "vote_sequence"].fillna("") == "").all()
    # the decoded ones keep the CNN's opinion, and series without acquisition physics are among them
    decoded = mr & ~skipped & (full["cnn_sequence"].fillna("") != "")
    assert decoded.any()
    assert (auto.loc[decoded, CNN_COLUMNS].astype(str) == full.loc[decoded, CNN_COLUMNS].astype(str)).all().all()
    uninformative = auto["flags"].fillna("").str.contains("header_uninformative")
    assert uninformative.any() and not (uninformative & skipped).any()
