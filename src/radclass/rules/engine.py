"""Apply ordered label rules (TOML) to a series row; the first rule that matches names the class.

A rule matches when every condition it states holds:

* ``description`` - regex (case-insensitive) searched in SeriesDescription and ProtocolName;
* ``image_type`` - regex searched in the backslash-joined ImageType (and FrameType);
* ``not_description`` / ``not_image_type`` - regexes that must NOT match;
* ``tr``, ``te``, ``ti``, ``flip`` - ``[min, max]`` ranges (ms, degrees); a missing value fails the condition;
* ``acquisition`` - ``"2D"`` or ``"3D"``, the MR Acquisition Type (0018,0023); a missing value fails it.

Rules files are read strictly: a key outside this list, a bad regex or range, or a rule without ``sequence`` is
refused with a sentence naming the file and the rule (:class:`RulesError`).

Rules derive training labels from an archive (``radclass rules``) and give a third opinion at annotation
time (flag ``description_disagrees`` when they contradict the models: a label-audit signal).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

from radclass.config import parse_toml
from radclass.taxonomy import CONTRASTS
from radclass.values import as_number, as_text

_RANGES = {"tr": "repetition_time", "te": "echo_time", "ti": "inversion_time", "flip": "flip_angle"}
_RANGE_FIELDS = tuple(_RANGES.values())
_LABELS_KEPT = 65536  # label() results remembered per LabelRules
_PATTERNS = ("description", "not_description", "image_type", "not_image_type")
_RULE_KEYS = frozenset({"name", "sequence", "contrast", "acquisition", *_PATTERNS, *_RANGES})
_Texts = tuple[str, str, str]  # what the rules search in a row (_texts)


class RulesError(ValueError):
    """A rules file cannot be used (not TOML, an unknown key, a bad regex or range, a rule without a class)."""


class AcquisitionType(StrEnum):
    """MR Acquisition Type (0018,0023), DICOM PS3.3 C.8.3.1 (MR Image Module): the enumerated values."""

    TWO_D = "2D"
    """Frequency x phase encoded slices (2D)."""
    THREE_D = "3D"
    """Frequency x phase x phase encoded volume (3D)."""


@dataclass(frozen=True)
class Rule:
    """One label rule: the class it names and the conditions that must all hold (module docstring)."""

    name: str
    sequence: str
    description: re.Pattern[str] | None = None
    not_description: re.Pattern[str] | None = None
    image_type: re.Pattern[str] | None = None
    not_image_type: re.Pattern[str] | None = None
    ranges: tuple[tuple[str, float, float], ...] = ()
    contrast: str | None = None
    acquisition: AcquisitionType | None = None

    def matches(self, row: Mapping[str, Any]) -> bool:
        """Whether every condition of the rule holds for ``row``."""
        return self.matches_texts(row, _texts(row))

    def matches_texts(self, row: Mapping[str, Any], texts: _Texts) -> bool:
        """:meth:`matches` with the row's texts (:func:`_texts`) made once for all the rules."""
        text, spaced, itype = texts
        if self.description is not None and (not text or not _search(self.description, text, spaced)):
            return False
        if self.not_description is not None and _search(self.not_description, text, spaced):
            return False
        if self.image_type is not None and not self.image_type.search(itype):
            return False
        if self.not_image_type is not None and self.not_image_type.search(itype):
            return False
        if self.acquisition is not None and as_text(row.get("acquisition")) != self.acquisition:
            return False
        for field, lo, hi in self.ranges:
            v = as_number(row.get(field))
            if v is None or not lo <= v <= hi:
                return False
        return True


