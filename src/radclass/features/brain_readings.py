"""Every reading of a whole brain's intensities from one brain mask: fluid (T2 or not) and grey against white
matter (T1 or FLAIR), issue #12.

A volume with no acquisition header is named from these alone (the bundle's pixel-only calls,
:func:`radclass.models.decision.pixel_only_decision`), and the pool's volumes are measured once for both tests
(:mod:`radclass.training.fluid_contrast`, :mod:`radclass.training.grey_white`). The names of
:data:`radclass.features.fluid.MEASURES` and :data:`radclass.features.grey_white.MEASURES` do not overlap.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from radclass.features import fluid, grey_white
from radclass.features.brain_mask import MaskNetwork, whole_brain_voxels


def brain_readings(
    volume: np.ndarray,
    network: MaskNetwork,
    spacing: tuple[float, float, float] | None,
    *,
    fluid_measures: Iterable[str] = fluid.MEASURES,
    grey_white_measures: Iterable[str] = tuple(grey_white.MEASURES),
    min_slices: int = 1,
) -> dict[str, float]:
    """The fluid readings ``fluid_measures`` and grey/white readings ``grey_white_measures`` of a whole-brain
    volume of voxel size ``spacing`` (mm), from one brain mask; a reading that cannot be taken is left out.

    Raises
    ------
    ValueError
        When the volume cannot be measured at all (see :func:`radclass.features.fluid.fluid_readings`).
    """
    brain = whole_brain_voxels(volume, network, spacing, min_slices=min_slices)
    readings = fluid.fluid_readings_of(brain, tuple(fluid_measures))
    for name in grey_white_measures:
        try:
            readings[name] = grey_white.grey_white_measure(brain.values, brain.depth, name)
        except ValueError:
            continue
    return readings
