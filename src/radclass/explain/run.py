"""``radclass explain``: heat maps of a bundled CNN's decision on every series of a target path.

A model bundle is a folder ``<bundle root>/<model>/`` (default root: :data:`radclass.config.BUNDLED_DIR`) with
``bundle.json`` and a torch state dict: ``model.pt``, or the file named by ``bundle.json``'s ``torch_weights``
(as ``radclass train`` writes, beside the ONNX models). ``bundle.json`` gives ``network``, ``classes`` and
optionally ``input_size`` (128), ``orient_classes`` and ``network_kwargs``; the module is built by
``radclass.networks.build_network(network, len(classes), **kwargs)``.

Each series is explained on its middle slice, prepared as for training (``radclass.features.slices``), for
the sequence head (``classes``) and, for a multi-task network, also the orientation head (``orient_classes``).
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
DEFAULT_WEIGHTS = "model.pt"


@dataclass
class Bundle:
    """A loaded CNN bundle: the network in eval mode, its class lists and ``bundle.json``."""

    name: str
    network: Any  # torch.nn.Module
    classes: list[str]
    input_size: int
    meta: dict[str, Any]

    @property
    def heads(self) -> list[tuple[int, str, list[str]]]:
        """(output index, name, classes) of each head to explain."""
        heads = [(0, "sequence", self.classes)]
        if self.meta.get("orient_classes"):
            heads.append((1, "orientation", [str(c) for c in self.meta["orient_classes"]]))
        return heads


def _available(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if (p / "bundle.json").exists()) if root.is_dir() else []


def _network_kwargs(meta: dict[str, Any]) -> dict[str, Any]:
    """Constructor arguments: ``network_kwargs``, plus those implied by other bundle fields."""
    kwargs = dict(meta.get("network_kwargs", {}))
    if meta["network"] == "ranjbar_vgg":  # its dense layer is sized by the input
        kwargs.setdefault("input_size", int(meta.get("input_size", 128)))
    if meta["network"] == "multitask" and meta.get("orient_classes"):
        kwargs.setdefault("n_orientations", len(meta["orient_classes"]))
    return kwargs


def load_bundle(model: str, bundle_root: Path | None = None) -> Bundle:
    """Load the CNN of ``<bundle_root>/<model>/``; clear errors when the bundle or its parts are missing."""
    root = Path(bundle_root) if bundle_root is not None else BUNDLED_DIR
    folder = root / model
    meta_path = folder / "bundle.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else None
    weights = folder / str((meta or {}).get("torch_weights", DEFAULT_WEIGHTS))
    if meta is None or not weights.is_file():
        lacking = "bundle.json" if meta is None else weights.name
        raise FileNotFoundError(
            f"model bundle {model!r} not found: {folder} lacks {lacking} (a bundle needs bundle.json and torch "
            f"weights, {DEFAULT_WEIGHTS} or the file named by 'torch_weights'); "
            f"available bundles: {', '.join(_available(root)) or 'none'}"
        )
    if "network" not in meta or not meta.get("classes"):
        raise ValueError(f"{meta_path} must give 'network' and 'classes'")
    try:
        from radclass.networks import build_network
    except ImportError as exc:
        raise RuntimeError("radclass.networks.build_network is not available in this installation") from exc
    import torch

    classes = [str(c) for c in meta["classes"]]
    network = build_network(meta["network"], len(classes), **_network_kwargs(meta))
    network.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    network.eval()
    return Bundle(model, network, classes, int(meta.get("input_size", 128)), {**meta, "_folder": str(folder)})


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


def _n_outputs(network: Any, size: int) -> int:
    """How many heads the network returns (1 for a plain logits tensor)."""
    import torch

    with torch.no_grad():
        out = network(torch.zeros(1, 1, size, size))
    return len(out) if isinstance(out, (tuple, list, dict)) else 1


def explain_target(target: Path, model: str, out_dir: Path, *, bundle_root: Path | None = None) -> list[Path]:
    """Write saliency, Grad-CAM and occlusion overlays (PNG) for every series under ``target``, plus
    ``explanations.json`` (prediction and files per series and head). Returns the written paths."""
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
    heads = bundle.heads[: _n_outputs(bundle.network, bundle.input_size)]
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    records = []
    for series in result.series:
        stem = _stem(series.path, series.sub_series, target)
        record: dict[str, Any] = {"path": series.path, "sub_series": series.sub_series}
        try:
            slices = load_slices(series, k=1)
        except PixelReadError as exc:
            records.append(record | {"error": str(exc)})
            continue
        if not slices:
            records.append(record | {"error": "no slice could be read"})
            continue
        x = prepare_slice(slices[0], bundle.input_size)[None]  # (1, H, W)
        for index, head_name, classes in heads:
            head = index if len(heads) > 1 else None
            probs = class_probabilities(bundle.network, x, head=head)
            cls = int(np.argmax(probs))
            prefix = f"{stem}_" if index == 0 else f"{stem}_{head_name}_"
            maps = {
                "saliency": gradient_saliency(bundle.network, x, cls, head=head),
                "gradcam": grad_cam(bundle.network, x, cls, head=head),
                "occlusion": occlusion_sensitivity(bundle.network, x, cls, head=head),
            }
            files = {}
            for method, heat in maps.items():
                path = save_overlay(out_dir / f"{prefix}{method}.png", x[0], heat)
                written.append(path)
                files[method] = path.name
            top = np.argsort(-probs)[:3]
            record[head_name] = {
                "predicted": classes[cls],
                "probability": float(probs[cls]),
                "top3": {classes[i]: float(probs[i]) for i in top},
                "files": files,
            }
        records.append(record)
    written += _explain_header_forest(bundle, result.series, records, out_dir, target)
    summary = out_dir / "explanations.json"
    summary.write_text(
        json.dumps({"model": model, "network": bundle.meta["network"], "series": records}, indent=2) + "\n"
    )
    written.append(summary)
    return written


def _explain_header_forest(
    bundle: Bundle, series: list[Any], records: list[dict[str, Any]], out_dir: Path, target: Path
) -> list[Path]:
    """SHAP attributions of the header forest per series (CSV + bar plot) and its global importances (PNG),
    when the bundle ships the scikit-learn forest (``sklearn_forest``) beside its ONNX export."""
    name = bundle.meta.get("sklearn_forest")
    folder = bundle.meta.get("_folder")
    if not name or not folder or not (Path(folder) / name).exists():
        return []
    import joblib

    from radclass.evaluate.plots import importance_figure, save_png
    from radclass.explain.forest import decision_attributions, explain_forest, global_importances, importance_png
    from radclass.features.header import feature_names, header_matrix

    forest = joblib.load(Path(folder) / name)
    names = list(bundle.meta.get("feature_names") or feature_names())
    X = header_matrix([s.row() for s in series], names)
    explanation = explain_forest(forest, X, names)
    written = [importance_png(global_importances(forest, names, explanation), out_dir / "forest_importance.png")]
    by_key = {(r["path"], r["sub_series"]): r for r in records}
    for i, s in enumerate(series):
        stem = _stem(s.path, s.sub_series, target)
        table = decision_attributions(explanation, i, top=15)
        csv = out_dir / f"{stem}_header_shap.csv"
        table.to_csv(csv, index=False)
        fig = importance_figure(
            list(table["feature"]),
            table["shap"],
            top=15,
            title=f"Header forest: why {table.attrs['class']}",
            xlabel="SHAP (probability)",
        )
        png = save_png(fig, out_dir / f"{stem}_header_shap.png")
        written += [csv, png]
        record = by_key.get((s.path, s.sub_series))
        if record is not None:
            record["header"] = {
                "predicted": table.attrs["class"],
                "probability": table.attrs["probability"],
                "files": {"shap": png.name, "table": csv.name},
            }
    return written
