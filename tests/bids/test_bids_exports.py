"""The dcm2bids config and the HeuDiConv heuristic, run with the real tools on the pool subset.

dcm2bids (GPL-3.0) and HeuDiConv (Apache-2.0) come with the test extra and are only started as programs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from bids_helpers import tool
from radclass.outputs.bids.exports import ExportedImage, _heudiconv_stem, dcm2bids_config
from radclass.outputs.bids.plan import read_ledger

# HeuDiConv 1.5.1 cannot read these two inputs of the subset (its own DICOM reading fails before any
# heuristic runs): a GE Genesis file whose StudyDate is "1996.06.11", and a Hyperfine enhanced-DICOM file
# without DimensionIndexSequence (dcmstack). dcm2bids and radclass convert both.
HEUDICONV_UNREADABLE = ("GE_GENESIS_FLAIR_single", "hyperfine_anatomical_001")


_NOWHERE = "http://127.0.0.1:9"  # the local discard port: a proxy that refuses at once, on this machine


def _env() -> dict[str, str]:
    """PATH with this Python's bin first (the dcm2niix wheel radclass used), and no look-ups leaving the machine:
    HeuDiConv/nipype skip their telemetry with NO_ET, and dcm2bids's GitHub version check goes to a local proxy
    that refuses (dcm2bids then logs that it is offline and carries on)."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "NO_ET": "1", "HTTPS_PROXY": _NOWHERE, "HTTP_PROXY": _NOWHERE, "https_proxy": _NOWHERE,
            "http_proxy": _NOWHERE, "NO_PROXY": "", "no_proxy": ""}


def _niftis(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.glob("sub-*/**/*.nii.gz")}


def test_dcm2bids_reproduces_the_names(subset_dataset, tmp_path: Path) -> None:
    root, _ = subset_dataset
    dcm2bids = tool("dcm2bids")
    tool("dcm2niix")
    ledger = read_ledger(root)
    sessions = {r["study_uid"]: (r["participant"], r["session"]) for r in ledger if r["status"] == "converted"}
    folders: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in ledger:  # every DICOM folder of a session, skipped series included (dcm2bids must leave them out)
        if r["study_uid"] in sessions and Path(r["source"]).is_dir():
            folders[sessions[r["study_uid"]]].add(r["source"])
    out = tmp_path / "dcm2bids"
    config = root / "code" / "radclass" / "dcm2bids_config.json"
    for (sub, ses), dirs in sorted(folders.items()):
        done = subprocess.run([dcm2bids, "-d", *sorted(dirs), "-p", sub, "-s", ses, "-c", str(config), "-o", str(out)],
                              capture_output=True, text=True, env=_env(), timeout=300)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert _niftis(out) == _niftis(root)


def test_heudiconv_reproduces_the_names(subset_dataset, subset_dirs, tmp_path: Path) -> None:
    root, result = subset_dataset
    heudiconv = tool("heudiconv")
    tool("dcm2niix")
    assert result.heuristic_left_out == []
    inputs = [str(d) for d in subset_dirs if d.name not in HEUDICONV_UNREADABLE]
    out = tmp_path / "heudiconv"
    done = subprocess.run([heudiconv, "--files", *inputs, "-f", str(root / "code" / "radclass" / "heuristic.py"),
                           "-c", "dcm2niix", "-b", "--overwrite", "-o", str(out)],
                          capture_output=True, text=True, env=_env(), timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    unreadable = {r.bids_path + ".nii.gz" for r in result.converted
                  if Path(r.source).name in HEUDICONV_UNREADABLE}
    assert len(unreadable) == len(HEUDICONV_UNREADABLE)
    assert _niftis(out) == _niftis(root) - unreadable


def _im(stem: str, postfix: str = "", uid: str = "1.2") -> ExportedImage:
    return ExportedImage(uid, postfix, "01", "a", "fmap", stem)


def test_heudiconv_templates_for_split_series() -> None:
    assert _heudiconv_stem([_im("sub-01_ses-a_magnitude1"), _im("sub-01_ses-a_magnitude2")]) == \
        "sub-01_ses-a_magnitude"
    assert _heudiconv_stem([_im("sub-01_ses-a_echo-1_T2starw"), _im("sub-01_ses-a_echo-2_T2starw")]) == \
        "sub-01_ses-a_T2starw"
    assert _heudiconv_stem([_im("sub-01_ses-a_run-1_bold"), _im("sub-01_ses-a_run-2_bold")]) is None


def test_dcm2bids_config_matches_one_sidecar_per_image() -> None:
    config = dcm2bids_config([_im("sub-01_ses-a_task-rest_dir-AP_bold", "_e2"), _im("sub-01_ses-a_T1w", uid="3")])
    assert config["dcm2niixOptions"].endswith("-f %j")
    bold, t1 = config["descriptions"]
    assert bold == {"datatype": "fmap", "suffix": "bold", "criteria": {"SidecarFilename": "1.2_e2.json"},
                    "custom_entities": "task-rest_dir-AP", "sidecar_changes": {"TaskName": "rest"}}
    assert "custom_entities" not in t1
