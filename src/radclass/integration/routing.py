"""Routing rules: which DICOM nodes a series is forwarded to, given what radclass decided it is.

A :class:`RoutingTable` holds named destinations, ordered :class:`Route` rules and a default. A series goes
to the union of the destinations of every route that selects it; a series no route selects goes to the
default destinations (none unless configured). A route selects a series when every condition it states holds:

* ``sequence`` - labels of the taxonomy, ``UNKNOWN`` (the series was not classified: abstention, error,
  non-MR), or ``*`` (any classified series);
* ``orientation``, ``contrast``, ``anatomy`` - allowed values of those columns;
* ``min_confidence`` - the decision's confidence is at least this.

Rules come from a TOML file::

    default = ["ARCHIVE"]            # unselected series (omit: they go nowhere)

    [destination.NEURO]
    address = "NEURO@10.0.0.5:104"   # AET@HOST:PORT

    [destination.ARCHIVE]
    address = "ARCHIVE@10.0.0.6:104"

    [[route]]
    name = "tumour protocol"
    sequence = ["T1C", "FLAIR"]
    orientation = ["AX"]
    min_confidence = 0.8
    to = ["NEURO"]

    [retry]                          # delivery retries (see radclass.integration.delivery)
    first_delay_seconds = 2
    max_delay_seconds = 300
    max_attempts = 0                 # 0: retry for ever

or from short command-line rules ``SELECTOR[QUALIFIERS]=AET@HOST:PORT``, for example
``T1C,FLAIR=NEURO@10.0.0.5:104`` or ``DWI[orientation=AX;min_confidence=0.9]=STROKE@10.0.0.7:104``; the
destination is named by its AE title. Every problem is reported as a :class:`RoutingError` sentence.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radclass.anatomy.vocabulary import Anatomy
from radclass.config import parse_toml
from radclass.integration.forward import Destination
from radclass.taxonomy import CONTRASTS, SEQUENCES, UNKNOWN, Plane
from radclass.values import as_number, as_text

ANY = "*"
#: Values a route may name, per condition.
SEQUENCE_CHOICES = frozenset((*SEQUENCES, UNKNOWN, ANY))
ORIENTATION_CHOICES = frozenset(Plane)
CONTRAST_CHOICES = frozenset(CONTRASTS)
ANATOMY_CHOICES = frozenset(a.value for a in Anatomy)
_ROUTE_KEYS = {"name", "sequence", "orientation", "contrast", "anatomy", "min_confidence", "to"}
_SHORT_RULE = re.compile(r"^(?P<selector>[^=\[\]]+?)\s*(\[(?P<qualifiers>[^\]]*)\])?\s*=\s*(?P<destination>[^=\[\]]+)$")


class RoutingError(ValueError):
    """A routing rule or table that cannot be used; the message says what and how to fix it."""


def routing_label(row: Mapping[str, Any]) -> str:
    """The sequence label routing uses: the decided sequence of an ``ok`` row, otherwise ``UNKNOWN``."""
    sequence = as_text(row.get("sequence")).upper()
    if as_text(row.get("status")) == "ok" and sequence in SEQUENCES:
        return sequence
    return UNKNOWN


@dataclass(frozen=True)
class RetryPolicy:
    """Delays between delivery attempts: ``first_delay_seconds`` doubling up to ``max_delay_seconds``;
    after ``max_attempts`` failed attempts (0: never) a delivery is given up as failed."""

    first_delay_seconds: float = 2.0
    max_delay_seconds: float = 300.0
    max_attempts: int = 0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.first_delay_seconds) and self.first_delay_seconds > 0):
            raise RoutingError(
                f"The first retry delay must be a positive number of seconds, not {self.first_delay_seconds!r}."
            )
        if not (math.isfinite(self.max_delay_seconds) and self.max_delay_seconds >= self.first_delay_seconds):
            raise RoutingError(
                f"The longest retry delay ({self.max_delay_seconds!r} s) must be at least the "
                f"first one ({self.first_delay_seconds!r} s)."
            )
        if not isinstance(self.max_attempts, int) or self.max_attempts < 0:
            raise RoutingError(
                f"The number of delivery attempts must be a whole number, 0 for no limit, not {self.max_attempts!r}."
            )

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt."""
        return min(self.first_delay_seconds * 2.0 ** max(attempts - 1, 0), self.max_delay_seconds)

    def gives_up(self, attempts: int) -> bool:
        """True when ``attempts`` failed attempts are all a delivery gets."""
        return self.max_attempts > 0 and attempts >= self.max_attempts


