"""``radclass.models.bundle``: the one bundle type over the real bundled models, its validation errors, and
inference reading ``slices_per_series`` from the bundle."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from radclass.config import BUNDLED_DIR
from radclass.models.bundle import (
    BundleError,
    BundleMetadata,
    BundleNotFoundError,
    Channels,
    ModelBundle,
    Preprocessing,
    onnx_session,
    write_bundle_json,
)

MRI = {"name": "m", "version": "1", "classes": ["T1", "T2"], "cnn": "cnn.onnx"}


def test_bundled_mri_model_is_typed() -> None:
    bundle = ModelBundle.load()
    meta = bundle.metadata
    assert bundle.version == "mri-series-3" and bundle.slices_per_series == 5 and bundle.input_size == 128
    assert meta.classes.orientation == ("AX", "COR", "SAG") and set(meta.classes.forest) == set(bundle.classes)
    assert meta.fusion.w_cnn == 0.0 and meta.fusion.w_forest == 1.0
    assert meta.thresholds.for_evidence(True) == pytest.approx(0.2597, abs=1e-4)
    assert meta.thresholds.for_evidence(False) == 1.0
    assert bundle.fusion["threshold_pixels"] == 1.0  # the raw table, as pipeline/annotate.py reads it
    assert bundle.has("cnn") and bundle.has("forest") and not bundle.has("onnx")
    assert bundle.forest_proba(np.zeros((0, 3))).shape == (0, len(bundle.classes))


def test_bundled_diagnostic_model_is_typed() -> None:
    bundle = ModelBundle.load("ct-hemorrhage", threads=1, require=("onnx",))
    pre = bundle.preprocessing
    assert (pre.input_size, pre.load_size, pre.channels, pre.window) == (96, 110, Channels.GREY, "brain")
    assert len(pre.mean) == len(pre.std) == 3 and bundle.positive == "HEMORRHAGE"
    # the one session factory: a real ONNX Runtime session of the bundled classifier
    p = bundle.image_proba(np.zeros((2, 3, 96, 96), np.float32))
    assert p.shape == (2, 2) and np.allclose(p.sum(1), 1, atol=1e-5)
    assert bundle.session("onnx") is bundle.session("onnx")  # created once


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"classes": None}, "gives no 'classes'"),
        ({"classes": "T1"}, "must be a list of names"),
        ({"classes": ["T1", "T1"]}, "names T1 more than once"),
        ({"forest_classes": ["T1", "PD"]}, r"forest classes \['PD'\] are not among"),
        ({"positive": "FLAIR"}, "positive class 'FLAIR' is not one of"),
        ({"input_size": 0}, "input size must be a positive number"),
        ({"input_size": 12.5}, "'input_size' must be a whole number"),
        ({"slices_per_series": 0}, "at least one slice per series"),
        ({"preprocess": {"input_size": 96, "load_size": 64}}, r"load size \(64\) must be at least the input size"),
        ({"preprocess": {"channels": "rgb"}}, "channels must be one of"),
        ({"preprocess": {"mean": [0.5, 0.5], "std": [0.2]}}, "2 means but 1 deviations"),
        ({"preprocess": {"mean": [0.5], "std": [0]}}, "deviation must be positive"),
        ({"fusion": {"w_cnn": -1}}, "must not be negative"),
        ({"fusion": {"w_cnn": 0, "w_forest": 0}}, "At least one fusion weight"),
        ({"fusion": {"temperature": 0}}, "temperature must be positive"),
        ({"fusion": {"threshold_header": 1.5}}, r"threshold_header must lie in \[0, 1\]"),
        ({"fusion": {"threshold": "high"}}, "'threshold' must be a number"),
        ({"fusion": {"w_cnn": float("nan")}}, "must be a finite number"),
        ({"cnn": "../cnn.onnx"}, "must be a file name inside the bundle folder"),
        ({"contrast_enhancement": "yes"}, "'contrast_enhancement' must be a table"),
        ({"contrast_enhancement": {"min_slices": 16}}, "gives no 'threshold'"),
        ({"contrast_enhancement": {"threshold": 0.9}}, "enhancement threshold must exceed 1"),
        ({"contrast_enhancement": {"threshold": "x"}}, "is not a number"),
        ({"contrast_enhancement": {"threshold": 1.5, "precision": 2}}, r"precision must lie in \(0, 1\]"),
        ({"contrast_enhancement": {"threshold": 1.5, "min_slices": 1}}, "at least 2 slices"),
    ],
)
def test_invalid_metadata_is_a_sentence(change: dict, message: str) -> None:
    meta = {k: v for k, v in {**MRI, **change}.items() if v is not None}
    with pytest.raises(BundleError, match=message) as caught:
        BundleMetadata.from_json(meta, "x/bundle.json")
    text = str(caught.value)
    assert text.startswith("x/bundle.json") and text.endswith(".")


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(BundleNotFoundError, match=r"model bundle 'nope' not found: .* lacks bundle\.json") as caught:
        ModelBundle.load("nope", root=tmp_path)
    assert isinstance(caught.value, FileNotFoundError)  # callers catching FileNotFoundError keep working
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "bundle.json").write_text("{not json")
    with pytest.raises(BundleError, match="cannot be read as JSON"):
        ModelBundle.load(folder)
    (folder / "bundle.json").write_text(json.dumps({**MRI, "fusion": {"temperature": -2}}))
    with pytest.raises(BundleError, match="temperature must be positive"):
        ModelBundle.load(folder)
    (folder / "bundle.json").write_text(json.dumps(MRI))
    with pytest.raises(BundleNotFoundError, match="lacks cnn.onnx, its cnn model"):
        ModelBundle.load(folder, require=("cnn",))
    with pytest.raises(BundleNotFoundError, match="lacks model.onnx, its onnx model .by default"):
        ModelBundle.load(folder, require=("onnx",))
    with pytest.raises(ValueError, match="at least one thread"):
        onnx_session(BUNDLED_DIR / "mri-series" / "cnn.onnx", threads=0)


def test_write_bundle_json_refuses_invalid_metadata(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="names T2 more than once"):
        write_bundle_json(tmp_path / "b", {**MRI, "classes": ["T2", "T2"]})
    assert not (tmp_path / "b").exists()  # nothing written
    path = write_bundle_json(tmp_path / "b", MRI)
    assert ModelBundle.load(path.parent).classes == ["T1", "T2"]


def test_preprocessing_round_trip() -> None:
    pre = Preprocessing(
        input_size=64, slices_per_series=3, load_size=72, channels="multiwindow", mean=(0.5,), std=(0.25,)
    )
    assert pre.channels is Channels.MULTIWINDOW and pre.load_side == 72
    assert Preprocessing.from_meta({"preprocess": pre.to_dict()}) == pre


def _bundle_with_slices(tmp_path: Path, slices: int) -> Path:
    """The bundled MRI model's files (linked), with ``slices_per_series`` changed."""
    folder = tmp_path / "mri"
    folder.mkdir()
    source = BUNDLED_DIR / "mri-series"
    for f in source.iterdir():
        if f.name != "bundle.json":
            (folder / f.name).symlink_to(f)
    meta = json.loads((source / "bundle.json").read_text())
    (folder / "bundle.json").write_text(json.dumps({**meta, "slices_per_series": slices}))
    return folder


