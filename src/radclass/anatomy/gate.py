"""The anatomy gate: decide which region a series images, before the brain models vote on it.

Stages, first decision wins:

1. **header** - Body Part Examined (0018,0015) (or a sidecar's ``BodyPartExamined``) mapped by ``[body_part]``
   of the anatomy rules;
2. **rules** - the ``[[description]]`` regexes over SeriesDescription + ProtocolName, then over
   StudyDescription (a text naming two regions decides nothing);
3. **pixels** - :mod:`radclass.anatomy.shape` on a few slices: head-shaped -> BRAIN, otherwise BODY.

A non-brain series (:attr:`AnatomyDecision.non_brain`) gets the ``non_brain`` flag and no pixel-model vote:
its sequence comes from the header physics alone (the header forest, under the usual abstention threshold),
or is UNKNOWN with a reason. :func:`non_brain_outcome` applies that to a decision's status, reason and flags
(``radclass annotate`` calls it on the decision policy's annotation); :func:`finish_row` does the same on a
table row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from radclass.anatomy.rules import AnatomyRules
from radclass.anatomy.shape import measure_series
from radclass.anatomy.vocabulary import UNDECIDED, Anatomy, AnatomyDecision, AnatomySource
from radclass.io.series import Series
from radclass.taxonomy import Flag, Plane, SeriesFlag, Status, join_flags, parse_flags
from radclass.values import as_text

#: Slices the pixel stage measures.
PIXEL_SLICES = 5
NON_BRAIN_FLAG = Flag.NON_BRAIN
_DECISIONS_KEPT = 65536  # from_header results remembered per gate
#: Columns :func:`anatomy_columns` fills in an annotation row.
ANATOMY_COLUMNS = ("anatomy", "anatomy_source", "anatomy_reason")


class AnatomyGate:
    """Header -> rules -> pixels; ``pixels=False`` stops after the rules (no pixel data read)."""

    def __init__(self, rules: AnatomyRules | None = None, *, pixels: bool = True, slices: int = PIXEL_SLICES) -> None:
        self.rules = rules or AnatomyRules.load()
        self.pixels = pixels
        self.slices = slices
        self._by_texts: dict[tuple[str, str, str], AnatomyDecision | None] = {}  # from_header per its texts

    def __getstate__(self) -> dict[str, Any]:
        # sent to the decoding workers with every chunk: without the remembered decisions
        return {**self.__dict__, "_by_texts": {}}

    def decide(self, series: Series, slices: Sequence[np.ndarray] | None = None) -> AnatomyDecision:
        """The anatomy of one series; ``slices``: its ``load_slices(series, self.slices)``, when the caller
        has already decoded them."""
        return (
            self.from_header(series.header) or (self.from_pixels(series, slices) if self.pixels else None) or UNDECIDED
        )

    def from_header(self, header: Mapping[str, Any]) -> AnatomyDecision | None:
        """The header and rules stages on a scan row or series header; None when neither decides (remembered
        per the three texts it reads: the series of one protocol repeat them)."""
        body_part = as_text(header.get("body_part"))
        series_text = " ".join(as_text(header.get(k)) for k in ("series_description", "protocol_name")).strip()
        study_text = as_text(header.get("study_description"))
        key = (body_part, series_text, study_text)
        if key not in self._by_texts:
            if len(self._by_texts) >= _DECISIONS_KEPT:
                self._by_texts.clear()
            self._by_texts[key] = self._from_texts(body_part, series_text, study_text)
        return self._by_texts[key]

    def _from_texts(self, body_part: str, series_text: str, study_text: str) -> AnatomyDecision | None:
        region = self.rules.body_part(body_part)
        if region is not None:
            return AnatomyDecision(region, AnatomySource.HEADER, f"Body Part Examined {body_part}")
        for text, what in ((series_text, "series description / protocol"), (study_text, "study description")):
            regions = self.rules.regions_named(text)
            if len(regions) == 1:
                return AnatomyDecision(regions[0], AnatomySource.RULES, f"{what} {text!r} names {regions[0]}")
        return None

    def from_pixels(self, series: Series, slices: Sequence[np.ndarray] | None = None) -> AnatomyDecision | None:
        """The pixel stage; None when the series has no measurable pixels or no physical spacing (``slices``:
        as for :meth:`decide`)."""
        from radclass.io.pixels import PixelReadError, load_slices

        geometry = slice_geometry(series)
        if geometry is None or "no_pixels" in series.flags:
            return None
        spacing, axial = geometry
        try:
            if slices is None:
                slices = load_slices(series, self.slices)
        except PixelReadError:
            return None
        except Exception:  # a decoder failure must not stop the annotation
            return None
        verdict = measure_series(slices, spacing, axial)
        if verdict is None:
            return None
        region = Anatomy.BRAIN if verdict.head_like else Anatomy.BODY
        return AnatomyDecision(region, AnatomySource.PIXELS, verdict.reason)


def slice_geometry(series: Series) -> tuple[tuple[float, float], bool] | None:
    """``((row, column) spacing in mm, slices are axial)`` of the slices :func:`radclass.io.pixels.load_slices`
    returns, or None when the series has no physical spacing (2D images)."""
    if series.format == "nifti":
        import nibabel as nib

        from radclass.io.geometry import acquisition_axis

        try:
            img = nib.as_closest_canonical(nib.load(series.path))
            zooms = [float(z) for z in img.header.get_zooms()[:3]]
        except Exception:
            return None
        if len(zooms) < 3:
            return (zooms[1], zooms[0]), True
        axis = acquisition_axis(img.affine, zooms, img.header.get_dim_info()[2], img.shape)
        axis = 2 if axis is None else axis
        a, b = (i for i in range(3) if i != axis)  # load_slices rotates the slice: rows run along b
        return (zooms[b], zooms[a]), axis == 2
    if series.format == "dicom":
        spacing = [float(v) for v in as_text(series.header.get("pixel_spacing")).split("\\") if v]
        if len(spacing) != 2 or min(spacing) <= 0:
            return None
        return (spacing[0], spacing[1]), series.header.get("orientation") == Plane.AX
    return None


def anatomy_columns(decision: AnatomyDecision) -> dict[str, str]:
    """The :data:`ANATOMY_COLUMNS` of an annotation row."""
    return {
        "anatomy": decision.anatomy.value,
        "anatomy_source": decision.source.value,
        "anatomy_reason": decision.reason,
    }


def non_brain_outcome(
    decision: AnatomyDecision, status: Status, reason: str, flags: tuple[SeriesFlag, ...]
) -> tuple[Status, str, tuple[SeriesFlag, ...]]:
    """A decided series' status, reason and flags after the gate.

    Parameters
    ----------
    decision
        The gate's decision on the series.
    status, reason, flags
        The decision policy's outcome, made without the pixel model's vote when the series is not brain.

    Returns
    -------
    tuple
        ``(status, reason, flags)`` unchanged for a brain (or undecided) series; for a non-brain series the
        ``non_brain`` flag (and no ``no_usable_pixels``: the pixels were set aside on purpose), and an UNKNOWN
        with a reason instead of an error when nothing was left to decide from.
    """
    if not decision.non_brain:
        return status, reason, flags
    kept = [f for f in flags if f != Flag.NO_USABLE_PIXELS]
    gated = tuple(dict.fromkeys([*kept, Flag.NON_BRAIN]))
    why = f"non-brain series ({decision.anatomy}, from {decision.source}): no pixel-model vote"
    if status == Status.ERROR:  # no header physics either
        return Status.UNKNOWN, f"{why}, and the header carries no acquisition physics", gated
    if status == Status.UNKNOWN:
        return status, f"{why}; header physics: {reason}", gated
    return status, reason, gated


def finish_row(decision: AnatomyDecision, out: dict[str, Any]) -> dict[str, Any]:
    """:func:`anatomy_columns` and :func:`non_brain_outcome` applied to an annotation row ``out`` (a table
    row read back, whose ``flags`` are ``;``-joined)."""
    out.update(anatomy_columns(decision))
    if not decision.non_brain:
        return out
    status, reason, flags = non_brain_outcome(
        decision,
        Status(as_text(out.get("status")) or Status.OK),
        as_text(out.get("reason")),
        parse_flags(as_text(out.get("flags"))),
    )
    out.update(status=str(status), reason=reason, flags=join_flags(flags))
    return out
