"""The anatomy gate (``radclass.anatomy``): rules, the head-shape measure on synthetic body-like inputs, the
gate on the pool's real body and brain series, and its effect on ``annotate_paths``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

from radclass.anatomy import Anatomy, AnatomyDecision, AnatomySource
from radclass.anatomy.gate import AnatomyGate, finish_row
from radclass.anatomy.rules import AnatomyRules, AnatomyRulesError
from radclass.anatomy.shape import _opening, foreground, measure_series, measure_slice, percentile_99
from radclass.features.morphology import fill_holes
from radclass.pipeline.scan import scan

#: Pool MR series whose anatomy is not the brain (MANIFEST ``anatomy``), and what the gate decides on each.
BODY_SERIES = {
    "mri/dicom/dicom2nifti/hitachi_anatomical_001": Anatomy.BODY,  # shoulder: leaves the field of view twice
    "liver/totalseg/example_mr_sm.nii.gz": Anatomy.BODY,  # abdomen: larger than a head
    "mri/nifti/body/sct_testing_data/errsm30_t2_cspine_crop.nii.gz": Anatomy.BODY,  # smaller than a head
    "mri/nifti/body/sct_testing_data/errsm30_t2s_uncropped_cspine.nii.gz": Anatomy.BODY,  # axial neck, wide
    "mri/nifti/body/ivadomed_data_testing/sub-unf01_T2star_cspine.nii.gz": Anatomy.BODY,
    # small-field pelvis: its tissue spans the field of view on both axes, so no slice shows an outline
    "mri/nifti/body/monai_testdata/test_0000_t2_tse_tra_4_prostate.nii.gz": Anatomy.UNKNOWN,
    "mri/nifti/body/ivadomed_data_testing/sub-unf01_T2w_cspine.nii.gz": Anatomy.BODY,  # 2.5x deeper than wide
}
BRAIN_SERIES = {
    "mri/dicom/dcm_qa_canon_61/3000_DTI_PA-ortho": AnatomySource.HEADER,  # BodyPartExamined
    "mri/nifti/nichart_demo/t1/Subj5_T1.nii.gz": AnatomySource.PIXELS,  # tightly cropped head
    "mri/nifti/open_ms_data/cross_sectional/MNI/patient07/"
    "FLAIR_N4_noneck_reduced_winsor_regtoFLAIR_brain_N4_regtoMNI.nii.gz": AnatomySource.PIXELS,
    "mri/dicom/dcm_qa/axasc35": AnatomySource.PIXELS,  # fMRI mosaic
}


def test_body_part_and_description_rules():
    gate = AnatomyGate(pixels=False)
    assert gate.from_header({"body_part": "c-spine"}) == AnatomyDecision(
        Anatomy.SPINE, AnatomySource.HEADER, "Body Part Examined c-spine")
    assert gate.from_header({"body_part": "KNIE"}).anatomy is Anatomy.LOWER_LIMB
    decided = gate.from_header({"body_part": "PARTIALBODY", "series_description": "t2_tse_sag_lws"})
    assert (decided.anatomy, decided.source) == (Anatomy.SPINE, AnatomySource.RULES)
    # the series text names two regions: undecided there, the study description decides
    decided = gate.from_header({"series_description": "MRA head neck", "study_description": "Brain"})
    assert decided.anatomy is Anatomy.BRAIN and "study description" in decided.reason
    assert gate.from_header({"series_description": "femoral head"}) is None  # BRAIN and LOWER_LIMB: ambiguous
    assert gate.from_header({"series_description": "T2 FLAIR ax", "protocol_name": "t1_mprage"}) is None
    assert gate.from_header({"study_description": "MRCP"}).anatomy is Anatomy.ABDOMEN
    assert gate.from_header({"series_description": "Ax DWI prostate"}).anatomy is Anatomy.PELVIS
    assert gate.from_header({"series_description": "cine_sax"}).anatomy is Anatomy.HEART


def test_pool_brain_descriptions_name_no_other_region(pool_scan, manifest):
    """No description or body part of the pool's brain MR series names a non-brain region."""
    gate = AnatomyGate(pixels=False)
    wrong = [(s.path, d.reason) for s in pool_scan.series if (d := gate.from_header(s.header)) and d.non_brain]
    body = {str(p) for p in manifest.loc[manifest["anatomy"] != "brain", "relpath"]}
    assert not [w for w in wrong if not any(b in w[0] for b in body)]


