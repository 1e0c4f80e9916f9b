"""The acquisition axis and plane of a NIfTI volume (radclass.io.geometry), as dcm2niix's outputs need them."""

from __future__ import annotations

import numpy as np

from radclass.io.geometry import acquisition_axis, plane_of_affine
from radclass.taxonomy import Plane

EYE = np.eye(4)


def test_the_coarsest_axis_is_the_acquisition_axis():
    assert acquisition_axis(EYE, (0.5, 0.5, 5.0), None, (512, 512, 30)) == 2
    assert plane_of_affine(EYE, (0.5, 0.5, 5.0), None, (512, 512, 30)) == Plane.AX


def test_a_single_slice_is_its_own_axis_whatever_its_voxel_size():
    # a GE EPI slice: 3.75 mm pixels, 3 mm thick; the coarsest axis would be in-plane
    assert acquisition_axis(EYE, (3.75, 3.75, 3.0), 0, (64, 64, 1)) == 2
    assert plane_of_affine(EYE, (3.75, 3.75, 3.0), 0, (64, 64, 1)) == Plane.AX


def test_an_isotropic_slab_is_cut_along_its_few_slices():
    # dcm2niix reorders a sagittal slab to (12, 256, 256) and may leave dim_info naming axis 2
    assert acquisition_axis(EYE, (1.0, 1.0, 1.0), 2, (12, 256, 256)) == 0
    assert plane_of_affine(EYE, (1.0, 1.0, 1.0), 2, (12, 256, 256)) == Plane.SAG


def test_an_isotropic_volume_keeps_the_recorded_slice_axis_or_none():
    assert acquisition_axis(EYE, (1.0, 1.0, 1.0), 1, (176, 256, 256)) == 1  # not a slab: dim_info decides
    assert acquisition_axis(EYE, (1.0, 1.0, 1.0), None, (182, 218, 182)) is None
    assert plane_of_affine(EYE, (1.0, 1.0, 1.0), None, (182, 218, 182)) == Plane.NA
    assert acquisition_axis(EYE, (1.0, 1.0, 1.0), 2) == 2  # no shape given: as before


def test_a_zero_column_takes_its_direction_from_the_other_two():
    """dcm2niix writes a two-slice sagittal volume with a zero slice column (dcm_qa_sag's DWI)."""
    affine = np.array([[0, 0, 0, 1.35], [-2.707, 0, 0, 135.7], [0, 2.707, 0, -134.2], [0, 0, 0, 1]])
    assert plane_of_affine(affine, (2.707, 2.707, 2.7), None, (82, 82, 2, 6)) == Plane.SAG
