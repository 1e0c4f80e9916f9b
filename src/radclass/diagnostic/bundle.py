"""A diagnostic model bundle on disk (numpy only): ``bundle.json`` + ``model.onnx`` + ``model_card.md``.

``bundle.json`` keys: ``name``, ``version``, ``task``, ``classes`` (output order), ``positive`` (class whose
probability is reported), ``preprocess`` (:class:`~radclass.diagnostic.preprocess.Preprocess` fields),
``onnx`` (file name), ``architecture``, ``trained`` (recipe, configuration, data, figures).
Bundled tasks live in ``radclass/bundled/<task>/``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from radclass.config import BUNDLED_DIR
from radclass.diagnostic.preprocess import Preprocess

__all__ = ["Bundle", "BundleError", "load_bundle", "write_bundle_json"]


class BundleError(FileNotFoundError):
    """A bundle is missing or incomplete; the message names what is missing."""


@dataclass(frozen=True)
class Bundle:
    """A loaded bundle description (the ONNX session is opened by the predictor)."""

    folder: Path
    name: str
    classes: list[str]
    positive: str
    preprocess: Preprocess
    onnx: Path
    meta: dict[str, Any]


def _available() -> list[str]:
    if not BUNDLED_DIR.is_dir():
        return []
    return sorted(p.name for p in BUNDLED_DIR.iterdir() if (p / "bundle.json").is_file())


def load_bundle(task: str | None = None, folder: Path | str | None = None) -> Bundle:
    """The bundle in ``folder``, or the bundled one named ``task``."""
    if folder is None:
        if not task:
            raise BundleError("give a task name or a bundle folder")
        folder = BUNDLED_DIR / task
    folder = Path(folder)
    meta_path = folder / "bundle.json"
    if not meta_path.is_file():
        raise BundleError(f"no bundle.json in {folder} (bundled tasks: {', '.join(_available()) or 'none'})")
    meta = json.loads(meta_path.read_text())
    onnx = folder / meta.get("onnx", "model.onnx")
    if not onnx.is_file():
        raise BundleError(f"{folder}: bundle.json names {onnx.name}, which is missing")
    classes = list(meta["classes"])
    positive = meta.get("positive") or classes[-1]
    return Bundle(
        folder, meta.get("name", folder.name), classes, positive, Preprocess.from_dict(meta["preprocess"]), onnx, meta
    )


def write_bundle_json(folder: Path | str, meta: dict[str, Any]) -> Path:
    """Write ``bundle.json`` (keys as in the module docstring)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "bundle.json"
    path.write_text(json.dumps(meta, indent=1, default=str) + "\n")
    return path