def test_annotate_decodes_the_bundles_slices_per_series(data_root: Path, tmp_path: Path, monkeypatch) -> None:
    import radclass.pipeline.annotate as annotate
    from radclass.io.pixels import load_slices

    asked: list[int] = []

    def counting(series, k=5, **kw):
        asked.append(k)
        return load_slices(series, k, **kw)

    monkeypatch.setattr(annotate, "load_slices", counting)  # the real reader, its ``k`` recorded
    series = data_root / "mri/dicom/dcm_qa_asl/Siemens_Prisma_T1_mprage_ns_sag"
    table = annotate.annotate_paths(
        [series], bundle=_bundle_with_slices(tmp_path, 3), pixels="all", progress=False, workers=1
    )
    assert asked == [3] and table["status"].iloc[0] in ("ok", "unknown")
    asked.clear()
    annotate.annotate_paths(
        [series], bundle=BUNDLED_DIR / "mri-series", slices=2, pixels="all", progress=False, workers=1
    )
    assert asked == [2]  # an explicit --slices still wins


def test_gadolinium_test_scope() -> None:
    from radclass.models.bundle import ContrastEnhancement

    test = ContrastEnhancement(threshold=1.4, min_slices=16, max_field_strength=4.0)
    assert test.not_measured({"field_strength": 3.0}, 176) == ""
    assert test.not_measured({}, 24) == ""  # no field strength: measured
    assert test.not_measured({"contrast_agent": "GADOVIST"}, 176) == "the header names a contrast agent"
    assert test.not_measured({}, 12) == "12 slices, fewer than 16"
    assert test.not_measured({"field_strength": 7.0}, 176) == "acquired at 7 T, above 4 T"
    shipped = ModelBundle.load().metadata.contrast_enhancement
    assert shipped is not None and shipped.threshold > 1.0 and 0.5 < shipped.precision <= 1.0
