"""``radclass explain``: heat maps of a bundled CNN's decision on every series of a target path.

A model bundle (:class:`radclass.models.bundle.ModelBundle`) is a folder ``<bundle root>/<model>/`` (default root:
:data:`radclass.config.BUNDLED_DIR`) with ``bundle.json`` and a torch state dict: ``model.pt``, or the file named
by ``bundle.json``'s ``torch_weights`` (as ``radclass train`` writes, beside the ONNX models). ``bundle.json``
gives ``network``, ``classes`` and optionally ``input_size`` (128), ``orient_classes`` and ``network_kwargs``;
the module is built by ``radclass.networks.build_network(network, len(classes), **kwargs)``.

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
from radclass.models.bundle import DEFAULT_FILES, BundleError, ModelBundle

__all__ = ["BundleNetwork", "explain_target", "load_bundle"]

METHODS = ("saliency", "gradcam", "occlusion")
DEFAULT_WEIGHTS = DEFAULT_FILES["torch_weights"]


@dataclass
class BundleNetwork:
    """A bundle (:class:`~radclass.models.bundle.ModelBundle`) with its CNN built from the torch weights, in
    eval mode."""

    bundle: ModelBundle
    network: Any  # torch.nn.Module

    @property
    def name(self) -> str:
        return self.bundle.folder.name

    @property
    def classes(self) -> list[str]:
        return self.bundle.classes

    @property
    def input_size(self) -> int:
        return self.bundle.input_size

    @property
    def meta(self) -> dict[str, Any]:
        return self.bundle.meta

    @property
    def heads(self) -> list[tuple[int, str, list[str]]]:
        """(output index, name, classes) of each head to explain."""
        heads = [(0, "sequence", self.classes)]
        if self.bundle.metadata.classes.orientation:
            heads.append((1, "orientation", list(self.bundle.metadata.classes.orientation)))
        return heads


def _network_kwargs(bundle: ModelBundle) -> dict[str, Any]:
    """Constructor arguments: ``network_kwargs``, plus those implied by other bundle fields."""
    meta = bundle.metadata
    kwargs = dict(meta.network_kwargs)
    if meta.network == "ranjbar_vgg":  # its dense layer is sized by the input
        kwargs.setdefault("input_size", bundle.input_size)
    if meta.network == "multitask" and meta.classes.orientation:
        kwargs.setdefault("n_orientations", len(meta.classes.orientation))
    return kwargs


def load_bundle(model: str, bundle_root: Path | None = None) -> BundleNetwork:
    """Load the CNN of ``<bundle_root>/<model>/`` (default root: the bundled models); a
    :class:`~radclass.models.bundle.BundleNotFoundError` (a FileNotFoundError) names what is missing."""
    bundle = ModelBundle.load(
        model, root=bundle_root if bundle_root is not None else BUNDLED_DIR, require=("torch_weights",)
    )
    if not bundle.metadata.network:
        raise BundleError(f"{bundle.folder / 'bundle.json'} must give 'network' (the CNN's architecture).")
    try:
        from radclass.networks import build_network
    except ImportError as exc:
        raise RuntimeError("radclass.networks.build_network is not available in this installation") from exc
    import torch

    network = build_network(bundle.metadata.network, len(bundle.classes), **_network_kwargs(bundle))
    network.load_state_dict(torch.load(bundle.path("torch_weights"), map_location="cpu", weights_only=True))
    network.eval()
    return BundleNetwork(bundle, network)


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
    bundle: BundleNetwork, series: list[Any], records: list[dict[str, Any]], out_dir: Path, target: Path
) -> list[Path]:
    """SHAP attributions of the header forest per series (CSV + bar plot) and its global importances (PNG),
    when the bundle ships the scikit-learn forest (``sklearn_forest``) beside its ONNX export."""
    if not bundle.bundle.has("sklearn_forest"):
        return []
    import joblib

    from radclass.evaluate.plots import importance_figure, save_png
    from radclass.explain.forest import decision_attributions, explain_forest, global_importances, importance_png
    from radclass.features.header import feature_names, header_matrix

    forest = joblib.load(bundle.bundle.path("sklearn_forest"))
    names = bundle.bundle.feature_names or feature_names()
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
