"""Task labels (BIDS ``task-``) of functional series, from editable rules over the series description.

A BOLD series needs a task label and a ``TaskName`` in its sidecar (BIDS 1.11, "Task imaging data"). The
pixels and the physics say *that* a series is BOLD, not which task the participant did: that comes from the
user's rules (``rules/tasks.toml`` by default), else ``unknown``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from radclass.outputs.bids.naming import clean_label
from radclass.values import as_text

UNKNOWN_TASK = "unknown"


@dataclass(frozen=True)
class TaskRule:
    """``task`` when ``description`` is found in SeriesDescription or ProtocolName."""

    task: str
    description: re.Pattern[str]


class TaskRules:
    """Ordered task rules; :meth:`task` returns the first match's label."""

    def __init__(self, rules: list[TaskRule]):
        self.rules = rules

    @classmethod
    def load(cls, path: str | Path | None = None) -> TaskRules:
        """Rules from a TOML file (``[[task]]`` tables with ``task`` and ``description``), or the packaged ones."""
        text = (
            resources.files("radclass.rules").joinpath("tasks.toml").read_text()
            if path is None
            else Path(path).read_text()
        )
        rules = []
        for i, r in enumerate(tomllib.loads(text).get("task", []), start=1):
            if "task" not in r or "description" not in r:
                raise ValueError(f"Task rule {i} in {path or 'tasks.toml'} needs both 'task' and 'description'.")
            label = clean_label(r["task"], "")
            if label != r["task"]:
                raise ValueError(f"Task rule {i}: the label {r['task']!r} must hold letters and digits only.")
            rules.append(TaskRule(label, re.compile(r["description"], re.IGNORECASE)))
        return cls(rules)

    def task(self, row: Mapping[str, Any]) -> str:
        """The task label of an annotation row (``unknown`` when no rule matches)."""
        text = " ".join(as_text(row.get(k)) for k in ("series_description", "protocol_name"))
        for rule in self.rules:
            if rule.description.search(text) or rule.description.search(text.replace("_", " ")):
                return rule.task
        return UNKNOWN_TASK