@pytest.mark.parametrize(("text", "message"), [
    ('[body_part]\nKNEE2 = ["KNEE"]', "'KNEE2' is not a region a rule can name"),
    ('[body_part]\nSPINE = ["HEAD"]\nBRAIN = ["HEAD"]', "listed under both SPINE and BRAIN"),
    ('[[description]]\nanatomy = "SPINE"\npattern = "(spine"', "not a valid regular expression"),
    ('[[description]]\npattern = "spine"', "needs both 'anatomy' and 'pattern'"),
    ("[body_part", "is not valid TOML"),
])
def test_rule_errors_are_sentences(text, message):
    with pytest.raises(AnatomyRulesError, match=message):
        AnatomyRules.from_toml(text)


def _ellipse(fov_mm: tuple[float, float], spacing: float, centre_mm: tuple[float, float],
             radii_mm: tuple[float, float], level: float = 300.0, seed: int = 0) -> np.ndarray:
    """A noisy slice holding one ellipse of tissue (row, column in mm) in a field of view of ``fov_mm``."""
    rows, cols = (int(round(f / spacing)) for f in fov_mm)
    y, x = np.mgrid[:rows, :cols] * spacing
    inside = ((y - centre_mm[0]) / radii_mm[0]) ** 2 + ((x - centre_mm[1]) / radii_mm[1]) ** 2 <= 1
    rng = np.random.default_rng(seed)
    return (inside * level * (0.8 + 0.2 * rng.random((rows, cols))) + 5 * rng.random((rows, cols))).astype(np.float32)


def _slices(fov_mm, spacing, centre_mm, radii_mm) -> list[np.ndarray]:
    return [_ellipse(fov_mm, spacing, centre_mm, radii_mm, seed=i) for i in range(3)]


# synthetic inputs: (slices, pixel spacing in mm, axial, head-like?)
SYNTHETIC = {
    "axial head 190 x 150 mm in 240 mm": (_slices((240, 240), 1.0, (120, 120), (95, 75)), 1.0, True, True),
    "sagittal head, the neck leaving at the bottom": (_slices((256, 256), 1.0, (150, 128), (110, 95)), 1.0, False,
                                                      True),
    "axial abdomen 340 x 250 mm in 400 mm": (_slices((400, 400), 1.5, (200, 200), (125, 170)), 1.5, True, False),
    "sagittal knee cut at top and bottom": (_slices((160, 160), 0.5, (80, 80), (120, 50)), 0.5, False, False),
    "sagittal spine leaving the field of view": (_slices((300, 300), 1.0, (150, 170), (200, 40)), 1.0, False,
                                                 False),
    "axial neck 110 x 130 mm": (_slices((200, 200), 1.0, (100, 100), (55, 65)), 1.0, True, False),
}


@pytest.mark.parametrize("name", list(SYNTHETIC))
def test_shape_measure_on_synthetic_inputs(name):
    slices, spacing, axial, head = SYNTHETIC[name]
    verdict = measure_series(slices, (spacing, spacing), axial)
    assert verdict is not None and verdict.head_like is head, verdict.reason


def test_shape_measure_declines_noise_and_empty_slices():
    rng = np.random.default_rng(1)
    assert measure_series([rng.random((128, 128)).astype(np.float32) for _ in range(3)], (2.0, 2.0), True) is None
    assert measure_series([np.zeros((64, 64), np.float32)], (1.0, 1.0), True) is None


def test_an_axial_section_far_deeper_than_wide_is_no_head():
    yy, xx = np.mgrid[:260, :260]
    for depth, width, head in ((130, 51, False), (195, 140, True)):  # mm: a neck cut front to back; a long head
        section = (((yy - 130) / (depth / 2)) ** 2 + ((xx - 130) / (width / 2)) ** 2 < 1).astype(np.float32)
        verdict = measure_series([section] * 3, (1.0, 1.0), True)
        assert verdict is not None and verdict.head_like is head, verdict.reason


def test_shape_measure_declines_tissue_across_the_field_of_view():
    """A small field of view inside a body (tissue edge to edge, the corners dark from the receive coil) shows
    no outline; the same tissue with air around it on one axis is measured."""
    yy, xx = np.mgrid[:200, :200]
    body = ((yy - 99.5) ** 2 + (xx - 99.5) ** 2 < 100**2).astype(np.float32)  # touches all four sides at one point
    spans = measure_slice(body, (0.9, 0.9))
    assert spans is not None and spans.spans_field and spans.fill <= 0.9
    assert measure_series([body] * 3, (0.9, 0.9), True) is None
    framed = np.zeros((200, 260), np.float32)
    framed[:, 30:230] = body  # air left and right
    verdict = measure_series([framed] * 3, (0.9, 0.9), True)
    assert verdict is not None and not verdict.largest.spans_field and verdict.head_like, verdict.reason


def _series(data_root: Path, rel: str):
    result = scan([data_root / rel], workers=1)
    return result.series[0]


