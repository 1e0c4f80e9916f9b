"""Predict image files with a bundled diagnostic model: onnxruntime, numpy, Pillow, pydicom, nibabel only
(no torch). One row per input file: ``path``, ``label``, ``probability`` (of the bundle's positive class,
e.g. HEMORRHAGE), ``p_<CLASS>`` per class, ``model``, and ``reason`` (empty, or why a file got no label).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from radclass.diagnostic.bundle import Bundle, load_bundle
from radclass.diagnostic.images import ImageReadError, find_images
from radclass.diagnostic.preprocess import prepare

__all__ = ["Predictor", "predict_paths"]


class Predictor:
    """An ONNX session over a bundle; :meth:`probabilities` takes prepared inputs (N, 3, S, S)."""

    def __init__(self, bundle: Bundle):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.log_severity_level = 3
        self.bundle = bundle
        self.session = ort.InferenceSession(str(bundle.onnx), options, providers=["CPUExecutionProvider"])

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(["probability"], {"image": np.ascontiguousarray(x, np.float32)})[0]


def predict_paths(
    paths: Iterable[Path | str],
    *,
    task: str | None = "ct-hemorrhage",
    bundle_dir: Path | str | None = None,
    batch: int = 32,
):  # -> pandas.DataFrame
    """Predict every image file given or found under given folders; unreadable files get a ``reason``."""
    import pandas as pd

    bundle = load_bundle(task, bundle_dir)
    predictor = Predictor(bundle)
    files = find_images(list(map(Path, paths)))
    rows: list[dict] = []
    ready: list[tuple[int, np.ndarray]] = []
    for f in files:
        row = {
            "path": str(f),
            "label": "",
            "probability": np.nan,
            **{f"p_{c}": np.nan for c in bundle.classes},
            "model": bundle.name,
            "reason": "",
        }
        try:
            ready.append((len(rows), prepare(f, bundle.preprocess)))
        except (ImageReadError, ValueError, OSError) as err:
            row["reason"] = str(err)
        rows.append(row)
    pos = bundle.classes.index(bundle.positive)
    for i in range(0, len(ready), batch):
        chunk = ready[i : i + batch]
        p = predictor.probabilities(np.stack([x for _, x in chunk]))
        for (r, _), probs in zip(chunk, p):
            rows[r]["label"] = bundle.classes[int(np.argmax(probs))]
            rows[r]["probability"] = float(probs[pos])
            for c, v in zip(bundle.classes, probs):
                rows[r][f"p_{c}"] = float(v)
    columns = ["path", "label", "probability", *(f"p_{c}" for c in bundle.classes), "model", "reason"]
    return pd.DataFrame(rows, columns=columns)
