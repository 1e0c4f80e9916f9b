"""Export deepbet's low-resolution brain-extraction network to ONNX (the bundle's ``brain_mask.onnx``).

    pip install --no-deps deepbet==1.0.2      # research only (MIT); not a radclass dependency; needs torch
    .venv/bin/python benchmarks/export_brain_mask.py src/radclass/bundled/mri-series/brain_mask.onnx

deepbet ships TorchScript networks inside its wheel (``deepbet/data/models/bbox_model.pt``, trained on
T1-weighted heads); the 128^3 "bbox" stage is the one radclass uses (:mod:`radclass.features.brain_mask`).
The export is traced with the legacy exporter at opset 17 and checked against torch on a random cube.
"""

from __future__ import annotations

import argparse
import importlib.util
import warnings
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    args = ap.parse_args()
    spec = importlib.util.find_spec("deepbet")
    if spec is None or spec.origin is None:
        raise SystemExit("deepbet is not installed: pip install --no-deps deepbet==1.0.2 (research only).")
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        network = torch.jit.load(str(Path(spec.origin).parents[1] / "data" / "models" / "bbox_model.pt")).eval()
    x = torch.rand(1, 1, 128, 128, 128)
    torch.onnx.export(
        network, (x,), str(args.out), opset_version=17, dynamo=False, input_names=["x"], output_names=["y"]
    )
    import onnxruntime as ort

    with torch.no_grad():
        expected = network(x).numpy()
    got = ort.InferenceSession(str(args.out), providers=["CPUExecutionProvider"]).run(None, {"x": x.numpy()})[0]
    print(
        f"{args.out}: {args.out.stat().st_size / 1e6:.1f} MB; max |onnx - torch| = {np.abs(got - expected).max():.2e}"
    )


if __name__ == "__main__":
    main()
