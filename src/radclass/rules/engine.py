"""Apply ordered label rules (TOML) to a series row; the first rule that matches names the class.

A rule matches when every condition it states holds:

* ``description`` - regex (case-insensitive) searched in SeriesDescription and ProtocolName;
* ``image_type`` - regex searched in the backslash-joined ImageType (and FrameType);
* ``not_description`` / ``not_image_type`` - regexes that must NOT match;
* ``tr``, ``te``, ``ti``, ``flip`` - ``[min, max]`` ranges (ms, degrees); a missing value fails the condition.

Rules derive training labels from an archive (``radclass rules``) and give a third opinion at annotation
time (flag ``description_disagrees`` when they contradict the models: a label-audit signal).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from radclass.values import as_number, as_text

_RANGES = {"tr": "repetition_time", "te": "echo_time", "ti": "inversion_time", "flip": "flip_angle"}


@dataclass(frozen=True)
class Rule:
    name: str
    sequence: str
    description: re.Pattern[str] | None = None
    not_description: re.Pattern[str] | None = None
    image_type: re.Pattern[str] | None = None
    not_image_type: re.Pattern[str] | None = None
    ranges: tuple[tuple[str, float, float], ...] = ()
    contrast: str | None = None

    def matches(self, row: Mapping[str, Any]) -> bool:
        text = " ".join(as_text(row.get(k)) for k in ("series_description", "protocol_name")).strip()
        itype = "\\".join(as_text(row.get(k)) for k in ("image_type", "frame_type"))
        if self.description is not None and (not text or not _search(self.description, text)):
            return False
        if self.not_description is not None and _search(self.not_description, text):
            return False
        if self.image_type is not None and not self.image_type.search(itype):
            return False
        if self.not_image_type is not None and self.not_image_type.search(itype):
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

    @classmethod
    def load(cls, path: str | Path | None = None) -> LabelRules:
        """Rules from a TOML file, or the packaged defaults (``radclass/rules/default.toml``)."""
        if path is None:
            text = resources.files("radclass.rules").joinpath("default.toml").read_text()
        else:
            text = Path(path).read_text()
        return cls.from_toml(text)

    @classmethod
    def from_toml(cls, text: str) -> LabelRules:
        doc = tomllib.loads(text)
        rules = []
        for i, r in enumerate(doc.get("rule", [])):

            def rx(key: str, r: dict[str, Any] = r) -> re.Pattern[str] | None:
                return re.compile(r[key], re.IGNORECASE) if key in r else None

            ranges = tuple((_RANGES[k], float(r[k][0]), float(r[k][1])) for k in _RANGES if k in r)
            rules.append(
                Rule(
                    r.get("name", f"rule{i + 1}"),
                    r["sequence"],
                    rx("description"),
                    rx("not_description"),
                    rx("image_type"),
                    rx("not_image_type"),
                    ranges,
                    r.get("contrast"),
                )
            )
        return cls(rules)

    def label(self, row: Mapping[str, Any]) -> tuple[str, str] | None:
        """``(sequence, rule name)`` of the first matching rule, or None."""
        for rule in self.rules:
            if rule.matches(row):
                return rule.sequence, rule.name
        return None


def _search(pattern: re.Pattern[str], text: str) -> bool:
    """Search the text as written and with underscores as spaces (so ``\\b`` works on ``asl_2d_tra``)."""
    return bool(pattern.search(text) or pattern.search(text.replace("_", " ")))
