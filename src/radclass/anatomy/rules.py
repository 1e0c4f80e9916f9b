"""Editable anatomy rules (``radclass/rules/anatomy.toml``): Body Part Examined values and description regexes.

``[body_part]`` maps each region to the Body Part Examined values that mean it; ``[[description]]`` tables are
regexes (case-insensitive, searched in the text as written and with underscores as spaces) naming a region.
See the packaged file for the format; :class:`AnatomyRules` reports every problem as a sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from radclass.anatomy.vocabulary import Anatomy
from radclass.config import parse_toml

_NOT_A_RULE_REGION = (Anatomy.BODY, Anatomy.UNKNOWN)


class AnatomyRulesError(ValueError):
    """An anatomy rules file that cannot be used; the message says what to fix."""


def normalise_body_part(value: str) -> str:
    """A Body Part Examined value as compared: upper case, no spaces, hyphens or underscores."""
    return re.sub(r"[\s_\-]+", "", str(value or "")).upper()


@dataclass(frozen=True)
class DescriptionRule:
    """One regex naming a region."""

    anatomy: Anatomy
    pattern: re.Pattern[str]

    def matches(self, text: str) -> bool:
        """True when the pattern is found in ``text`` or in ``text`` with underscores as spaces."""
        return bool(self.pattern.search(text) or self.pattern.search(text.replace("_", " ")))


@dataclass(frozen=True)
class AnatomyRules:
    """Body Part Examined values per region and the description rules."""

    body_parts: dict[str, Anatomy]
    descriptions: tuple[DescriptionRule, ...]

    @classmethod
    def load(cls, path: str | Path | None = None) -> AnatomyRules:
        """Rules from a TOML file, or the packaged ``radclass/rules/anatomy.toml``."""
        if path is None:
            return cls.from_toml(
                resources.files("radclass.rules").joinpath("anatomy.toml").read_text(), "the packaged anatomy rules"
            )
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise AnatomyRulesError(f"Cannot read the anatomy rules {path}: {exc.strerror or exc}.") from None
        return cls.from_toml(text, str(path))

    @classmethod
    def from_toml(cls, text: str, source: str = "anatomy rules") -> AnatomyRules:
        """Parse and check the TOML form."""
        doc = parse_toml(text, source, AnatomyRulesError)
        body_parts: dict[str, Anatomy] = {}
        for region, values in (doc.get("body_part") or {}).items():
            anatomy = _region(region, source)
            for value in values if isinstance(values, list) else [values]:
                key = normalise_body_part(value)
                if body_parts.setdefault(key, anatomy) is not anatomy:
                    raise AnatomyRulesError(
                        f"{source}: body part {value!r} is listed under both {body_parts[key]} and {anatomy}."
                    )
        rules = []
        for i, item in enumerate(doc.get("description") or []):
            if "anatomy" not in item or "pattern" not in item:
                raise AnatomyRulesError(f"{source}: description rule {i + 1} needs both 'anatomy' and 'pattern'.")
            try:
                pattern = re.compile(item["pattern"], re.IGNORECASE)
            except re.error as exc:
                raise AnatomyRulesError(
                    f"{source}: description rule {i + 1} ({item['anatomy']}) is not a valid regular expression: {exc}."
                ) from None
            rules.append(DescriptionRule(_region(item["anatomy"], source), pattern))
        return cls(body_parts=body_parts, descriptions=tuple(rules))

    def body_part(self, value: str) -> Anatomy | None:
        """The region a Body Part Examined value names, or None (empty or not listed)."""
        return self.body_parts.get(normalise_body_part(value))

    def regions_named(self, text: str) -> list[Anatomy]:
        """Every region whose description rules match ``text``, in rule order, each once."""
        if not text.strip():
            return []
        return list(dict.fromkeys(r.anatomy for r in self.descriptions if r.matches(text)))


def _region(name: str, source: str) -> Anatomy:
    try:
        anatomy = Anatomy(str(name).upper())
    except ValueError:
        anatomy = None
    if anatomy is None or anatomy in _NOT_A_RULE_REGION:
        allowed = ", ".join(a.value for a in Anatomy if a not in _NOT_A_RULE_REGION)
        raise AnatomyRulesError(f"{source}: {name!r} is not a region a rule can name ({allowed}).")
    return anatomy
