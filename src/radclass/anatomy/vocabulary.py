"""The anatomy vocabulary: which region of the body a series images, and where that decision came from.

The regions group the DICOM Body Part Examined defined terms (PS3.16 Annex L, "Correspondence of Anatomic
Region Codes and Body Part Examined Defined Terms", CID 4031 "Common Anatomic Regions") into the few classes
that matter for routing and for the brain models: only :attr:`Anatomy.BRAIN` series get the brain sequence
models' pixel vote.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Anatomy(StrEnum):
    """Region imaged, grouped from the Body Part Examined (0018,0015) defined terms of PS3.16 Annex L."""

    BRAIN = "BRAIN"
    """Head and brain (HEAD, BRAIN, SKULL; orbit, inner-ear and pituitary protocols are head protocols)."""
    NECK = "NECK"
    """Neck soft tissue, larynx, thyroid (NECK, LARYNX, THYROID)."""
    SPINE = "SPINE"
    """Spinal column and cord (SPINE, CSPINE, TSPINE, LSPINE, SSPINE, COCCYX)."""
    CHEST = "CHEST"
    """Thorax and lungs (CHEST, LUNG, THORAX)."""
    HEART = "HEART"
    """Heart and great vessels (HEART, CARDIAC, AORTA)."""
    BREAST = "BREAST"
    """Breast (BREAST)."""
    ABDOMEN = "ABDOMEN"
    """Abdomen and its organs (ABDOMEN, LIVER, KIDNEY, PANCREAS, GALLBLADDER, SPLEEN)."""
    PELVIS = "PELVIS"
    """Pelvis and its organs (PELVIS, PROSTATE, UTERUS, BLADDER, RECTUM)."""
    UPPER_LIMB = "UPPER_LIMB"
    """Shoulder to hand (SHOULDER, ARM, ELBOW, FOREARM, WRIST, HAND, FINGER)."""
    LOWER_LIMB = "LOWER_LIMB"
    """Hip to foot (HIP, THIGH, KNEE, LEG, ANKLE, FOOT, TOE)."""
    WHOLE_BODY = "WHOLE_BODY"
    """Whole body (WHOLEBODY)."""
    BODY = "BODY"
    """Not a head, region not determined (the pixel measure's answer)."""
    UNKNOWN = "UNKNOWN"
    """Nothing in the header, the descriptions or the pixels decides."""

    @property
    def is_brain(self) -> bool:
        """True for the region the brain sequence models were trained on."""
        return self is Anatomy.BRAIN

    @property
    def is_non_brain(self) -> bool:
        """True for every decided region other than the brain (UNKNOWN is not non-brain)."""
        return self not in (Anatomy.BRAIN, Anatomy.UNKNOWN)


class AnatomySource(StrEnum):
    """What decided the anatomy of a series."""

    HEADER = "header"
    """The Body Part Examined attribute (0018,0015), or its ``BodyPartExamined`` sidecar key."""
    RULES = "rules"
    """A description rule over SeriesDescription/ProtocolName (0008,103E)/(0018,1030), then StudyDescription
    (0008,1030)."""
    PIXELS = "pixels"
    """The measured shape of the foreground in millimetres (:mod:`radclass.anatomy.shape`)."""
    NONE = ""
    """Nothing decided (anatomy UNKNOWN)."""


@dataclass(frozen=True)
class AnatomyDecision:
    """The anatomy of one series, what decided it, and why (a sentence for a person)."""

    anatomy: Anatomy
    source: AnatomySource
    reason: str

    def __post_init__(self) -> None:
        if not isinstance(self.anatomy, Anatomy):
            raise TypeError(f"The anatomy must be an Anatomy member, not {self.anatomy!r}.")
        if not isinstance(self.source, AnatomySource):
            raise TypeError(f"The anatomy source must be an AnatomySource member, not {self.source!r}.")
        if (self.anatomy is Anatomy.UNKNOWN) != (self.source is AnatomySource.NONE):
            raise ValueError(
                "An UNKNOWN anatomy has no source, and a decided anatomy must name its source; "
                f"got {self.anatomy} from {self.source!r}."
            )

    @property
    def non_brain(self) -> bool:
        """True when the series was decided to image something other than the brain."""
        return self.anatomy.is_non_brain


UNDECIDED = AnatomyDecision(Anatomy.UNKNOWN, AnatomySource.NONE, "no body part, description or pixel evidence")