def test_morphology_equals_scipy_on_random_and_real_masks(pool_scan):
    """The foreground's opening and hole filling (written for speed) give scipy's results, bit for bit."""
    from scipy import ndimage

    from radclass.io.pixels import load_slices

    rng = np.random.default_rng(3)
    masks = []
    for i in range(600):
        m = rng.random(tuple(rng.integers(1, 40, 2))) < rng.random()
        masks.append(ndimage.binary_dilation(m, iterations=2) if i % 3 == 0 else m)
    series = [s for s in pool_scan.series if s.format == "dicom" and "no_pixels" not in s.flags][::8]
    for s in series:
        try:
            slices = load_slices(s, 2)
        except Exception:
            continue
        for im in slices:
            im = np.nan_to_num(np.asarray(im, dtype=np.float32))
            im = im - im.min()
            masks.append(im > 0.1 * np.percentile(im, 99))
    assert len(masks) >= 600 + 30  # real slices of the pool, not only random masks
    for m in masks:
        assert np.array_equal(_opening(m), ndimage.binary_opening(m, iterations=1))
        assert np.array_equal(fill_holes(m), ndimage.binary_fill_holes(m))


def _foreground_reference(image: np.ndarray) -> np.ndarray | None:
    """The foreground as first written (numpy and scipy calls, no shortcut): what foreground() must equal."""
    from scipy import ndimage

    image = np.nan_to_num(np.asarray(image, dtype=np.float32))
    if image.ndim != 2 or min(image.shape) < 8:
        return None
    image = image - float(image.min())
    top = float(np.percentile(image, 99))
    if top <= 0:
        return None
    labels, n = ndimage.label(ndimage.binary_opening(image > 0.1 * top, iterations=1))
    if n == 0:
        return None
    sizes = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    return ndimage.binary_fill_holes(labels == (int(np.argmax(sizes)) + 1))


def _pool_slices(pool_scan, step: int) -> list[np.ndarray]:
    from radclass.io.pixels import load_slices

    out = []
    for s in [s for s in pool_scan.series if s.format == "dicom" and "no_pixels" not in s.flags][::step]:
        try:
            out.extend(load_slices(s, 2))
        except Exception:
            continue
    return out


def test_percentile_99_equals_numpy(pool_scan):
    """The 99th percentile without numpy's set-up is np.percentile's value, bit for bit."""
    rng = np.random.default_rng(5)
    arrays = [im - im.min() for im in _pool_slices(pool_scan, 8)]
    assert len(arrays) >= 30
    for i in range(1500):
        shape = tuple(rng.integers(1, 300, 2))
        scale = float(rng.choice([1e-3, 1.0, 4095.0, 1e6]))
        if i % 3 == 0:
            a = rng.random(shape) * scale
        elif i % 3 == 1:
            a = rng.integers(0, max(2, int(scale)), shape)
        else:
            a = np.where(rng.random(shape) < 0.7, 0, rng.normal(size=shape) * scale)
        arrays.append(a.astype(np.float32))
    arrays += [np.zeros((1, 1), np.float32), np.ones((1, 2), np.float32), np.arange(3, dtype=np.float32)[None]]
    for a in arrays:
        assert percentile_99(a) == float(np.percentile(a, 99)), a.shape


