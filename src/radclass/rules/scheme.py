"""Class schemes: a label vocabulary other than the taxonomy's, its rules, and its map onto the default classes.

A scheme file (TOML, e.g. the packaged ``kasmanoff25.toml``) has one ``[scheme]`` table (``name``,
``description``, ``source``), one ``[[class]]`` table per class (``name``, ``description``, ``maps_to``: the
default class of :class:`radclass.taxonomy.SequenceClass` it falls under) and ``[[rule]]`` tables in the format of
:mod:`radclass.rules.engine` whose ``sequence`` names a class of the scheme. The models are trained on the default
classes; a scheme's labels reach them through :meth:`ClassScheme.to_default`.

The scheme ``default`` is the taxonomy itself with the packaged ``default.toml`` rules (every class maps onto
itself), so callers treat every scheme alike.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from radclass.config import parse_toml
from radclass.rules.engine import LabelRules, RulesError
from radclass.taxonomy import SEQUENCES, SequenceClass

#: The name of the taxonomy's own scheme.
DEFAULT_SCHEME = "default"
_NAME = re.compile(r"[A-Za-z0-9_-]+")
_SCHEME_KEYS = frozenset({"name", "description", "source"})
_CLASS_KEYS = frozenset({"name", "description", "maps_to"})
_TOP_KEYS = frozenset({"scheme", "class", "rule"})


class SchemeError(ValueError):
    """A class scheme cannot be used (unknown name, invalid file, inconsistent classes or rules)."""


@dataclass(frozen=True)
class SchemeClass:
    """One class of a scheme.

    Parameters
    ----------
    name
        The label as it appears in a labels table's ``sequence`` column.
    description
        What the class holds, in a sentence.
    maps_to
        The default class (:class:`~radclass.taxonomy.SequenceClass`, UNKNOWN excluded) it falls under.
    """

    name: str
    description: str
    maps_to: SequenceClass

    def __post_init__(self) -> None:
        if not self.name or not self.name.strip() or self.name != self.name.strip():
            raise SchemeError(f"A scheme class needs a name without surrounding spaces, not {self.name!r}.")
        if not self.description.strip():
            raise SchemeError(f"The scheme class {self.name!r} needs a description.")
        if self.maps_to not in SEQUENCES:
            raise SchemeError(
                f"The scheme class {self.name!r} maps to {str(self.maps_to)!r}, which is not a default class "
                f"({', '.join(SEQUENCES)})."
            )


@dataclass(frozen=True)
class ClassScheme:
    """A label vocabulary, its label rules and its map onto the default classes.

    Parameters
    ----------
    name
        The scheme's name (``kasmanoff25``); ``default`` is the taxonomy's own.
    description
        What the scheme is for.
    source
        Where its classes come from (a citation).
    classes
        The classes, in order, names unique.
    rules
        Label rules whose every ``sequence`` is a class of the scheme.

    Raises
    ------
    SchemeError
        Duplicate or missing classes, or a rule naming a class outside the scheme.
    """

    name: str
    description: str
    source: str
    classes: tuple[SchemeClass, ...]
    rules: LabelRules = field(compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise SchemeError("A class scheme needs a name.")
        if not self.classes:
            raise SchemeError(f"The class scheme {self.name!r} has no classes.")
        counts = Counter(c.name for c in self.classes)
        duplicates = sorted(n for n, k in counts.items() if k > 1)
        if duplicates:
            raise SchemeError(f"The class scheme {self.name!r} names these classes more than once: {duplicates}.")
        outside = sorted({r.sequence for r in self.rules.rules} - set(counts))
        if outside:
            raise SchemeError(
                f"The rules of the class scheme {self.name!r} name classes the scheme does not have: {outside}."
            )

    @property
    def names(self) -> tuple[str, ...]:
        """The class names, in order."""
        return tuple(c.name for c in self.classes)

    @property
    def is_default(self) -> bool:
        """Whether this is the taxonomy's own scheme (labels need no mapping)."""
        return self.name == DEFAULT_SCHEME

    def to_default(self, label: str) -> SequenceClass:
        """The default class a label of this scheme falls under; :class:`SchemeError` for a label not in it."""
        for c in self.classes:
            if c.name == label:
                return c.maps_to
        raise SchemeError(f"{label!r} is not a class of the scheme {self.name!r} ({', '.join(self.names)}).")

    def map_to_default(self, labels: Iterable[str]) -> list[str]:
        """Each label (a labels column, or predictions) as its default class; empty labels stay empty."""
        return [str(self.to_default(v)) if v else "" for v in labels]

    @classmethod
    def from_toml(cls, text: str, source: str) -> ClassScheme:
        """A scheme from the text of a scheme file; :class:`SchemeError` with a sentence naming ``source``."""
        doc = parse_toml(text, source, SchemeError)
        return cls.from_document(doc, source)

    @classmethod
    def from_document(cls, doc: Mapping[str, Any], source: str) -> ClassScheme:
        """A scheme from a parsed scheme file (module docstring), every key checked."""
        unknown = sorted(set(doc) - _TOP_KEYS)
        if unknown:
            raise SchemeError(
                f"{source} has unknown tables {unknown}; a scheme file has [scheme], [[class]], [[rule]]."
            )
        head = doc.get("scheme")
        if not isinstance(head, dict):
            raise SchemeError(f"{source} has no [scheme] table (name, description, source): it is not a scheme file.")
        _check_keys(head, _SCHEME_KEYS, f"{source}: [scheme]")
        name = head.get("name")
        if not isinstance(name, str) or not _NAME.fullmatch(name) or name == DEFAULT_SCHEME:
            raise SchemeError(
                f"{source}: [scheme] needs a name of letters, digits, '-' or '_' other than {DEFAULT_SCHEME!r} "
                f"(the taxonomy's own scheme), not {name!r}."
            )
        tables = doc.get("class", [])
        if not isinstance(tables, list):
            raise SchemeError(f"{source}: 'class' must be an array of tables ([[class]]).")
        classes = []
        for i, table in enumerate(tables):
            where = f"{source}: class {table.get('name', i + 1) if isinstance(table, dict) else i + 1!r}"
            _check_keys(table, _CLASS_KEYS, where)
            missing = sorted(k for k in _CLASS_KEYS if not isinstance(table.get(k), str))
            if missing:
                raise SchemeError(f"{where} needs the text keys {missing}.")
            classes.append(SchemeClass(table["name"], table["description"], _default_class(table["maps_to"], where)))
        try:
            rules = LabelRules.from_document(doc, source)
        except RulesError as err:
            raise SchemeError(str(err)) from None
        return cls(
            name,
            str(head.get("description", "")),
            str(head.get("source", "")),
            tuple(classes),
            rules,
        )

    @classmethod
    def default(cls) -> ClassScheme:
        """The taxonomy's own scheme: its 16 classes, each mapping onto itself, and the packaged default rules."""
        classes = tuple(
            SchemeClass(str(s), f"The taxonomy's {s} class (shared/docs/taxonomy.md).", s) for s in SEQUENCES
        )
        return cls(
            DEFAULT_SCHEME, "The taxonomy's sequence classes.", "shared/docs/taxonomy.md", classes, LabelRules.load()
        )


