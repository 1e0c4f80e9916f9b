"""The decision policy (radclass.models.decision): hand-computed cases, and one policy for training and inference."""

from __future__ import annotations

import numpy as np
import pytest

from radclass.models import decision
from radclass.models.decision import (
    Annotation,
    Evidence,
    PlaneSource,
    SeriesFacts,
    abstention_threshold,
    decide_series,
    fuse_evidence,
    not_classified,
)
from radclass.taxonomy import Contrast, Flag, Plane, SequenceClass, Status

CLASSES = ("T1", "T2", "DWI")
ORIENT = ("AX", "COR", "SAG")
FUSION = {"w_cnn": 1.0, "w_forest": 1.0, "threshold_header": 0.5, "threshold_pixels": 0.9}


AXIAL = SeriesFacts(plane="AX")


def _decide(evidence: Evidence, facts: SeriesFacts = AXIAL, **fusion) -> Annotation:
    return decide_series(evidence, facts, classes=CLASSES, orient_classes=ORIENT, fusion={**FUSION, **fusion})


def test_training_and_annotate_use_the_one_policy():
    import radclass.pipeline.annotate as annotate
    import radclass.pipeline.pixel_policy as pixel_policy
    import radclass.training.mri_bundle as mri_bundle

    assert annotate.decide_series is decision.decide_series
    assert mri_bundle.fuse_evidence is decision.fuse_evidence is decision.decide_series.__globals__["fuse_evidence"]
    assert mri_bundle.abstention_threshold is decision.abstention_threshold
    assert mri_bundle.header_forest_votes is annotate.header_forest_votes is decision.header_forest_votes
    assert pixel_policy.header_is_informative is decision.header_is_informative
    import radclass.training.timing_model as timing_model

    assert timing_model.class_threshold_decision is decision.class_threshold_decision
    for name in ("_decide_series", "abstention_threshold", "_orientation", "_contrast", "ANNOTATION_COLUMNS"):
        assert not hasattr(annotate, name), f"pipeline.annotate still defines {name}"


def test_training_scores_with_the_bundle_policy():
    """mri_bundle._fused gives the label and confidence decide_series gives (temperature included)."""
    from radclass.taxonomy import SEQUENCES
    from radclass.training.mri_bundle import _fused

    rng = np.random.default_rng(0)
    slices = rng.dirichlet(np.ones(len(SEQUENCES)), size=3).astype(np.float32)
    forest = rng.dirichlet(np.ones(len(SEQUENCES))).astype(np.float32)
    fusion = {**FUSION, "temperature": 0.5, "threshold_header": 0.0}
    pred, conf = _fused([slices, None, None], [forest, forest, None], fusion)
    a = decide_series(
        Evidence(slices, None, forest), SeriesFacts(plane="AX"), classes=SEQUENCES, orient_classes=ORIENT, fusion=fusion
    )
    assert (pred[0], conf[0]) == (a.sequence, pytest.approx(a.confidence))
    assert pred[1] == SEQUENCES[int(np.argmax(forest))] and (pred[2], conf[2]) == ("", 0.0)


def test_fusion_and_thresholds_follow_the_bundle():
    slices = np.array([[0.6, 0.3, 0.1]])
    forest = np.array([0.2, 0.7, 0.1])
    expected = np.array([0.6 * 0.2, 0.3 * 0.7, 0.1 * 0.1])
    assert fuse_evidence(slices, forest, {}) == pytest.approx(expected / expected.sum(), abs=2e-3)
    assert fuse_evidence(slices, forest, {"w_cnn": 0.0}) == pytest.approx(forest, abs=2e-3)
    assert abstention_threshold(FUSION, True) == 0.5 and abstention_threshold(FUSION, False) == 0.9
    assert abstention_threshold({"threshold": 0.3}, False) == 0.3 and abstention_threshold({}, True) == 0.5
    assert abstention_threshold(FUSION, True, override=0.1) == 0.1


