"""Run the official BIDS validator (``bids-validator-deno``, PyPI) on a dataset and read its JSON report."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radclass.programs import ProgramMissing, find_program

_TIMEOUT_S = 600


class ValidatorMissing(ProgramMissing):
    """bids-validator-deno is not installed."""


@dataclass
class ValidationReport:
    """The validator's issues, split by severity."""

    issues: list[dict[str, Any]] = field(default_factory=list)

    def of(self, severity: str) -> list[dict[str, Any]]:
        return [i for i in self.issues if i.get("severity") == severity]

    @property
    def errors(self) -> list[dict[str, Any]]:
        return self.of("error")

    @property
    def warnings(self) -> list[dict[str, Any]]:
        return self.of("warning")

    def counts(self, severity: str) -> Counter:
        """Issue codes (``CODE`` or ``CODE/subCode``) of one severity, counted."""
        return Counter("/".join(filter(None, (i.get("code"), i.get("subCode")))) for i in self.of(severity))


def find_validator() -> Path:
    """``bids-validator-deno`` beside this Python first, else on PATH."""
    return find_program(
        "bids-validator-deno", "`pip install bids-validator-deno` (pinned in radclass's test extra)", ValidatorMissing
    )


def validate(root: Path) -> ValidationReport:
    """Validate the dataset at ``root``; raises RuntimeError when the validator gives no report."""
    done = subprocess.run(
        [str(find_validator()), "--format", "json", str(root)], capture_output=True, text=True, timeout=_TIMEOUT_S
    )
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(
            f"bids-validator-deno gave no JSON report (exit {done.returncode}): {(done.stderr or done.stdout)[-500:]}"
        ) from None
    return ValidationReport(report.get("issues", {}).get("issues", []))
