"""The pixel-signature model end to end: trained (tiny) on real pool series, added to a copy of the bundled model,
and used by ``annotate`` for a NIfTI volume without a sidecar, only where its class threshold allows."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from radclass.features.contrast import FEATURE_NAMES
from radclass.models.bundle import BUNDLED_DIR, BundleError, ModelBundle
from radclass.pipeline.annotate import annotate_paths
from radclass.taxonomy import Flag
from radclass.training.pixel_model import PixelExamples, PixelModelConfig, add_pixel_signature, pool_examples
from radclass.training.pool import labelled_pool

DATASETS = ("niivue", "open_ms_data", "msd_brats", "dcm_qa_toshiba", "dcm_qa")


@pytest.fixture(scope="module")
def signature_bundle(tmp_path_factory, data_root) -> Path:
    pool = [item for item in labelled_pool(data_root) if item.dataset in DATASETS]
    data = pool_examples(pool, slices=6, log=lambda _: None)
    assert len(set(data.groups)) >= 4 and len(data.y) >= 20
    folder = tmp_path_factory.mktemp("bundle") / "mri-series"
    shutil.copytree(BUNDLED_DIR / "mri-series", folder)
    config = PixelModelConfig(
        slices=6, n_estimators=10, feature_sets=("tissue",), simulation_choices=(False,), inner_folds=2
    )
    table = add_pixel_signature(folder, config, data=data, sim=PixelExamples.empty(), log=lambda _: None)
    assert table["choice"]["feature_set"] == "tissue" and (folder / "pixel_signature.onnx").is_file()
    return folder


def _with_thresholds(folder: Path, thresholds: dict[str, float]) -> None:
    meta = json.loads((folder / "bundle.json").read_text())
    meta["pixel_signature_model"]["thresholds"] = thresholds
    (folder / "bundle.json").write_text(json.dumps(meta))


def _headerless(tmp_path: Path, data_root: Path) -> Path:
    target = tmp_path / "in" / "volume.nii.gz"  # a NIfTI with no sidecar and no telling name
    target.parent.mkdir()
    shutil.copy(data_root / "mri/nifti/niivue/M2208_T2w.nii.gz", target)
    return target.parent


def test_bundle_reads_and_applies_the_pixel_signature_model(signature_bundle):
    bundle = ModelBundle.load(signature_bundle)
    reading = bundle.metadata.pixel_signature
    assert reading is not None and reading.slices == 6
    proba = bundle.pixel_signature_proba(np.zeros((2, len(FEATURE_NAMES)), np.float32))
    assert proba.shape == (2, len(bundle.classes)) and np.allclose(proba.sum(1), 1, atol=1e-4)


def test_headerless_nifti_gets_the_signature_label_only_above_its_threshold(signature_bundle, tmp_path, data_root):
    folder = _headerless(tmp_path, data_root)
    every = {c: 1e-4 for c in ModelBundle.load(signature_bundle).metadata.pixel_signature.classes}
    _with_thresholds(signature_bundle, every)
    row = annotate_paths([folder], bundle=signature_bundle, progress=False, workers=1).iloc[0]
    assert row["status"] == "ok" and Flag.SEQUENCE_FROM_PIXELS in row["flags"].split(";")
    assert row["sequence"] in every
    _with_thresholds(signature_bundle, {})  # no validated class: an honest UNKNOWN
    row = annotate_paths([folder], bundle=signature_bundle, progress=False, workers=1).iloc[0]
    assert row["status"] == "unknown" and row["sequence"] == "UNKNOWN"
    assert Flag.SEQUENCE_FROM_PIXELS not in row["flags"].split(";")


def test_invalid_pixel_signature_tables_are_refused_with_a_sentence(signature_bundle):
    meta = json.loads((signature_bundle / "bundle.json").read_text())
    for bad, message in (
        ({"features": ["no_such_value"]}, "does not compute"),
        ({"thresholds": {"T1": 1.5}}, "must lie in"),
        ({"thresholds": {"NOT_A_CLASS": 0.5}}, "lacks"),
    ):
        table = {**meta["pixel_signature_model"], **bad}
        with pytest.raises(BundleError, match=message):
            ModelBundle(signature_bundle, {**meta, "pixel_signature_model": table})