def test_a_confident_header_decides_with_the_header_plane():
    a = _decide(Evidence(forest_proba=np.array([0.9, 0.05, 0.05]), pixels_skipped=True))
    assert (a.status, a.sequence, a.plane, a.plane_source) == (Status.OK, SequenceClass.T1, "AX", PlaneSource.HEADER)
    assert a.contrast is Contrast.PRE and a.reason == "" and a.flags == (Flag.PIXELS_SKIPPED,)
    assert a.confidence == pytest.approx(0.9, abs=1e-3)
    assert a.opinions is not None and a.opinions.vote_sequence is None and a.opinions.cnn_sequence == ""
    assert [c for c, _ in a.opinions.proba] == list(CLASSES)


def test_abstains_below_the_threshold_and_says_why():
    a = _decide(Evidence(forest_proba=np.array([0.4, 0.35, 0.25])))
    assert (a.status, a.sequence, a.contrast) == (Status.UNKNOWN, "UNKNOWN", Contrast.NA)
    assert a.reason == "confidence 0.40 below 0.50 (best: T1)"
    assert Flag.NO_USABLE_PIXELS in a.flags


def test_pixels_only_series_gets_the_cnn_plane_and_flags():
    slices = np.array([[0.05, 0.05, 0.9], [0.1, 0.0, 0.9]])
    orient = np.array([[0.1, 0.8, 0.1], [0.2, 0.7, 0.1]])
    a = _decide(Evidence(slices, orient), SeriesFacts(plane=Plane.NA), threshold_pixels=0.8)
    assert (a.status, a.sequence, a.plane, a.plane_source) == (Status.OK, "DWI", "COR", PlaneSource.PIXELS)
    assert a.flags == (Flag.HEADER_UNINFORMATIVE, Flag.ORIENTATION_FROM_PIXELS)
    assert a.contrast is Contrast.NONE and a.opinions.vote_sequence == "DWI"
    # The header geometry is never overridden nor flagged by the pixel guess.
    b = _decide(Evidence(slices, orient), SeriesFacts(plane=Plane.MIXED))
    assert (b.plane, b.plane_source) == ("MIXED", PlaneSource.HEADER) and Flag.ORIENTATION_FROM_PIXELS not in b.flags


def test_contrast_agent_rules_and_description_disagreement():
    forest = np.array([0.9, 0.05, 0.05])
    a = _decide(Evidence(forest_proba=forest), SeriesFacts(plane="AX", contrast_agent=True, rule_sequence="T2"))
    assert a.contrast is Contrast.POST and Flag.DESCRIPTION_DISAGREES in a.flags
    assert a.opinions.rule_sequence == "T2"
    dwi = _decide(Evidence(forest_proba=np.array([0.05, 0.05, 0.9])), SeriesFacts(plane="AX", contrast_agent=True))
    assert dwi.contrast is Contrast.NONE and dwi.opinions.rule_sequence is None  # not anatomical: no 'post'


def test_pixels_contradict_the_header_only_at_a_validated_level():
    slices = np.array([[0.05, 0.9, 0.05]] * 3)
    forest = np.array([0.9, 0.05, 0.05])
    assert Flag.PIXELS_HEADER_DISAGREE not in _decide(Evidence(slices, None, forest)).flags
    flagged = _decide(Evidence(slices, None, forest), disagree_confidence=0.8)
    assert Flag.PIXELS_HEADER_DISAGREE in flagged.flags
    assert Flag.PIXELS_HEADER_DISAGREE not in _decide(Evidence(slices, None, forest), disagree_confidence=0.95).flags


def test_nothing_to_classify_is_an_error_keeping_the_series_flags():
    a = _decide(Evidence(pixel_error="no pixel data"), SeriesFacts(plane="SAG", flags=(Flag.NO_PIXELS,)))
    assert (a.status, a.sequence, a.confidence, a.plane_source) == (Status.ERROR, "UNKNOWN", 0.0, PlaneSource.HEADER)
    assert a.reason == "nothing to classify: no pixel data and no acquisition header"
    assert a.flags == (Flag.NO_PIXELS,) and a.opinions is None
    withheld = Evidence(np.ones((2, 3)) / 3, None, None).without_pixels("set aside")
    assert not withheld.has_pixels and withheld.pixel_error == "set aside"


