"""Predict image files with a bundled diagnostic model: onnxruntime, numpy, Pillow, pydicom, nibabel only
(no torch). One row per input file: ``path``, ``label``, ``probability`` (of the bundle's positive class,
e.g. HEMORRHAGE), ``p_<CLASS>`` per class, ``model``, and ``reason`` (empty, or why a file got no label).

The bundle is a :class:`radclass.models.bundle.ModelBundle` (``bundle.json`` with ``classes``, ``positive``,
``preprocess`` and the ``onnx`` model, written by :func:`radclass.models.bundle.write_bundle_json`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from radclass.diagnostic.images import ImageReadError, find_images
from radclass.diagnostic.preprocess import Preprocess, prepare
from radclass.models.bundle import ModelBundle

__all__ = ["load_diagnostic_bundle", "predict_paths"]


def load_diagnostic_bundle(task: str | None = None, folder: Path | str | None = None) -> ModelBundle:
    """The diagnostic bundle in ``folder``, or the bundled one named ``task``, with its ONNX model present
    (:class:`~radclass.models.bundle.BundleError` otherwise)."""
    if folder is None and not task:
        raise ValueError("Give a task name or a bundle folder.")
    return ModelBundle.load(folder if folder is not None else str(task), threads=1, require=("onnx",))


def predict_paths(
    paths: Iterable[Path | str],
    *,
    task: str | None = "ct-hemorrhage",
    bundle_dir: Path | str | None = None,
    batch: int = 32,
):  # -> pandas.DataFrame
    """Predict every image file given or found under given folders; unreadable files get a ``reason``."""
    import pandas as pd

    bundle = load_diagnostic_bundle(task, bundle_dir)
    spec = Preprocess.of(bundle.preprocessing)
    classes = bundle.classes
    files = find_images(list(map(Path, paths)))
    rows: list[dict] = []
    ready: list[tuple[int, np.ndarray]] = []
    for f in files:
        row = {
            "path": str(f),
            "label": "",
            "probability": np.nan,
            **{f"p_{c}": np.nan for c in classes},
            "model": bundle.name,
            "reason": "",
        }
        try:
            ready.append((len(rows), prepare(f, spec)))
        except (ImageReadError, ValueError, OSError) as err:
            row["reason"] = str(err)
        rows.append(row)
    pos = classes.index(bundle.positive)
    for i in range(0, len(ready), batch):
        chunk = ready[i : i + batch]
        p = bundle.image_proba(np.stack([x for _, x in chunk]))
        for (r, _), probs in zip(chunk, p):
            rows[r]["label"] = classes[int(np.argmax(probs))]
            rows[r]["probability"] = float(probs[pos])
            for c, v in zip(classes, probs):
                rows[r][f"p_{c}"] = float(v)
    columns = ["path", "label", "probability", *(f"p_{c}" for c in classes), "model", "reason"]
    return pd.DataFrame(rows, columns=columns)
