"""Explanations on demand for the page: Grad-CAM or occlusion over the displayed slice, and SHAP of the
header forest, computed with :mod:`radclass.explain` on the bundled model.

Kept cheap for an interactive page: one slice, a coarse occlusion grid (:data:`OCCLUSION_PATCH` pixels of
the network input, no overlap), the bundle and forest loaded once and reused, one explanation at a time.
"""

from __future__ import annotations

import base64
import threading
import time
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

from radclass.io.pixels import load_slice
from radclass.io.series import Series

#: Side (network-input pixels) of the occlusion patch, also its stride: an 8 x 8 grid at 128 pixels.
OCCLUSION_PATCH = 16
#: Header features shown per SHAP explanation.
SHAP_TOP = 10


class Method(StrEnum):
    """Heat-map methods the page offers (see :mod:`radclass.explain.cnn`)."""

    GRADCAM = "gradcam"
    """Grad-CAM at the last convolution (Selvaraju et al. 2017)."""
    OCCLUSION = "occlusion"
    """Occlusion sensitivity (Zeiler & Fergus 2014) on a coarse grid."""


class Explainer:
    """Lazily loaded CNN bundle and header forest, shared by all requests (one computation at a time).

    Parameters
    ----------
    model
        Name of the bundle (``radclass explain --model``).
    bundle_root
        Folder holding bundles (default: the package's bundled models).
    """

    def __init__(self, model: str = "mri-series", bundle_root: Path | None = None) -> None:
        if not model:
            raise ValueError("the explainer needs a model bundle name")
        self.model, self.bundle_root = model, bundle_root
        self._bundle: Any = None
        self._forest: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._bundle is None:
            from radclass.explain.run import load_bundle

            self._bundle = load_bundle(self.model, self.bundle_root)
            if self._bundle.bundle.has("sklearn_forest"):
                import joblib

                self._forest = joblib.load(self._bundle.bundle.path("sklearn_forest"))
        return self._bundle

    def explain(self, series: Series, index: int, volume: int, method: Method) -> dict[str, Any]:
        """Heat map of ``method`` over slice ``index`` of volume ``volume`` (base64 PNG overlay), the CNN's
        top classes for each head, and the header forest's SHAP attributions when the bundle ships it."""
        from radclass.explain.cnn import class_probabilities, grad_cam, occlusion_sensitivity
        from radclass.explain.overlay import overlay
        from radclass.features.slices import prepare_slice
        from radclass.review.thumbnails import png_bytes

        start = time.perf_counter()
        method = Method(method)
        pixels = load_slice(series, index, volume=volume)
        with self._lock:
            bundle = self._load()
            x = prepare_slice(pixels, bundle.input_size)[None]
            heads = {}
            for position, name, classes in bundle.heads:
                head = position if len(bundle.heads) > 1 else None
                probs = class_probabilities(bundle.network, x, head=head)
                top = np.argsort(-probs)[:3]
                heads[name] = {
                    "predicted": classes[int(top[0])],
                    "probability": float(probs[top[0]]),
                    "top3": [{"class": classes[i], "probability": float(probs[i])} for i in top],
                }
            head = 0 if len(bundle.heads) > 1 else None
            if method is Method.GRADCAM:
                heat = grad_cam(bundle.network, x, head=head)
            else:
                heat = occlusion_sensitivity(
                    bundle.network, x, head=head, patch=OCCLUSION_PATCH, stride=OCCLUSION_PATCH
                )
            shap = self._header_shap(series)
        picture = base64.b64encode(png_bytes(overlay(x[0], heat))).decode("ascii")
        return {
            "method": str(method),
            "slice": index,
            "volume": volume,
            "model": self.model,
            "cnn": heads,
            "overlay_png": picture,
            "shap": shap,
            "seconds": round(time.perf_counter() - start, 3),
        }

    def _header_shap(self, series: Series) -> dict[str, Any] | None:
        """SHAP attributions of the header forest's decision for this series (``None`` without a forest in
        the bundle or without shap installed)."""
        if self._forest is None:
            return None
        try:
            import shap  # noqa: F401  (the ``eval`` extra)
        except ImportError:
            return None
        from radclass.explain.forest import decision_attributions, explain_forest
        from radclass.features.header import feature_names, header_matrix

        names = self._bundle.meta.get("feature_names") if self._bundle is not None else None
        names = list(names) if names else feature_names()
        explanation = explain_forest(self._forest, header_matrix([series.row()], names), names)
        table = decision_attributions(explanation, 0, top=SHAP_TOP)
        features = [
            {
                "feature": str(r.feature),
                "value": None if not np.isfinite(r.value) else float(r.value),
                "shap": float(r.shap),
            }
            for r in table.itertuples()
        ]
        return {
            "predicted": table.attrs["class"],
            "probability": float(table.attrs["probability"]),
            "expected": float(table.attrs["expected"]),
            "features": features,
        }