def test_annotation_validates_itself():
    with pytest.raises(ValueError, match="status ok needs a sequence"):
        Annotation(Status.OK, "", SequenceClass.UNKNOWN, "AX", PlaneSource.HEADER, Contrast.NA, 0.9, ())
    with pytest.raises(ValueError, match="between 0 and 1"):
        Annotation(Status.UNKNOWN, "", SequenceClass.UNKNOWN, "AX", PlaneSource.HEADER, Contrast.NA, 1.5, ())
    skipped = not_classified("modality CT: not an MR series", Plane.AX)
    assert (skipped.status, skipped.sequence, skipped.confidence, skipped.plane) == (Status.SKIPPED, None, None, "AX")


def test_a_bundle_class_outside_the_taxonomy_stays_a_string():
    a = decide_series(
        Evidence(forest_proba=np.array([0.1, 0.9])),
        SeriesFacts(plane="AX"),
        classes=("T1", "T1_MPRAGE"),
        orient_classes=ORIENT,
        fusion=FUSION,
    )
    assert a.sequence == "T1_MPRAGE" and a.contrast is Contrast.NA


def _signature(evidence: Evidence, thresholds: dict[str, float]) -> Annotation:
    return decide_series(
        evidence, AXIAL, classes=CLASSES, orient_classes=ORIENT, fusion=FUSION, signature_thresholds=thresholds
    )


def test_pixel_signature_answers_a_headerless_series_only_above_its_class_threshold():
    sig = np.array([0.1, 0.85, 0.05], np.float32)
    a = _signature(Evidence(signature_proba=sig), {"T2": 0.8})
    assert (a.status, a.sequence, a.confidence) == (Status.OK, "T2", pytest.approx(0.85))
    assert Flag.SEQUENCE_FROM_PIXELS in a.flags and a.contrast is Contrast.PRE
    # below the class's threshold, or a class without a validated threshold: UNKNOWN with the reason
    b = _signature(Evidence(signature_proba=sig), {"T2": 0.9})
    assert (b.status, b.sequence) == (Status.UNKNOWN, "UNKNOWN") and "best: T2" in b.reason
    c = _signature(Evidence(signature_proba=sig), {"T1": 0.1})
    assert c.status is Status.UNKNOWN and Flag.SEQUENCE_FROM_PIXELS not in c.flags


def test_pixel_signature_never_overrides_an_informative_header():
    a = _signature(
        Evidence(forest_proba=np.array([0.9, 0.05, 0.05]), signature_proba=np.array([0.0, 1.0, 0.0])), {"T2": 0.1}
    )
    assert a.sequence == "T1" and Flag.SEQUENCE_FROM_PIXELS not in a.flags


def test_non_brain_withholds_the_pixel_signature_too():
    ev = Evidence(signature_proba=np.array([0.0, 1.0, 0.0])).without_pixels("non-brain series")
    assert ev.signature_proba is None
    assert _signature(ev, {"T2": 0.1}).status is Status.ERROR


# --- the gadolinium test ------------------------------------------------------------------------------


from radclass.models.bundle import ContrastEnhancement  # noqa: E402

GADOLINIUM = ContrastEnhancement(threshold=1.5, flatten=8.0, min_slices=16, precision=0.8)
T1_CLASSES = ("T1", "T1C", "T2")


def _t1(enhancement: float | None, facts: SeriesFacts = AXIAL) -> Annotation:
    evidence = Evidence(forest_proba=np.array([0.95, 0.03, 0.02]), enhancement=enhancement)
    return decide_series(
        evidence, facts, classes=T1_CLASSES, orient_classes=ORIENT, fusion=FUSION, enhancement=GADOLINIUM
    )