def _choices(values: Any, allowed: frozenset[str], what: str, route: str) -> frozenset[str]:
    """Upper-cased (contrast: lower-cased) values of one condition, each checked against ``allowed``."""
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, (list, tuple, frozenset, set)) or not values:
        raise RoutingError(f"Route {route!r}: {what} must be a non-empty list of values.")
    lower = what == "contrast"
    out = frozenset(str(v).strip().lower() if lower else str(v).strip().upper() for v in values)
    unknown = sorted(out - allowed)
    if unknown:
        raise RoutingError(f"Route {route!r}: {what} {', '.join(unknown)} is not one of {', '.join(sorted(allowed))}.")
    return out


@dataclass(frozen=True)
class Route:
    """One rule: the conditions a series must meet and the destinations (names) it then goes to.

    An empty condition set means "any value"; ``sequences`` must name at least one label.
    """

    name: str
    sequences: frozenset[str]
    to: tuple[str, ...]
    orientations: frozenset[str] = frozenset()
    contrasts: frozenset[str] = frozenset()
    anatomies: frozenset[str] = frozenset()
    min_confidence: float | None = None

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise RoutingError("A route needs a non-empty name.")
        for values, allowed, what in (
            (self.sequences, SEQUENCE_CHOICES, "sequence"),
            (self.orientations, ORIENTATION_CHOICES, "orientation"),
            (self.contrasts, CONTRAST_CHOICES, "contrast"),
            (self.anatomies, ANATOMY_CHOICES, "anatomy"),
        ):
            bad = sorted(set(values) - allowed)
            if bad:
                raise RoutingError(
                    f"Route {self.name!r}: {what} {', '.join(bad)} is not one of {', '.join(sorted(allowed))}."
                )
        if not self.sequences:
            raise RoutingError(f"Route {self.name!r} must name at least one sequence (or * for any).")
        if not self.to:
            raise RoutingError(f"Route {self.name!r} must name at least one destination.")
        if self.min_confidence is not None and not 0.0 <= self.min_confidence <= 1.0:
            raise RoutingError(
                f"Route {self.name!r}: min_confidence must lie between 0 and 1, not {self.min_confidence!r}."
            )

    def selects(self, row: Mapping[str, Any]) -> bool:
        """True when the series ``row`` (an annotation table row) meets every condition of the route."""
        label = routing_label(row)
        if not (label in self.sequences or (ANY in self.sequences and label != UNKNOWN)):
            return False
        if self.orientations and as_text(row.get("orientation")).upper() not in self.orientations:
            return False
        if self.contrasts and as_text(row.get("contrast")).lower() not in self.contrasts:
            return False
        if self.anatomies and (as_text(row.get("anatomy")).upper() or Anatomy.UNKNOWN) not in self.anatomies:
            return False
        if self.min_confidence is not None:
            confidence = as_number(row.get("confidence"))
            if confidence is None or confidence < self.min_confidence:
                return False
        return True

    @classmethod
    def from_mapping(cls, item: Mapping[str, Any], default_name: str) -> Route:
        """A route from one ``[[route]]`` table of the TOML file."""
        name = str(item.get("name") or default_name)
        extra = sorted(set(item) - _ROUTE_KEYS)
        if extra:
            raise RoutingError(
                f"Route {name!r}: unknown key {', '.join(extra)}; the keys are {', '.join(sorted(_ROUTE_KEYS))}."
            )
        if "sequence" not in item or "to" not in item:
            raise RoutingError(f"Route {name!r} needs both 'sequence' and 'to'.")
        to = item["to"]
        to = (to,) if isinstance(to, str) else tuple(str(t) for t in to)

        def optional(key: str, allowed: frozenset[str]) -> frozenset[str]:
            return _choices(item[key], allowed, key, name) if key in item else frozenset()

        confidence = item.get("min_confidence")
        if confidence is not None and (isinstance(confidence, bool) or not isinstance(confidence, (int, float))):
            raise RoutingError(f"Route {name!r}: min_confidence must be a number between 0 and 1, not {confidence!r}.")
        return cls(
            name=name,
            sequences=_choices(item["sequence"], SEQUENCE_CHOICES, "sequence", name),
            to=to,
            orientations=optional("orientation", ORIENTATION_CHOICES),
            contrasts=optional("contrast", CONTRAST_CHOICES),
            anatomies=optional("anatomy", ANATOMY_CHOICES),
            min_confidence=None if confidence is None else float(confidence),
        )


