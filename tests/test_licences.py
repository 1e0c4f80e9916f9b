"""No GPL code in the default install: every distribution reachable from radclass's default requirements
(``[project] dependencies`` of pyproject.toml, walked recursively through each installed package's
Requires-Dist, extras left out) has a licence that is not the GPL or the AGPL.

The LGPL is not allowed either (nothing in the default install needs it). The extras are checked the same way
where installed, except ``gpl-codecs``, the opt-in that exists to hold the GPL libjpeg. The table of licences is
printed (``pytest -s``) for the record.
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
#: The extra that holds GPL code on purpose (never in the default install or in ``all``).
GPL_EXTRA = "gpl-codecs"
#: A GPL-family licence named in SPDX, in a License field or in a trove classifier.
_GPL = re.compile(r"\b(A|L)?GPL|General Public License", re.IGNORECASE)


def _project() -> dict:
    return tomllib.loads(PYPROJECT.read_text())["project"]


def _requirements(requirements: list[str], extra: str = "") -> list[Requirement]:
    env = {**default_environment(), "extra": extra}
    out = []
    for text in requirements:
        req = Requirement(text)
        if req.marker is None or req.marker.evaluate(env):
            out.append(req)
    return out


def licence(dist: metadata.Distribution) -> str:
    """The licence a distribution declares: its SPDX License-Expression, else its License field (first line),
    else its licence classifiers."""
    meta = dist.metadata
    if meta.get("License-Expression"):
        return meta["License-Expression"]
    classifiers = [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    field = (meta.get("License") or "").strip().splitlines()
    parts = [field[0][:80] if field else "", *classifiers]
    return "; ".join(dict.fromkeys(p for p in parts if p)) or "UNKNOWN"


def is_gpl(text: str) -> bool:
    """True for the GPL, AGPL or LGPL in any spelling (the GCC runtime exception aside)."""
    return bool(_GPL.search(text)) and "GCC-exception" not in text


def closure(requirements: list[Requirement]) -> dict[str, metadata.Distribution]:
    """Installed distributions reachable from ``requirements`` (with the extras they name)."""
    seen: dict[str, metadata.Distribution] = {}
    todo = [(req, "") for req in requirements]
    while todo:
        req, _ = todo.pop()
        name = canonicalize_name(req.name)
        if name in seen:
            continue
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            pytest.fail(f"{req.name} is required by the install under test but not installed")
        seen[name] = dist
        for extra in ("", *sorted(req.extras)):
            todo.extend((r, extra) for r in _requirements(dist.requires or [], extra))
    return seen


def _table(dists: dict[str, metadata.Distribution]) -> list[tuple[str, str, str]]:
    return sorted((name, dist.version, licence(dist)) for name, dist in dists.items())


def test_default_install_has_no_gpl_package():
    rows = _table(closure(_requirements(_project()["dependencies"])))
    print("\ndefault install:", len(rows), "distributions")
    for row in rows:
        print("  {:<28} {:<14} {}".format(*row))
    names = {name for name, _, _ in rows}
    assert {"pydicom", "python-gdcm", "pylibjpeg-openjpeg", "pyjpegls"} <= names
    assert "pylibjpeg-libjpeg" not in names
    gpl = [row for row in rows if is_gpl(row[2])]
    assert not gpl, f"GPL-family licences in the default install: {gpl}"


TOOL_EXTRA = "bids-tools"  # external programs run by tests only (dcm2bids, GPL); never imported by radclass


def test_extras_have_no_gpl_package_except_the_opt_in():
    extras = _project()["optional-dependencies"]
    assert GPL_EXTRA not in " ".join(extras["all"]), "the GPL codecs must stay out of `all`"
    assert [r.name for r in _requirements(extras[GPL_EXTRA])] == ["pylibjpeg-libjpeg"]
    for extra, requirements in extras.items():
        if extra in (GPL_EXTRA, TOOL_EXTRA, "all"):
            continue
        installed = [r for r in _requirements(requirements) if _installed(r.name)]
        rows = _table(closure(installed))
        gpl = [row for row in rows if is_gpl(row[2])]
        assert not gpl, f"GPL-family licences pulled by the `{extra}` extra: {gpl}"


def _installed(name: str) -> bool:
    try:
        metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return False
    return True


@pytest.mark.parametrize(("text", "gpl"), [
    ("GPL-3.0-or-later", True), ("GPL V3.0", True), ("GNU General Public License v3 (GPLv3)", True),
    ("LGPL-2.1-only", True), ("AGPL-3.0", True), ("GNU Lesser General Public License v2 (LGPLv2)", True),
    ("MIT", False), ("BSD-3-Clause AND 0BSD AND MIT AND Zlib AND CC0-1.0", False), ("Apache-2.0", False),
    ("MIT-CMU", False), ("GPL-3.0-or-later WITH GCC-exception-3.1", False),
])
def test_gpl_detection(text: str, gpl: bool):
    assert is_gpl(text) is gpl