def test_enhancement_turns_a_t1_without_agent_into_t1c():
    a = _t1(1.62)
    assert a.sequence == SequenceClass.T1C and a.contrast == Contrast.POST
    assert a.confidence == pytest.approx(0.8)  # capped at the test's out-of-fold precision
    assert "contrast_from_pixels:enhancement 1.62 >= 1.50" in a.flags


@pytest.mark.parametrize(
    ("enhancement", "facts"),
    [
        (1.49, AXIAL),  # below the threshold
        (None, AXIAL),  # not measured
        (2.0, SeriesFacts(plane="AX", contrast_agent=True)),  # the header already answers
    ],
)
def test_enhancement_leaves_t1_alone(enhancement, facts):
    a = _t1(enhancement, facts)
    assert a.sequence == SequenceClass.T1
    assert not any(str(f).startswith("contrast_from_pixels") for f in a.flags)
    assert a.confidence == pytest.approx(0.95, abs=1e-3)


def test_a_t1_the_test_did_not_measure_says_so_and_why():
    evidence = Evidence(forest_proba=np.array([0.95, 0.03, 0.02]), enhancement_skipped="12 slices, fewer than 16")
    a = decide_series(evidence, AXIAL, classes=T1_CLASSES, orient_classes=ORIENT, fusion=FUSION, enhancement=GADOLINIUM)
    assert a.sequence == SequenceClass.T1 and "contrast_unchecked:12 slices, fewer than 16" in map(str, a.flags)
    unchecked = [str(f) for f in _t1(None).flags if str(f).startswith("contrast_unchecked")]
    assert unchecked == ["contrast_unchecked:not measured"]
    for checked in (_t1(1.49), _t1(None, SeriesFacts(plane="AX", contrast_agent=True))):  # measured; agent named
        assert not any(str(f).startswith("contrast_unchecked") for f in checked.flags)
    t1 = Evidence(forest_proba=np.array([0.95, 0.03, 0.02]))  # a bundle without the test: nothing to say
    plain = decide_series(t1, AXIAL, classes=T1_CLASSES, orient_classes=ORIENT, fusion=FUSION)
    assert not any(str(f).startswith("contrast_unchecked") for f in plain.flags)


def test_enhancement_never_relabels_other_classes_or_without_a_test():
    t2 = Evidence(forest_proba=np.array([0.02, 0.03, 0.95]), enhancement=3.0)
    a = decide_series(t2, AXIAL, classes=T1_CLASSES, orient_classes=ORIENT, fusion=FUSION, enhancement=GADOLINIUM)
    assert a.sequence == SequenceClass.T2
    t1 = Evidence(forest_proba=np.array([0.95, 0.03, 0.02]), enhancement=3.0)
    assert decide_series(t1, AXIAL, classes=T1_CLASSES, orient_classes=ORIENT, fusion=FUSION).sequence == "T1"


def test_a_t1_description_does_not_disagree_with_pixel_t1c():
    a = _t1(1.7, SeriesFacts(plane="AX", rule_sequence="T1"))
    assert a.sequence == SequenceClass.T1C
    assert Flag.DESCRIPTION_DISAGREES not in a.flags
    b = _t1(1.7, SeriesFacts(plane="AX", rule_sequence="T2"))
    assert Flag.DESCRIPTION_DISAGREES in b.flags


# --- the timing model (headers with TR/TE alone) -------------------------------------------------------


def _timed(proba, thresholds, enhancement: float | None = None, classes=CLASSES) -> Annotation:
    evidence = Evidence(timing_proba=np.asarray(proba, np.float32), enhancement=enhancement)
    return decide_series(
        evidence,
        AXIAL,
        classes=classes,
        orient_classes=ORIENT,
        fusion=FUSION,
        timing_thresholds=thresholds,
        enhancement=GADOLINIUM,
    )


