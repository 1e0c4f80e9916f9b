"""``radclass annotate --engine ray``: the Ray Data pipeline gives the local engine's rows.

Runs Ray in local mode on 2 CPUs with the engine's default resource requests (0.5 CPU for the inference actor,
0.75 CPU per decode task), so it also shows that the inference actor cannot starve the decode tasks it waits
for; the request sizing is checked for 1 CPU too. Skips only when ray is not installed
(``pip install 'radclass[ray]'``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import pandas as pd
import pytest

from dcm2niix_like import blank_header, dcm2niix_like
from loopback_netns import in_loopback_netns, rerun_in_loopback_netns
from radclass.config import BUNDLED_DIR

ray = pytest.importorskip("ray", reason="ray not installed: pip install 'radclass[ray]' to test --engine ray")


# Ray binds the machine's interface address even when told 127.0.0.1: these tests run inside a loopback-only
# network namespace (conftest.rerun_in_loopback_netns), never on the host's network.
needs_netns = pytest.mark.skipif(not in_loopback_netns(), reason="runs inside the loopback-only namespace "
                                   "(test_in_loopback_netns)")


@pytest.mark.skipif(in_loopback_netns(), reason="already inside the namespace")
def test_in_loopback_netns():
    rerun_in_loopback_netns(__file__)

# A real subset: enhanced multi-frame (XA30), Siemens mosaics, Philips classic, NIfTI, plus non-MR and non-image
# DICOM objects (skipped rows) and PNG slices of unknown modality.
SUBSET = ("mri/dicom/dcm_qa_xa30", "mri/dicom/dcm_qa", "mri/dicom/dcm_qa_philips", "mri/nifti/niivue",
          "liver/totalseg/example_ct_dicom")
KEY = ["path", "sub_series", "status", "sequence", "orientation", "confidence"]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, data_root, run_cli) -> Path:
    """The bundled model, or (before it is built) a tiny bundle trained here."""
    if (BUNDLED_DIR / "mri-series" / "bundle.json").exists():
        return BUNDLED_DIR / "mri-series"
    pytest.importorskip("torch", reason="no bundled model and no torch to train a tiny one")
    config = tmp_path_factory.mktemp("tiny") / "tiny.toml"
    config.write_text(
        "[mri_series]\nsynthetic_headers_per_class = 20\nsimulated_series_per_class = 1\n"
        "simulated_slices_per_series = 2\ntune_forest = false\ncnn_folds = 2\ncnn_fold_epochs = 1\n"
        "train_slices_per_series = 2\n[mri_series.cnn]\nnetwork = \"multitask\"\nepochs = 1\nbatch_size = 16\n")
    out = config.parent / "bundle"
    result = run_cli("train", config, "--out", out)
    assert result.exit_code == 0, result.output
    return out


def _key(df: pd.DataFrame) -> pd.DataFrame:
    df = df[KEY].copy()
    df["confidence"] = pd.to_numeric(df["confidence"], errors="coerce").round(3)
    return df.astype(str).reset_index(drop=True)


@needs_netns
def test_ray_engine_matches_local_engine(data_root, bundle, tmp_path, run_cli):
    from radclass.pipeline.annotate import annotate_paths

    # A T2 as dcm2niix writes it without a sidecar: the timing model's T2 family, decided by the fluid test in
    # the volume-test tasks.
    family = tmp_path / "t2_family"
    family.mkdir()
    dcm2niix_like(
        data_root / "mri/nifti/open_ms_data/longitudinal/raw/patient01/study1_T2W.nii.gz",
        family / "t2.nii.gz",
        te=95,
        tr_ms=5000,
    )
    # A DWI time series with no header at all (dcm2niix's conversion, description and TR wiped): the diffusion
    # test reads its frames in a volume-test task.
    dwi = None
    if shutil.which("dcm2niix"):
        converted = tmp_path / "converted"
        converted.mkdir()
        subprocess.run(
            ["dcm2niix", "-b", "n", "-z", "y", "-o", str(converted), str(data_root / "mri/dicom/dcm_qa_philips_dwi")],
            capture_output=True,
        )
        series = [f for f in sorted(converted.glob("*.nii.gz")) if len(nib.load(f).shape) == 4]
        if series:
            dwi = family / "dwi.nii.gz"
            blank_header(series[0], dwi)
    paths = [*(data_root / p for p in SUBSET), family]
    local = annotate_paths(paths, progress=False, bundle=bundle, workers=2)
    out = tmp_path / "ray.csv"
    result = run_cli("annotate", *paths, "--out", out, "--model", bundle, "--engine", "ray", "--workers", "2", "-q")
    assert result.exit_code == 0, result.output
    remote = pd.read_csv(out, keep_default_na=False)
    local_csv = tmp_path / "local.csv"
    local.to_csv(local_csv, index=False)  # as the CLI writes it
    local = pd.read_csv(local_csv, keep_default_na=False)
    assert len(remote) == len(local)
    assert int(remote["n_files"].sum()) == int(local["n_files"].sum())
    assert (remote["status"].isin(["ok", "unknown"])).sum() >= 20  # MR series were classified, not skipped
    pd.testing.assert_frame_equal(_key(remote), _key(local))
    # every output column agrees, not only the key ones
    pd.testing.assert_frame_equal(remote.astype(str), local.astype(str))
    if (Path(bundle) / "bundle.json").read_text().count('"fluid_contrast"'):
        # by its whole path: a pool file such as niivue/register/T1_head_ext2.nii.gz also ends in "t2.nii.gz",
        # and sorts first where the pool lies under a path before /tmp
        t2 = remote[remote["path"] == str(family / "t2.nii.gz")].iloc[0]
        assert t2["sequence"] == "T2" and "fluid_from_pixels" in t2["flags"], t2["reason"]
    if dwi is not None and '"diffusion_test"' in (Path(bundle) / "bundle.json").read_text():
        row = remote[remote["path"] == str(dwi)].iloc[0]
        assert row["sequence"] == "DWI" and "diffusion_from_pixels" in row["flags"], row["reason"]


def test_engine_option_is_checked(tmp_path, run_cli, data_root):
    result = run_cli("annotate", data_root / "mri" / "dicom" / "dcm_qa", "--out", tmp_path / "a.csv",
                     "--engine", "spark", "-q")
    assert result.exit_code == 2


def test_ray_engine_without_ray_says_how_to_install(tmp_path, data_root):
    code = ("import sys; sys.modules['ray'] = None; sys.modules['ray.data'] = None\n"
            "from radclass.cli import main\n"
            "sys.argv = ['radclass', 'annotate', sys.argv[1], '--out', sys.argv[2], '--engine', 'ray', '-q']\n"
            "main()")
    proc = subprocess.run([sys.executable, "-c", code, str(data_root / "mri" / "dicom" / "dcm_qa"),
                           str(tmp_path / "a.csv")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "radclass[ray]" in proc.stderr


def test_decode_requests_leave_room_for_the_actors():
    from radclass.pipeline.ray_engine import RayOptions, decode_request

    for cpus in (1, 2, 4, 16):
        opts = RayOptions()
        per_task = decode_request(opts, cpus)
        # at least one decode task fits beside the actors, and a full set of them never exceeds the CPUs
        assert per_task + opts.infer_cpus * opts.actors <= cpus
        assert round(cpus) * per_task + opts.infer_cpus * opts.actors <= cpus + 1e-9
    assert decode_request(RayOptions(), 2) == 0.75
    assert decode_request(RayOptions(), 1) == 0.49  # not 0.5: equal requests would fuse decoding into the actors
    with pytest.raises(ValueError):
        decode_request(RayOptions(actors=4), 2)
