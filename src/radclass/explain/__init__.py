"""Explanations: heat maps for CNN decisions (gradient saliency, Grad-CAM, occlusion) with overlays, and SHAP
attributions / global importances for the header random forest.

Torch and shap are imported by the submodules that need them: :mod:`~radclass.explain.cnn` (torch),
:mod:`~radclass.explain.overlay`, :mod:`~radclass.explain.forest` (shap), :mod:`~radclass.explain.run`
(the ``radclass explain`` command's work).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ForestExplanation",
    "class_probabilities",
    "decision_attributions",
    "explain_forest",
    "explain_target",
    "global_importances",
    "grad_cam",
    "gradient_saliency",
    "importance_png",
    "last_conv2d",
    "load_bundle",
    "occlusion_sensitivity",
    "overlay",
    "save_overlay",
]

_WHERE = {
    "class_probabilities": "cnn",
    "grad_cam": "cnn",
    "gradient_saliency": "cnn",
    "last_conv2d": "cnn",
    "occlusion_sensitivity": "cnn",
    "overlay": "overlay",
    "save_overlay": "overlay",
    "ForestExplanation": "forest",
    "decision_attributions": "forest",
    "explain_forest": "forest",
    "global_importances": "forest",
    "importance_png": "forest",
    "explain_target": "run",
    "load_bundle": "run",
}


def __getattr__(name: str) -> Any:
    """Lazy access so ``import radclass.explain`` does not import torch or shap."""
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f"radclass.explain.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'radclass.explain' has no attribute {name!r}")