def test_timing_answers_only_above_its_class_threshold():
    a = _timed([0.1, 0.1, 0.8], {"DWI": 0.75})
    assert (a.status, a.sequence) == (Status.OK, "DWI") and Flag.SEQUENCE_FROM_TIMING in a.flags
    assert Flag.HEADER_UNINFORMATIVE not in a.flags  # a header model voted
    b = _timed([0.1, 0.1, 0.8], {"DWI": 0.85})
    assert b.status is Status.UNKNOWN and "below 0.85 (best: DWI)" in b.reason
    c = _timed([0.1, 0.8, 0.1], {"DWI": 0.5})  # T2 has no validated threshold: it abstains
    assert c.status is Status.UNKNOWN and Flag.SEQUENCE_FROM_TIMING not in c.flags


def test_timing_t1_goes_through_the_gadolinium_test():
    a = _timed([0.9, 0.05, 0.05], {"T1": 0.5}, enhancement=1.7, classes=T1_CLASSES)
    assert a.sequence == SequenceClass.T1C and Flag.SEQUENCE_FROM_TIMING in a.flags
    assert a.confidence == pytest.approx(0.8)


def test_without_pixels_keeps_the_timing_vote():
    ev = Evidence(timing_proba=np.array([0.0, 0.0, 1.0])).without_pixels("non-brain series")
    assert ev.timing_proba is not None and ev.has_header


def test_timing_only_headers_are_not_the_forests():
    timing = {"repetition_time": 3000.0, "echo_time": 30.0}
    assert decision.header_is_timing_only(timing) and not decision.header_forest_votes(timing)
    full = {**timing, "image_type": "ORIGINAL\\PRIMARY"}
    assert decision.header_forest_votes(full) and not decision.header_is_timing_only(full)
    assert not decision.header_is_timing_only({"pixel_spacing": "1\\1"})


# --- the fluid test (the timing model's T2 family: T2 or FLAIR) ----------------------------------------

from radclass.models.bundle import BundleError, FluidContrast, GreyWhiteContrast, PixelOnlyReadings  # noqa: E402

FLUID = FluidContrast(measure="fractions", flair_below=0.0, t2_from=0.2, min_slices=16, precision=0.7)
FAMILY = {"T2": ("T2", "FLAIR")}


def _family(
    fluid: float | None, test: FluidContrast | None = FLUID, error: str = "", proba=(0.05, 0.9, 0.05)
) -> Annotation:
    """The decision on a timing-only series whose timing model says ``proba`` (T2 by default, the T2 family)."""
    evidence = Evidence(timing_proba=np.array(proba, np.float32), fluid=fluid, pixel_error=error)
    return decide_series(
        evidence,
        AXIAL,
        classes=CLASSES,
        orient_classes=ORIENT,
        fusion=FUSION,
        timing_thresholds={"T2": 0.8, "DWI": 0.8},
        timing_families=FAMILY,
        fluid=test,
    )


def test_bright_fluid_is_t2_and_dark_fluid_flair_with_a_capped_confidence():
    t2, flair = _family(0.5), _family(-1.2)
    assert (t2.status, t2.sequence, flair.sequence) == (Status.OK, SequenceClass.T2, SequenceClass.FLAIR)
    for a in (t2, flair):
        assert Flag.SEQUENCE_FROM_TIMING in a.flags and a.confidence == pytest.approx(0.7)
        assert any(str(f).startswith("fluid_from_pixels:fluid") for f in a.flags)
    assert flair.contrast is Contrast.PRE  # the default of an anatomical sequence without an agent


def test_the_fluid_band_and_a_missing_reading_abstain_with_their_reason():
    band = _family(0.1)
    assert band.status is Status.UNKNOWN and "lies in the band [0.00, 0.20)" in band.reason
    assert Flag.SEQUENCE_FROM_TIMING not in band.flags
    unmeasured = _family(None, error="fluid not measured (3 slices)")
    assert unmeasured.status is Status.UNKNOWN and unmeasured.reason.endswith("fluid not measured (3 slices)")
    without = _family(0.5, test=None)
    assert without.status is Status.UNKNOWN and "no test that tells them apart" in without.reason