def load_scheme(name_or_path: str | Path) -> ClassScheme:
    """A scheme by packaged name (``default``, ``kasmanoff25``) or from a scheme file.

    Raises
    ------
    SchemeError
        The name is neither a packaged scheme nor a file, or the file is not a valid scheme.
    """
    text = str(name_or_path)
    if text == DEFAULT_SCHEME:
        return ClassScheme.default()
    path = Path(text)
    if path.suffix == ".toml" or path.is_file():
        if not path.is_file():
            raise SchemeError(f"The scheme file {path} does not exist.")
        return ClassScheme.from_toml(path.read_text(encoding="utf-8"), str(path))
    packaged = packaged_schemes()
    if text not in packaged:
        raise SchemeError(
            f"There is no class scheme {text!r}: the packaged schemes are {', '.join(packaged)}, or give a file."
        )
    resource = resources.files("radclass.rules").joinpath(f"{text}.toml")
    return ClassScheme.from_toml(resource.read_text(encoding="utf-8"), f"the packaged scheme {text}.toml")


def packaged_schemes() -> tuple[str, ...]:
    """The names of the packaged schemes: ``default`` and every packaged TOML with a ``[scheme]`` table."""
    names = [DEFAULT_SCHEME]
    for entry in sorted(resources.files("radclass.rules").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml") and entry.name != "default.toml":
            if "scheme" in parse_toml(entry.read_text(encoding="utf-8"), entry.name, SchemeError):
                names.append(entry.name.removesuffix(".toml"))
    return tuple(names)


def _check_keys(table: Any, allowed: frozenset[str], where: str) -> None:
    if not isinstance(table, dict):
        raise SchemeError(f"{where} must be a table.")
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise SchemeError(f"{where} has unknown keys {unknown}; allowed are {sorted(allowed)}.")


def _default_class(value: str, where: str) -> SequenceClass:
    try:
        return SequenceClass(value)
    except ValueError:
        raise SchemeError(
            f"{where} maps to {value!r}, which is not a default class ({', '.join(SEQUENCES)})."
        ) from None