@dataclass(frozen=True)
class RoutingTable:
    """Named destinations, ordered routes and the default destinations of unselected series."""

    destinations: Mapping[str, Destination]
    routes: tuple[Route, ...] = ()
    default: tuple[str, ...] = ()
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        for route in self.routes:
            missing = [t for t in route.to if t not in self.destinations]
            if missing:
                raise RoutingError(
                    f"Route {route.name!r} sends to {', '.join(missing)}, which is not a defined "
                    f"destination (defined: {', '.join(sorted(self.destinations)) or 'none'})."
                )
        missing = [t for t in self.default if t not in self.destinations]
        if missing:
            raise RoutingError(f"The default destination {', '.join(missing)} is not a defined destination.")
        names = [r.name for r in self.routes]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise RoutingError(f"Route names must be unique; {', '.join(twice)} is used more than once.")

    def select(self, row: Mapping[str, Any]) -> tuple[str, ...]:
        """Names of the destinations of the series ``row``, in route order, each once."""
        chosen = [t for route in self.routes if route.selects(row) for t in route.to]
        return tuple(dict.fromkeys(chosen or self.default))

    # -- reading ----------------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> RoutingTable:
        """Read a TOML routing file."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise RoutingError(f"Cannot read the routing file {path}: {exc.strerror or exc}.") from None
        return cls.from_toml(text, source=str(path))

    @classmethod
    def from_toml(cls, text: str, source: str = "routing rules") -> RoutingTable:
        """Parse the TOML form (see the module documentation)."""
        doc = parse_toml(text, source, RoutingError)
        extra = sorted(set(doc) - {"default", "destination", "route", "retry"})
        if extra:
            raise RoutingError(
                f"{source}: unknown top-level key {', '.join(extra)}; the keys are default, "
                "destination, route and retry."
            )
        destinations = {}
        for name, spec in (doc.get("destination") or {}).items():
            if not isinstance(spec, Mapping) or "address" not in spec:
                raise RoutingError(f'{source}: destination {name!r} needs an address = "AET@HOST:PORT".')
            try:
                destinations[name] = Destination.parse_address(str(spec["address"]))
            except ValueError as exc:
                raise RoutingError(f"{source}: destination {name!r}: {exc}") from None
        items = doc.get("route") or []
        if not isinstance(items, list):
            raise RoutingError(f"{source}: routes are written as [[route]] tables.")
        routes = tuple(Route.from_mapping(item, f"route{i + 1}") for i, item in enumerate(items))
        default = doc.get("default") or ()
        default = (default,) if isinstance(default, str) else tuple(str(d) for d in default)
        retry_doc = doc.get("retry") or {}
        unknown = sorted(set(retry_doc) - {"first_delay_seconds", "max_delay_seconds", "max_attempts"})
        if unknown:
            raise RoutingError(
                f"{source}: unknown retry key {', '.join(unknown)}; the keys are "
                "first_delay_seconds, max_delay_seconds and max_attempts."
            )
        try:
            retry = RetryPolicy(**retry_doc)
        except TypeError as exc:
            raise RoutingError(f"{source}: invalid retry settings ({exc}).") from None
        return cls(destinations=destinations, routes=routes, default=default, retry=retry)

    @classmethod
    def from_rules(cls, rules: Sequence[str], default: str | None = None) -> RoutingTable:
        """Parse short command-line rules ``SELECTOR[QUALIFIERS]=AET@HOST:PORT`` and an optional default
        ``AET@HOST:PORT``; each destination is named by its AE title."""
        destinations: dict[str, Destination] = {}

        def named(spec: str, context: str) -> str:
            try:
                dest = Destination.parse_address(spec)
            except ValueError as exc:
                raise RoutingError(f"{context}: {exc}") from None
            known = destinations.setdefault(dest.ae_title, dest)
            if known != dest:
                raise RoutingError(
                    f"{context}: AE title {dest.ae_title} already names {known}; one AE title "
                    "cannot name two addresses."
                )
            return dest.ae_title

        routes = []
        for i, rule in enumerate(rules):
            context = f"Route rule {rule!r}"
            match = _SHORT_RULE.match(rule.strip())
            if not match:
                raise RoutingError(
                    f"{context} is not of the form SELECTOR[QUALIFIERS]=AET@HOST:PORT "
                    "(for example T1C,FLAIR=NEURO@127.0.0.1:11113)."
                )
            item: dict[str, Any] = {
                "name": f"rule{i + 1}",
                "sequence": [s for s in match["selector"].split(",") if s.strip()],
                "to": [named(match["destination"], context)],
            }
            for qualifier in (match["qualifiers"] or "").split(";"):
                if not qualifier.strip():
                    continue
                key, eq, value = qualifier.partition("=")
                key = key.strip()
                if not eq or key not in {"orientation", "contrast", "anatomy", "min_confidence"}:
                    raise RoutingError(
                        f"{context}: qualifier {qualifier.strip()!r} must be orientation=..., "
                        "contrast=..., anatomy=... or min_confidence=NUMBER."
                    )
                if key == "min_confidence":
                    number = as_number(value)
                    if number is None:
                        raise RoutingError(f"{context}: min_confidence {value.strip()!r} is not a number.")
                    item[key] = number
                else:
                    item[key] = [v for v in value.split(",") if v.strip()]
            routes.append(Route.from_mapping(item, item["name"]))
        defaults = (named(default, f"Default destination {default!r}"),) if default else ()
        return cls(destinations=destinations, routes=tuple(routes), default=defaults)

    @classmethod
    def from_specs(cls, specs: Iterable[str], default: str | None = None) -> RoutingTable:
        """The ``--route`` values: each a TOML file (a path ending in ``.toml`` or an existing file) or a short
        rule; files and rules are merged into one table."""
        tables, rules = [], []
        for spec in specs:
            path = Path(spec)
            if spec.endswith(".toml") or path.is_file():
                tables.append(cls.load(path))
            else:
                rules.append(spec)
        if rules or default or not tables:
            tables.append(cls.from_rules(rules, default))
        return cls.merge(tables)

    @classmethod
    def merge(cls, tables: Sequence[RoutingTable]) -> RoutingTable:
        """One table from several: destinations united (a name must mean one address), routes in order
        (renamed ``<n>:<name>`` when names clash), defaults united; the first table's retry policy."""
        destinations: dict[str, Destination] = {}
        routes: list[Route] = []
        default: list[str] = []
        for n, table in enumerate(tables, 1):
            for name, dest in table.destinations.items():
                if destinations.setdefault(name, dest) != dest:
                    raise RoutingError(
                        f"Destination {name} is defined twice with different addresses "
                        f"({destinations[name]} and {dest})."
                    )
            taken = {r.name for r in routes}
            for route in table.routes:
                routes.append(
                    route
                    if route.name not in taken
                    else Route(
                        f"{n}:{route.name}",
                        route.sequences,
                        route.to,
                        route.orientations,
                        route.contrasts,
                        route.anatomies,
                        route.min_confidence,
                    )
                )
            default.extend(table.default)
        retry = tables[0].retry if tables else RetryPolicy()
        return cls(destinations=destinations, routes=tuple(routes), default=tuple(dict.fromkeys(default)), retry=retry)

    def describe(self) -> list[str]:
        """One line per route and for the default, for the log."""
        lines = []
        for r in self.routes:
            conditions = [",".join(sorted(r.sequences))]
            for what, values in (("orientation", r.orientations), ("contrast", r.contrasts), ("anatomy", r.anatomies)):
                if values:
                    conditions.append(f"{what}={','.join(sorted(values))}")
            if r.min_confidence is not None:
                conditions.append(f"confidence>={r.min_confidence:g}")
            lines.append(
                f"route {r.name}: {' '.join(conditions)} -> " + ", ".join(str(self.destinations[t]) for t in r.to)
            )
        lines.append(
            "unselected series -> " + (", ".join(str(self.destinations[t]) for t in self.default) or "nowhere")
        )
        return lines