def test_a_class_standing_for_itself_skips_the_fluid_test():
    a = _family(0.5, proba=(0.05, 0.05, 0.9))
    assert a.sequence == "DWI" and not any(str(f).startswith("fluid_from_pixels") for f in a.flags)


def test_the_fluid_table_validates_itself():
    assert FLUID.call(-0.1) == "FLAIR" and FLUID.call(0.2) == "T2" and FLUID.call(0.1) is None
    with pytest.raises(BundleError, match="must be one of"):
        FluidContrast(measure="nope", flair_below=0.0, t2_from=0.1)
    with pytest.raises(BundleError, match="at least its FLAIR bound"):
        FluidContrast(measure="tails", flair_below=0.3, t2_from=0.1)
    with pytest.raises(BundleError, match="no 't2_from'"):
        FluidContrast.from_meta({"measure": "tails", "flair_below": 0.1})


PIXEL_ONLY = FluidContrast(
    measure="fractions", flair_below=0.0, t2_from=0.2, precision=0.7, pixel_only_voxel_mm=1.2, pixel_only_precision=0.6
)


PIXEL_ONLY_OFF = FluidContrast(measure="fractions", flair_below=0.0, t2_from=0.2)  # makes no pixel-only T2 calls
GREY_WHITE = GreyWhiteContrast(
    measure="deep6_skew", t1_below=-0.05, flair_from=0.1, pixel_only_voxel_mm=1.2, precision=0.7
)


def _pixel_only(
    fluid: float | None,
    test: FluidContrast | None = PIXEL_ONLY,
    forest=None,
    *,
    grey_white: float | None = None,
    in_scope: bool = True,
    gw_test: GreyWhiteContrast | None = GREY_WHITE,
    enhancement: float | None = None,
) -> Annotation:
    """The decision on a series with no acquisition header (a CNN that abstains) and its pixel-only readings."""
    readings = None if fluid is None else PixelOnlyReadings(fluid, in_scope, grey_white, enhancement)
    evidence = Evidence(
        slice_proba=np.array([[0.4, 0.3, 0.3]], np.float32),
        forest_proba=None if forest is None else np.array(forest, np.float32),
        fluid=fluid,
        enhancement=enhancement,
        pixel_only=readings,
    )
    measured = enhancement is not None  # the gadolinium test needs T1C among the classes
    return decide_series(
        evidence,
        AXIAL,
        classes=T1_CLASSES if measured else CLASSES,
        orient_classes=ORIENT,
        fusion=FUSION,
        fluid=test,
        grey_white=gw_test,
        enhancement=GADOLINIUM if measured else None,
    )


def test_bright_fluid_names_a_headerless_volume_t2_and_dark_fluid_says_why_not():
    t2 = _pixel_only(0.5)
    assert (t2.status, t2.sequence, t2.confidence) == (Status.OK, SequenceClass.T2, pytest.approx(0.6))
    assert Flag.SEQUENCE_FROM_PIXELS in t2.flags and "fluid_from_pixels:fluid 0.50 >= 0.20" in map(str, t2.flags)
    assert _pixel_only(0.5, in_scope=False).status is Status.UNKNOWN  # too coarse for the fluid test's calls
    dark = _pixel_only(-1.0)
    assert dark.status is Status.UNKNOWN and "a T1, FLAIR or PD, which the pixels alone" in dark.reason
    band = _pixel_only(0.1, grey_white=-0.5)  # between the fluid bounds: no grey/white call either
    assert band.status is Status.UNKNOWN and "fluid test's band" in band.reason
    assert _pixel_only(None).status is Status.UNKNOWN and "fluid" not in _pixel_only(None).reason
    # a header the forest judged decides as before: the reading of a pixel-only call is not used
    judged = _pixel_only(0.5, forest=(0.1, 0.1, 0.8))
    assert judged.sequence == "DWI" and Flag.SEQUENCE_FROM_PIXELS not in judged.flags


