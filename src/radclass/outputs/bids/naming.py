"""BIDS names from radclass labels: datatypes, suffixes, entities and the file name they make.

Vocabulary and entity order follow the BIDS specification 1.11 (schema 1.2, the one ``bids-validator``
3.0 checks against): "Entities" appendix (entity table and order), "Magnetic Resonance Imaging" section
(anat, dwi, func, fmap, perf datatypes and their suffixes). The sequence -> (datatype, suffix) mapping itself
has one home, :data:`radclass.taxonomy.BIDS`; this module turns it into typed targets and says why a
sequence has no place in a raw BIDS dataset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from radclass.taxonomy import BIDS, SEQUENCES, UNKNOWN
from radclass.values import as_text

BIDS_VERSION = "1.11.1"  # the version bids-validator-deno 3.0.2 (schema 1.2.7) validates against


class Datatype(StrEnum):
    """Raw MRI datatypes (BIDS 1.11, "Magnetic Resonance Imaging": the ``<datatype>/`` folder)."""

    ANAT = "anat"  #: anatomical (structural) imaging
    DWI = "dwi"  #: diffusion-weighted imaging
    FUNC = "func"  #: task / resting-state functional MRI
    FMAP = "fmap"  #: field maps
    PERF = "perf"  #: perfusion (arterial spin labelling)


class Suffix(StrEnum):
    """The suffixes radclass writes (BIDS 1.11 MRI section; the file name's last ``_``-part)."""

    T1W = "T1w"  #: anat, non-parametric T1-weighted
    T2W = "T2w"  #: anat, T2-weighted
    FLAIR = "FLAIR"  #: anat, fluid-attenuated inversion recovery
    PDW = "PDw"  #: anat, proton-density weighted
    T2STARW = "T2starw"  #: anat, T2*-weighted
    ANGIO = "angio"  #: anat, angiography
    DWI = "dwi"  #: dwi, diffusion-weighted volumes (with .bval / .bvec)
    BOLD = "bold"  #: func, blood-oxygen-level-dependent contrast
    ASL = "asl"  #: perf, arterial spin labelling time series
    PHASEDIFF = "phasediff"  #: fmap, phase difference of two echoes (case 1)
    MAGNITUDE1 = "magnitude1"  #: fmap, magnitude of the first echo
    MAGNITUDE2 = "magnitude2"  #: fmap, magnitude of the second echo
    FIELDMAP = "fieldmap"  #: fmap, a directly reconstructed B0 map (case 3, needs Units)


class Entity(StrEnum):
    """The entities radclass sets, in the order BIDS 1.11 prescribes in file names (Entities appendix)."""

    SUB = "sub"  #: participant
    SES = "ses"  #: session
    TASK = "task"  #: task (func)
    ACQ = "acq"  #: acquisition: the parameters that tell series of one suffix apart
    CE = "ce"  #: contrast enhancement (agent)
    DIR = "dir"  #: phase-encoding direction
    RUN = "run"  #: repetition of an otherwise identical acquisition
    ECHO = "echo"  #: echo index of a multi-echo acquisition
    PART = "part"  #: mag / phase / real / imag component


ENTITY_ORDER: tuple[Entity, ...] = tuple(Entity)

# Entities each suffix accepts (BIDS 1.11 "Magnetic Resonance Imaging": the file-name templates).
ALLOWED: dict[Suffix, frozenset[Entity]] = {
    **{
        s: frozenset({Entity.SUB, Entity.SES, Entity.TASK, Entity.ACQ, Entity.CE, Entity.RUN, Entity.ECHO, Entity.PART})
        for s in (Suffix.T1W, Suffix.T2W, Suffix.FLAIR, Suffix.PDW, Suffix.T2STARW, Suffix.ANGIO)
    },
    Suffix.DWI: frozenset({Entity.SUB, Entity.SES, Entity.ACQ, Entity.DIR, Entity.RUN, Entity.PART}),
    Suffix.BOLD: frozenset(
        {Entity.SUB, Entity.SES, Entity.TASK, Entity.ACQ, Entity.CE, Entity.DIR, Entity.RUN, Entity.ECHO, Entity.PART}
    ),
    Suffix.ASL: frozenset({Entity.SUB, Entity.SES, Entity.ACQ, Entity.DIR, Entity.RUN}),
    **{
        s: frozenset({Entity.SUB, Entity.SES, Entity.ACQ, Entity.RUN})
        for s in (Suffix.PHASEDIFF, Suffix.MAGNITUDE1, Suffix.MAGNITUDE2, Suffix.FIELDMAP)
    },
}

# Why a sequence label has no raw BIDS place (the series is listed as skipped with this reason).
_NO_PLACE = {
    "SCOUT": "localizer (SCOUT): BIDS has no datatype for scout images",
    "OTHER": "sequence OTHER: radclass cannot name a BIDS suffix for it",
    UNKNOWN: "sequence UNKNOWN: the models abstained, so no BIDS suffix can be chosen",
    "ADC": "ADC map: a derived image, which belongs in derivatives/, not in a raw dataset",
    "DTI_MAP": "diffusion-tensor map: a derived image, which belongs in derivatives/, not in a raw dataset",
    "SWI": "SWI: BIDS 1.11 has no raw suffix for susceptibility-weighted images",
}

_LABEL_CHARS = re.compile(r"[^A-Za-z0-9]+")


def clean_label(text: Any, fallback: str = "unknown") -> str:
    """A BIDS label (letters and digits only, BIDS "Common principles": labels are alphanumeric)."""
    label = _LABEL_CHARS.sub("", as_text(text))
    return label or fallback


@dataclass(frozen=True)
class Target:
    """Where a sequence goes: datatype, suffix and the entities the sequence itself implies."""

    datatype: Datatype
    suffix: Suffix
    entities: dict[Entity, str] = field(default_factory=dict)


def target_for(sequence: str, contrast: str = "") -> Target | str:
    """The :class:`Target` of a sequence label, or the reason (a sentence) it has none.

    ``contrast == "post"`` adds ``ce-gadolinium`` to anatomical and functional targets (BIDS ``ce``: the
    contrast agent; MR contrast agents are gadolinium-based).
    """
    if sequence in _NO_PLACE:
        return _NO_PLACE[sequence]
    if sequence not in SEQUENCES:
        return f"sequence {sequence!r} is not a radclass label"
    entry = BIDS.get(sequence)
    if entry is None:
        return f"sequence {sequence}: no BIDS suffix"
    datatype, named = entry
    *parts, suffix = named.split("_")
    entities = {Entity(k): v for k, v in (p.split("-", 1) for p in parts)}
    try:
        target = Target(Datatype(datatype), Suffix(suffix), entities)
    except ValueError:
        return f"sequence {sequence}: {datatype}/{suffix} is not a raw BIDS datatype/suffix"
    if contrast == "post" and Entity.CE in ALLOWED[target.suffix]:
        target.entities.setdefault(Entity.CE, "gadolinium")
    return target


def file_stem(entities: dict[Entity, str], suffix: Suffix) -> str:
    """``sub-X_ses-Y_..._<suffix>`` with the entities in BIDS order (absent or empty ones left out)."""
    parts = [f"{e.value}-{entities[e]}" for e in ENTITY_ORDER if entities.get(e)]
    return "_".join([*parts, suffix.value])


def check_entities(entities: dict[Entity, str], suffix: Suffix) -> None:
    """Raise ValueError when an entity is not allowed for ``suffix`` or a label is not alphanumeric."""
    for e, v in entities.items():
        if v and e not in ALLOWED[suffix]:
            raise ValueError(f"BIDS does not allow the entity {e.value}- in a {suffix.value} file name.")
        if v and (e is not Entity.RUN and e is not Entity.ECHO) and not v.isalnum():
            raise ValueError(f"The {e.value}- label {v!r} must hold letters and digits only.")