def test_foreground_equals_the_reference_formula(pool_scan):
    """foreground() and measure_slice() give what the plain numpy/scipy formula gives, on real pool slices,
    the same slices with a NaN or an infinity, noise and constant slices."""
    rng = np.random.default_rng(7)
    images = _pool_slices(pool_scan, 4)
    assert len(images) >= 60
    for im in images[:20]:
        for bad in (np.nan, np.inf, -np.inf):
            spoiled = im.copy()
            spoiled[len(im) // 2, 3] = bad
            images.append(spoiled)
    images += [rng.random((64, 64)).astype(np.float32), np.zeros((16, 16), np.float32), np.ones((8, 40))]
    images += [np.ones((4, 40), np.float32), np.zeros((3, 3, 3), np.float32), rng.integers(0, 9, (50, 70))]
    measured = 0
    for im in images:
        got, want = foreground(im), _foreground_reference(im)
        assert (got is None and want is None) or (got is not None and np.array_equal(got, want))
        shape = measure_slice(im, (0.9, 1.1))
        if want is None or want.mean() < 0.01:
            assert shape is None
            continue
        measured += 1
        assert shape is not None and shape.fill == float(want.mean())
        rows, cols = np.flatnonzero(want.any(axis=1)), np.flatnonzero(want.any(axis=0))
        assert shape.extent_mm == ((rows[-1] - rows[0] + 1) * 0.9, (cols[-1] - cols[0] + 1) * 1.1)
        edges = (want[0], want[-1], want[:, 0], want[:, -1])
        assert shape.sides_touched == sum(float(e.mean()) > 0.1 for e in edges)
    assert measured >= 50


def test_gate_on_pool_body_and_brain_series(data_root):
    gate = AnatomyGate()
    body = {rel: gate.decide(_series(data_root, rel)) for rel in BODY_SERIES}
    assert {rel: d.anatomy for rel, d in body.items()} == BODY_SERIES
    assert sum(d.non_brain for d in body.values()) == 6
    for rel, source in BRAIN_SERIES.items():
        decision = gate.decide(_series(data_root, rel))
        assert (decision.anatomy, decision.source) == (Anatomy.BRAIN, source), (rel, decision.reason)


def test_finish_row_flags_and_explains():
    spine = AnatomyDecision(Anatomy.SPINE, AnatomySource.RULES, "series description 'sag t2 lws' names SPINE")
    row = finish_row(spine, {"status": "error", "reason": "nothing to classify", "flags": "no_usable_pixels"})
    assert row["status"] == "unknown" and row["flags"] == "non_brain" and row["anatomy"] == "SPINE"
    assert "no pixel-model vote" in row["reason"] and "no acquisition physics" in row["reason"]
    brain = AnatomyDecision(Anatomy.BRAIN, AnatomySource.HEADER, "Body Part Examined HEAD")
    assert finish_row(brain, {"status": "ok", "flags": ""})["flags"] == ""
    with pytest.raises(ValueError, match="must name its source"):
        AnatomyDecision(Anatomy.SPINE, AnatomySource.NONE, "")


def test_annotate_gates_non_brain_series(data_root, tmp_path):
    """A real brain series relabelled BodyPartExamined KNEE loses its pixel vote but keeps its header-physics
    sequence; the pool's body series are flagged and get no brain class from the pixels."""
    from radclass.pipeline.annotate import annotate_paths

    knee = tmp_path / "knee"
    knee.mkdir()
    for f in sorted((data_root / "mri/dicom/dcm_qa_canon_61/3000_DTI_PA-ortho").iterdir()):
        ds = pydicom.dcmread(f)
        ds.BodyPartExamined = "KNEE"
        ds.save_as(knee / f.name)
    paths = [knee, data_root / "mri/dicom/dcm_qa_canon_61/3000_DTI_PA-ortho", data_root / "mri/nifti/body",
             data_root / "liver/totalseg/example_mr_sm.nii.gz",
             data_root / "mri/dicom/dicom2nifti/hitachi_anatomical_001"]
    table = annotate_paths(paths, progress=False, pixels="all")  # the CNN votes wherever it may
    flagged = table[table["flags"].fillna("").str.contains("non_brain")]
    knee_rows = table[table["path"].str.startswith(str(knee))]
    assert len(knee_rows) == 2 and set(knee_rows["anatomy"]) == {"LOWER_LIMB"}
    assert set(knee_rows["anatomy_source"]) == {"header"}
    assert knee_rows["cnn_sequence"].fillna("").eq("").all()  # no pixel vote
    assert set(knee_rows["sequence"]) <= {"DWI", "UNKNOWN"} and knee_rows["forest_sequence"].eq("DWI").all()
    brain_rows = table[table["path"].str.contains("3000_DTI_PA-ortho") & ~table["path"].str.startswith(str(knee))]
    assert set(brain_rows["anatomy"]) == {"BRAIN"} and brain_rows["cnn_sequence"].ne("").all()
    assert len(flagged) == 2 + 6  # the relabelled knee (2 sub-series) and 6 of the 7 pool body series (not the prostate)
    hitachi = table[table["path"].str.contains("hitachi")].iloc[0]
    assert hitachi["sequence"] == "PD" and hitachi["status"] == "ok"  # header physics (TR 4000, TE 12)
    for _, row in flagged[flagged["status"] == "unknown"].iterrows():
        assert "non-brain series" in row["reason"]


def test_gate_header_stage_remembered_per_texts_and_pickled_without():
    """from_header is remembered per (body part, series texts, study description): another body part with the
    same descriptions is decided anew; the gate sent to the workers carries no remembered decisions."""
    import pickle

    gate = AnatomyGate()
    head = {"series_description": "ax_t2", "study_description": "", "body_part": "HEAD"}
    knee = {**head, "body_part": "KNEE"}
    first = gate.from_header(head)
    assert first is not None and first.anatomy.is_brain
    assert gate.from_header(dict(head)) is first
    other = gate.from_header(knee)
    assert other is not None and other.non_brain
    assert gate.from_header({**head, "body_part": ""}) is None
    assert pickle.loads(pickle.dumps(gate))._by_texts == {}
