"""Which series ``radclass annotate`` decodes pixels for (``--pixels auto|all``).

Decoding K slices and running the CNN is most of annotation's cost, yet with the bundled model (fusion weight
``w_cnn = 0``, no validated ``disagree_confidence``) the pixel evidence changes nothing published for a series
whose header carries acquisition physics and a plane: the fused probabilities equal the header forest's, and
no flag depends on the CNN. In ``auto`` mode (the default) only the series whose label, confidence,
orientation or flags the pixel evidence can still change are decoded; the others get the
:data:`PIXELS_SKIPPED_FLAG` flag and empty CNN columns (``cnn_sequence``, ``vote_sequence``). ``all`` decodes
every series that has pixels, for a full audit of the CNN's opinion.

:func:`pixel_need` is the one place this is decided; the local engine and the Ray engine both call it. The
anatomy gate's own pixel stage (:mod:`radclass.anatomy.gate`) is independent of this policy: it measures a
series whenever its header and the anatomy rules decide nothing. So are the bundle's volume tests
(:func:`radclass.pipeline.annotate.volume_targets`): the gadolinium test reads the whole first volume of a series
the header models call T1 without a contrast agent in its header, the fluid test that of a series the timing model
calls T2 family (T2 or FLAIR), in either mode, because their answers change the label.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from radclass.models.decision import header_is_informative, header_is_timing_only
from radclass.taxonomy import Flag, Plane
from radclass.values import is_missing

#: Flag of a series whose pixels ``--pixels auto`` did not decode, because they could change nothing published.
PIXELS_SKIPPED_FLAG = Flag.PIXELS_SKIPPED


class PixelMode(StrEnum):
    """Which series ``annotate`` decodes pixels for (the ``--pixels`` option)."""

    AUTO = "auto"
    """Only the series whose label, confidence, orientation or flags the pixel evidence can change."""
    ALL = "all"
    """Every series that has pixel data (the CNN's opinion on every series: a full audit)."""

    @classmethod
    def parse(cls, value: str | PixelMode) -> PixelMode:
        """The mode named ``value``; a ValueError naming the choices otherwise."""
        try:
            return cls(str(value).lower())
        except ValueError:
            choices = ", ".join(m.value for m in cls)
            raise ValueError(f"--pixels must be one of {choices}, not {value!r}.") from None


def header_has_plane(header: Mapping[str, Any]) -> bool:
    """True when the header geometry gives the plane (the CNN's orientation guess is then never used)."""
    plane = header.get("orientation")
    return not is_missing(plane) and str(plane) != Plane.NA


def pixel_need(header: Mapping[str, Any], fusion: Mapping[str, Any], mode: PixelMode | str = PixelMode.AUTO) -> str:
    """Why the pixels of the series with scan header ``header`` must be decoded, or ``""`` when they need not.

    Parameters
    ----------
    header
        The series' scan header (:attr:`radclass.io.series.Series.header`).
    fusion
        The bundle's ``fusion`` settings (:attr:`radclass.models.bundle.ModelBundle.fusion`).
    mode
        :class:`PixelMode`; ``all`` always needs the pixels.

    Returns
    -------
    str
        A short reason when the pixel evidence can change the series' published label, confidence,
        orientation or flags (or ``mode`` is ``all``); ``""`` when it cannot.
    """
    mode = PixelMode.parse(mode)
    if mode is PixelMode.ALL:
        return "--pixels all"
    if not header_is_informative(header):
        return "the header carries no acquisition physics: the pixels decide the label"
    if header_is_timing_only(header):
        return "the header carries timing alone: the header forest does not judge it"
    if float(fusion.get("w_cnn", 1.0)) > 0:  # same default as radclass.models.decision.fuse_evidence
        return "the bundle fuses the CNN with the header forest (w_cnn > 0)"
    if fusion.get("disagree_confidence") is not None:
        return "the bundle can flag pixels_header_disagree (fusion.disagree_confidence)"
    if not header_has_plane(header):
        return "the header gives no plane: the pixels decide the orientation"
    return ""
