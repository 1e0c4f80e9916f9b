"""A model bundle: a folder with ``bundle.json``, the ONNX files it names, and a model card."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from radclass.config import BUNDLED_DIR

DEFAULT_BUNDLE = "mri-series"


class BundleError(Exception):
    """A bundle folder is missing or incomplete."""


def _session(path: Path, threads: int):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


@dataclass
class ModelBundle:
    """The models and decision parameters of one annotation model (see ``bundle.json``)."""

    folder: Path
    meta: dict[str, Any]
    threads: int = 2
    _sessions: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, name_or_path: str | Path = DEFAULT_BUNDLE, threads: int = 2) -> ModelBundle:
        """Load a bundled model by name (``mri-series``) or a bundle folder by path."""
        folder = Path(name_or_path)
        if not (folder / "bundle.json").exists():
            folder = BUNDLED_DIR / str(name_or_path)
        meta_path = folder / "bundle.json"
        if not meta_path.exists():
            raise BundleError(f"no model bundle at {name_or_path!s} (looked for {meta_path})")
        return cls(folder, json.loads(meta_path.read_text()), threads)

    @property
    def version(self) -> str:
        return f"{self.meta.get('name', self.folder.name)}-{self.meta.get('version', '0')}"

    @property
    def classes(self) -> list[str]:
        return list(self.meta["classes"])

    @property
    def orient_classes(self) -> list[str]:
        return list(self.meta.get("orient_classes", ["AX", "COR", "SAG"]))

    @property
    def input_size(self) -> int:
        return int(self.meta.get("input_size", 128))

    @property
    def feature_names(self) -> list[str] | None:
        """The header features the forest was trained on, in order (None: the current list)."""
        names = self.meta.get("feature_names")
        return list(names) if names else None

    @property
    def fusion(self) -> dict[str, Any]:
        return dict(self.meta.get("fusion", {}))

    def session(self, key: str):
        """ONNX Runtime session of ``meta[key]`` (``cnn`` or ``forest``), created once."""
        if key not in self._sessions:
            name = self.meta.get(key)
            if not name or not (self.folder / name).exists():
                raise BundleError(f"bundle {self.folder} has no {key} model")
            self._sessions[key] = _session(self.folder / name, self.threads)
        return self._sessions[key]

    def has(self, key: str) -> bool:
        name = self.meta.get(key)
        return bool(name) and (self.folder / str(name)).exists()

    def forest_proba(self, features: np.ndarray) -> np.ndarray:
        """(n, n_classes) header-forest probabilities."""
        if len(features) == 0:
            return np.zeros((0, len(self.classes)), np.float32)
        sess = self.session("forest")
        outputs = sess.run(None, {sess.get_inputs()[0].name: features.astype(np.float32)})
        return _align(np.asarray(outputs[1], np.float32), self.meta.get("forest_classes", self.classes), self.classes)

    def cnn_proba(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-slice (sequence, orientation) probabilities of a prepared (n,1,s,s) batch."""
        if len(batch) == 0:
            return (np.zeros((0, len(self.classes)), np.float32), np.zeros((0, len(self.orient_classes)), np.float32))
        sess = self.session("cnn")
        seq, orient = sess.run(None, {"slices": batch.astype(np.float32)})
        return np.asarray(seq, np.float32), np.asarray(orient, np.float32)


def _align(proba: np.ndarray, model_classes: list[str], classes: list[str]) -> np.ndarray:
    if list(model_classes) == list(classes):
        return proba
    out = np.zeros((len(proba), len(classes)), np.float32)
    for j, c in enumerate(model_classes):
        if c in classes:
            out[:, classes.index(c)] = proba[:, j]
    return out