def test_dark_fluid_and_grey_white_name_a_headerless_t1_or_flair():
    t1 = _pixel_only(-1.0, grey_white=-0.2)
    assert (t1.status, t1.sequence, t1.confidence) == (Status.OK, "T1", pytest.approx(0.7))
    assert Flag.SEQUENCE_FROM_PIXELS in t1.flags
    assert "grey_white_from_pixels:fluid -1.00 < 0.00, grey/white -0.200 < -0.050" in map(str, t1.flags)
    flair = _pixel_only(-1.0, grey_white=0.3)
    assert flair.sequence == "FLAIR" and "grey_white_from_pixels" in ";".join(map(str, flair.flags))
    band = _pixel_only(-1.0, grey_white=0.0)
    assert band.status is Status.UNKNOWN and "in the grey/white test's band (-0.050..0.100)" in band.reason
    # bright fluid is never a T1 or FLAIR call, whatever the parenchyma reads
    assert _pixel_only(0.5, PIXEL_ONLY_OFF, grey_white=-0.5).status is Status.UNKNOWN
    assert _pixel_only(-1.0, grey_white=-0.2, gw_test=None).status is Status.UNKNOWN


def test_a_pixel_only_t1_goes_on_to_the_gadolinium_test():
    enhanced = _pixel_only(-1.0, grey_white=-0.2, enhancement=GADOLINIUM.threshold + 0.5)
    assert enhanced.sequence == "T1C" and enhanced.confidence == pytest.approx(min(0.7, GADOLINIUM.precision))
    flags = ";".join(map(str, enhanced.flags))
    assert "grey_white_from_pixels" in flags and "contrast_from_pixels" in flags
    plain = _pixel_only(-1.0, grey_white=-0.2, enhancement=GADOLINIUM.threshold - 0.5)
    assert plain.sequence == "T1" and "contrast_from_pixels" not in ";".join(map(str, plain.flags))


def test_the_grey_white_table_validates_itself():
    assert GREY_WHITE.call(-0.1) == "T1" and GREY_WHITE.call(0.1) == "FLAIR" and GREY_WHITE.call(0.0) is None
    assert GREY_WHITE.pixel_only_refusal((0.9, 0.9, 5.0)) is None and "coarser" in GREY_WHITE.pixel_only_refusal((2.0, 2.0, 2.0))
    off = GreyWhiteContrast(measure="deep4_skew", t1_below=0.0, flair_from=0.1)
    assert "makes no pixel-only calls" in off.pixel_only_refusal((1.0, 1.0, 1.0))
    with pytest.raises(BundleError, match="must be one of"):
        GreyWhiteContrast(measure="nope", t1_below=0.0, flair_from=0.1)
    with pytest.raises(BundleError, match="at least its T1 bound"):
        GreyWhiteContrast(measure="deep4_skew", t1_below=0.3, flair_from=0.1)
    with pytest.raises(BundleError, match="precision must lie"):
        GreyWhiteContrast(measure="deep4_skew", t1_below=0.0, flair_from=0.1, precision=1.5)
    with pytest.raises(BundleError, match="no 'flair_from'"):
        GreyWhiteContrast.from_meta({"measure": "deep4_skew", "t1_below": 0.1})


def test_pixel_only_scope_is_the_structural_voxel():
    assert PIXEL_ONLY.pixel_only_refusal((0.5, 0.5, 4.0)) is None
    assert "coarser than a structural scan's (1.2 mm)" in PIXEL_ONLY.pixel_only_refusal((2.0, 2.0, 2.0))
    assert "no voxel size" in PIXEL_ONLY.pixel_only_refusal(None)
    assert "no pixel-only calls" in FLUID.pixel_only_refusal((1.0, 1.0, 1.0))
    with pytest.raises(BundleError, match="pixel_only_voxel_mm must be a positive"):
        FluidContrast(measure="tails", flair_below=0.0, t2_from=0.1, pixel_only_voxel_mm=-1.0)
    with pytest.raises(BundleError, match="pixel_only_precision must lie"):
        FluidContrast(measure="tails", flair_below=0.0, t2_from=0.1, pixel_only_precision=0.0)
    table = FluidContrast.from_meta({"measure": "tails", "flair_below": 0.0, "t2_from": 0.1, "pixel_only_voxel_mm": 1})
    assert table.pixel_only_voxel_mm == 1.0 and table.pixel_only_precision == 0.5


