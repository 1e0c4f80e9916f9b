"""``radclass explain``: heat maps of a bundled CNN's decision on every series of a target path.

A model bundle is a folder ``<bundle root>/<model>/`` (default root: :data:`radclass.config.BUNDLED_DIR`) with
``model.pt`` (a torch state dict) and ``bundle.json``: ``{"network": NAME, "classes": [...], "input_size": 128,
"network_kwargs": {...}}``; the module is built by ``radclass.networks.build_network(NAME, len(classes), **network_kwargs)``.
Each series is explained on its middle slice, prepared as for training (``radclass.features.slices``); a
multi-head network is explained on its first head (the sequence head), whose classes are ``classes``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from radclass.config import BUNDLED_DIR

__all__ = ["Bundle", "explain_target", "load_bundle"]

METHODS = ("saliency", "gradcam", "occlusion")


@dataclass
class Bundle:
    """A loaded CNN bundle: the network in eval mode and its ``bundle.json``."""

    name: str
    network: Any  # torch.nn.Module
    classes: list[str]
    input_size: int
    meta: dict[str, Any]


def _available(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if (p / "bundle.json").exists()) if root.is_dir() else []


def load_bundle(model: str, bundle_root: Path | None = None) -> Bundle:
    """Load ``<bundle_root>/<model>/`` (``model.pt`` + ``bundle.json``); clear errors when parts are missing."""
    root = Path(bundle_root) if bundle_root is not None else BUNDLED_DIR
    folder = root / model
    missing = [name for name in ("bundle.json", "model.pt") if not (folder / name).is_file()]
    if missing:
        available = _available(root)
        raise FileNotFoundError(
            f"model bundle {model!r} not found: {folder} lacks {', '.join(missing)} "
            f"(a bundle needs model.pt and bundle.json); available bundles: {', '.join(available) or 'none'}"
        )
    meta = json.loads((folder / "bundle.json").read_text())
    if "network" not in meta or not meta.get("classes"):
        raise ValueError(f"{folder / 'bundle.json'} must give 'network' and 'classes'")
    try:
        from radclass.networks import build_network
    except ImportError as exc:
        raise RuntimeError("radclass.networks.build_network is not available in this installation") from exc
    import torch

    classes = [str(c) for c in meta["classes"]]
    network = build_network(meta["network"], len(classes), **meta.get("network_kwargs", {}))
    network.load_state_dict(torch.load(folder / "model.pt", map_location="cpu", weights_only=True))
    network.eval()
    return Bundle(model, network, classes, int(meta.get("input_size", 128)), meta)


def _stem(series_path: str, sub_series: str, target: Path) -> str:
    """A file-name-safe stem for one series: its path relative to the target, plus the sub-series."""
    path = Path(series_path)
    try:
        rel = path.relative_to(target) if target.is_dir() else Path(path.name)
    except ValueError:
        rel = Path(path.name)
    text = "_".join(rel.parts) or target.name
    if sub_series:
        text += f"_{sub_series}"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "series"


def explain_target(target: Path, model: str, out_dir: Path, *, bundle_root: Path | None = None) -> list[Path]:
    """Write saliency, Grad-CAM and occlusion overlays (PNG) for every series under ``target``, plus
    ``explanations.json`` (prediction and files per series). Returns the written paths."""
    from radclass.explain.cnn import class_probabilities, grad_cam, gradient_saliency, occlusion_sensitivity
    from radclass.explain.overlay import save_overlay
    from radclass.features.slices import prepare_slice
    from radclass.io.pixels import PixelReadError, load_slices
    from radclass.pipeline.scan import scan

    bundle = load_bundle(model, bundle_root)
    target, out_dir = Path(target), Path(out_dir)
    if not target.exists():
        raise FileNotFoundError(f"target {target} does not exist")
    result = scan([target], workers=1)
    if not result.series:
        reasons = "; ".join(f"{s.path}: {s.reason}" for s in result.skipped[:5])
        raise ValueError(f"no image series found under {target}" + (f" ({reasons})" if reasons else ""))
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    records = []
    for series in result.series:
        stem = _stem(series.path, getattr(series, "sub_series", ""), target)
        try:
            slices = load_slices(series, k=1)
        except PixelReadError as exc:
            records.append({"path": series.path, "error": str(exc)})
            continue
        if not slices:
            records.append({"path": series.path, "error": "no slice could be read"})
            continue
        x = prepare_slice(slices[0], bundle.input_size)[None]  # (1, H, W)
        probs = class_probabilities(bundle.network, x)
        cls = int(np.argmax(probs))
        maps = {
            "saliency": gradient_saliency(bundle.network, x, cls),
            "gradcam": grad_cam(bundle.network, x, cls),
            "occlusion": occlusion_sensitivity(bundle.network, x, cls),
        }
        files = {}
        for method, heat in maps.items():
            path = save_overlay(out_dir / f"{stem}_{method}.png", x[0], heat)
            written.append(path)
            files[method] = path.name
        order = np.argsort(-probs)[:3]
        records.append({
            "path": series.path, "sub_series": getattr(series, "sub_series", ""),
            "predicted": bundle.classes[cls], "probability": float(probs[cls]),
            "top3": {bundle.classes[i]: float(probs[i]) for i in order}, "files": files,
        })
    summary = out_dir / "explanations.json"
    summary.write_text(json.dumps({"model": model, "network": bundle.meta["network"], "series": records}, indent=2) + "\n")
    written.append(summary)
    return written