class LabelRules:
    """An ordered list of :class:`Rule`; :meth:`label` returns the first match."""

    def __init__(self, rules: list[Rule]):
        self.rules = rules
        self._labels: dict[tuple, tuple[str, str] | None] = {}  # label() per what it reads of a row

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_labels": {}}  # pickled without the remembered labels

    @classmethod
    def load(cls, path: str | Path | None = None) -> LabelRules:
        """Rules from a TOML file, or the packaged defaults (``radclass/rules/default.toml``)."""
        if path is None:
            return cls.from_toml(resources.files("radclass.rules").joinpath("default.toml").read_text(), "default.toml")
        return cls.from_toml(Path(path).read_text(), str(path))

    @classmethod
    def from_toml(cls, text: str, source: str = "the rules text") -> LabelRules:
        """Rules from a TOML text; :class:`RulesError` naming ``source`` when it is not a valid rules file."""
        return cls.from_document(parse_toml(text, source, RulesError), source)

    @classmethod
    def from_document(cls, doc: Mapping[str, Any], source: str) -> LabelRules:
        """Rules from the ``[[rule]]`` tables of a parsed TOML document (other top-level tables are ignored)."""
        tables = doc.get("rule", [])
        if not isinstance(tables, list):
            raise RulesError(f"{source}: 'rule' must be an array of tables ([[rule]]), not {type(tables).__name__}.")
        return cls([_rule(r, i, source) for i, r in enumerate(tables)])

    def label(self, row: Mapping[str, Any]) -> tuple[str, str] | None:
        """``(sequence, rule name)`` of the first matching rule, or None (remembered per distinct texts,
        acquisition and range values: the series of one protocol repeat them)."""
        texts = _texts(row)
        key = (texts, as_text(row.get("acquisition")), *(as_number(row.get(f)) for f in _RANGE_FIELDS))
        if key not in self._labels:
            if len(self._labels) >= _LABELS_KEPT:
                self._labels.clear()
            self._labels[key] = next(
                ((rule.sequence, rule.name) for rule in self.rules if rule.matches_texts(row, texts)), None
            )
        return self._labels[key]


def _texts(row: Mapping[str, Any]) -> _Texts:
    """(SeriesDescription + ProtocolName, the same with underscores as spaces, backslash-joined ImageType +
    FrameType) of a row, as the rules read them."""
    text = " ".join(as_text(row.get(k)) for k in ("series_description", "protocol_name")).strip()
    return text, text.replace("_", " "), "\\".join(as_text(row.get(k)) for k in ("image_type", "frame_type"))


def _rule(table: Mapping[str, Any], index: int, source: str) -> Rule:
    """One :class:`Rule` from its TOML table, every key checked."""
    name = str(table.get("name", f"rule{index + 1}"))
    where = f"{source}: rule {name!r}"
    unknown = sorted(set(table) - _RULE_KEYS)
    if unknown:
        raise RulesError(f"{where} has unknown keys {unknown}; a rule may have {sorted(_RULE_KEYS)}.")
    if not isinstance(table.get("sequence"), str) or not table["sequence"]:
        raise RulesError(f"{where} names no class: give it a 'sequence' string.")
    patterns: dict[str, re.Pattern[str] | None] = {}
    for key in _PATTERNS:
        try:
            patterns[key] = re.compile(table[key], re.IGNORECASE) if key in table else None
        except (re.error, TypeError) as err:
            raise RulesError(f"{where} has an invalid regular expression in {key!r}: {err}.") from None
    ranges = []
    for key, field in _RANGES.items():
        if key not in table:
            continue
        value = table[key]
        if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, int | float) for v in value)):
            raise RulesError(f"{where} needs {key!r} as [min, max] numbers, not {value!r}.")
        ranges.append((field, float(value[0]), float(value[1])))
    contrast = table.get("contrast")
    if contrast is not None and contrast not in CONTRASTS:
        raise RulesError(f"{where} has contrast {contrast!r}; it must be one of {[c.value for c in CONTRASTS]}.")
    acquisition = table.get("acquisition")
    if acquisition is not None and acquisition not in tuple(AcquisitionType):
        raise RulesError(
            f"{where} has acquisition {acquisition!r}; it must be one of {[a.value for a in AcquisitionType]}."
        )
    return Rule(
        name,
        table["sequence"],
        patterns["description"],
        patterns["not_description"],
        patterns["image_type"],
        patterns["not_image_type"],
        tuple(ranges),
        contrast,
        AcquisitionType(acquisition) if acquisition is not None else None,
    )


def _search(pattern: re.Pattern[str], text: str, spaced: str) -> bool:
    """Search the text as written and with underscores as spaces (``spaced``, so ``\\b`` works on
    ``asl_2d_tra``; searched only when it differs)."""
    return bool(pattern.search(text) or (spaced != text and pattern.search(spaced)))