def test_a_headerless_time_series_is_a_dwi_only_when_its_frames_show_diffusion():
    from radclass.features.diffusion import DiffusionReading
    from radclass.models.bundle import DiffusionTest

    test = DiffusionTest(attenuated_below=0.6, free_water_below=0.8, precision=0.84)

    def run(reading: DiffusionReading, forest=None) -> Annotation:
        evidence = Evidence(forest_proba=None if forest is None else np.array(forest), diffusion=reading)
        return decide_series(evidence, AXIAL, classes=CLASSES, orient_classes=ORIENT, fusion=FUSION, diffusion=test)

    dwi = run(DiffusionReading(volumes=3, reference=0, weighted=2, attenuation=0.3, free_water=0.4))
    assert (dwi.status, dwi.sequence, dwi.confidence) == (Status.OK, "DWI", pytest.approx(0.84))
    flags = list(map(str, dwi.flags))
    assert Flag.SEQUENCE_FROM_PIXELS in dwi.flags
    assert "diffusion_from_pixels:2 of 3 frames at 0.30 < 0.60 of the brightest, free water 0.40 < 0.80" in flags
    flat = run(DiffusionReading(volumes=8, reference=3, weighted=0, attenuation=0.97, free_water=None))
    assert flat.status is Status.UNKNOWN and "not diffusion-weighted" in flat.reason
    m0 = run(DiffusionReading(volumes=3, reference=0, weighted=2, attenuation=0.16, free_water=1.7))
    assert m0.status is Status.UNKNOWN and "free water keeps 1.70" in m0.reason
    # a header the forest judged decides as before: the frames are not read for a call
    judged = run(DiffusionReading(3, 0, 2, 0.3, 0.4), forest=(0.8, 0.1, 0.1))
    assert judged.sequence == "T1" and Flag.SEQUENCE_FROM_PIXELS not in judged.flags


def test_the_diffusion_test_answers_a_time_series_the_timing_model_abstains_on():
    from radclass.features.diffusion import DiffusionReading
    from radclass.models.bundle import DiffusionTest

    test = DiffusionTest(attenuated_below=0.6, free_water_below=0.8, precision=0.84)

    def timed(proba, reading: DiffusionReading) -> Annotation:
        evidence = Evidence(timing_proba=np.asarray(proba, np.float32), diffusion=reading)
        return decide_series(
            evidence, AXIAL, classes=CLASSES, orient_classes=ORIENT, fusion=FUSION,
            timing_thresholds={"DWI": 0.9}, diffusion=test,
        )

    dwi = DiffusionReading(volumes=3, reference=0, weighted=2, attenuation=0.37, free_water=0.18)
    rescued = timed([0.05, 0.08, 0.87], dwi)  # the timing model's DWI is below its threshold: the frames decide
    assert (rescued.status, rescued.sequence, rescued.confidence) == (Status.OK, "DWI", pytest.approx(0.84))
    assert Flag.SEQUENCE_FROM_PIXELS in rescued.flags and Flag.SEQUENCE_FROM_TIMING not in rescued.flags
    flat = DiffusionReading(volumes=4, reference=1, weighted=0, attenuation=0.99, free_water=None)
    kept = timed([0.05, 0.08, 0.87], flat)
    assert kept.status is Status.UNKNOWN and "below 0.90 (best: DWI)" in kept.reason
    assert "not diffusion-weighted" in kept.reason
    answered = timed([0.02, 0.03, 0.95], flat)  # the timing model answers: the frames are not asked
    assert answered.sequence == "DWI" and Flag.SEQUENCE_FROM_TIMING in answered.flags
