"""Export a trained classifier to ONNX (input ``image`` (n, 3, S, S), output ``probability`` (n, K) softmax)
and check that onnxruntime reproduces torch's probabilities (torch, onnx, onnxruntime)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from radclass.models.bundle import onnx_session

__all__ = ["export_onnx", "onnx_matches_torch"]


class _Softmax(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.softmax(self.model(x), dim=1)


def export_onnx(model: nn.Module, input_size: int, path: Path | str, *, channels: int = 3) -> Path:
    """Write ``model`` (eval mode) with a softmax on top as a single self-contained ONNX file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.eval()
    dummy = torch.zeros(2, channels, input_size, input_size)
    torch.onnx.export(
        _Softmax(model),
        (dummy,),
        str(path),
        input_names=["image"],
        output_names=["probability"],
        opset_version=17,
        dynamo=False,
        dynamic_axes={"image": {0: "n"}, "probability": {0: "n"}},
    )
    return path


def onnx_matches_torch(model: nn.Module, path: Path | str, x: np.ndarray, atol: float = 1e-4) -> float:
    """Largest absolute difference of probabilities between torch and onnxruntime on ``x``; raises above ``atol``."""
    model.eval()
    with torch.no_grad():
        expected = F.softmax(model(torch.from_numpy(x)), 1).numpy()
    session = onnx_session(path, threads=2)
    got = session.run(["probability"], {"image": x.astype(np.float32)})[0]
    diff = float(np.abs(got - expected).max())
    if diff > atol:
        raise RuntimeError(f"ONNX export differs from torch by {diff:.2e} (> {atol})")
    return diff
