"""Export deepbet's low-resolution brain-extraction network to ONNX (the bundle's ``brain_mask.onnx``).

    pip install --no-deps deepbet==1.0.2      # research only (MIT); not a radclass dependency; needs torch
    .venv/bin/python benchmarks/export_brain_mask.py src/radclass/bundled/mri-series/brain_mask.onnx

deepbet ships TorchScript networks inside its wheel (``deepbet/data/models/bbox_model.pt``, trained on
T1-weighted heads); the 128^3 "bbox" stage is the one radclass uses (:mod:`radclass.features.brain_mask`).
The export is traced with the legacy exporter at opset 17, its final two-class softmax is rewritten as a
logistic function (:func:`radclass.training.onnx_graph.two_class_softmax_as_sigmoid`: the same probabilities,
half the CPU time), and the result is checked against torch on a random cube.

    .venv/bin/python benchmarks/export_brain_mask.py --rewrite src/radclass/bundled/mri-series/brain_mask.onnx

applies the rewrite alone to an earlier export (in place), checked against the file before it on a random cube.
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from radclass.training.onnx_graph import two_class_softmax_as_sigmoid


def rewrite(path: Path) -> None:
    """Replace the softmax of the ONNX file at ``path`` in place (:func:`two_class_softmax_as_sigmoid`)."""
    import onnx

    onnx.save(two_class_softmax_as_sigmoid(onnx.load(str(path))), str(path))


def run_seconds(path: Path, x: np.ndarray) -> tuple[np.ndarray, float]:
    """(output, best of three wall seconds) of one-thread ONNX Runtime on ``x``."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = 1, 1
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        y = session.run(None, {"x": x})[0]
        times.append(time.perf_counter() - t0)
    return y, min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--rewrite", action="store_true", help="rewrite the softmax of an existing export in place")
    args = ap.parse_args()
    x = np.random.default_rng(0).random((1, 1, 128, 128, 128), dtype=np.float32)
    if args.rewrite:
        with tempfile.TemporaryDirectory() as tmp:
            before = Path(tmp) / "before.onnx"
            before.write_bytes(args.out.read_bytes())
            rewrite(args.out)
            expected, was = run_seconds(before, x)
            got, now = run_seconds(args.out, x)
        masks = int(((expected[0, 1] > 0.5) != (got[0, 1] > 0.5)).sum())
        print(
            f"{args.out}: max |after - before| = {np.abs(got - expected).max():.2e}, {masks} mask voxels differ; "
            f"{was:.3f} -> {now:.3f} s per cube (one thread)"
        )
        return
    spec = importlib.util.find_spec("deepbet")
    if spec is None or spec.origin is None:
        raise SystemExit("deepbet is not installed: pip install --no-deps deepbet==1.0.2 (research only).")
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        network = torch.jit.load(str(Path(spec.origin).parents[1] / "data" / "models" / "bbox_model.pt")).eval()
    t = torch.from_numpy(x)
    torch.onnx.export(
        network, (t,), str(args.out), opset_version=17, dynamo=False, input_names=["x"], output_names=["y"]
    )
    rewrite(args.out)
    with torch.no_grad():
        expected = network(t).numpy()
    got, seconds = run_seconds(args.out, x)
    print(
        f"{args.out}: {args.out.stat().st_size / 1e6:.1f} MB; max |onnx - torch| = {np.abs(got - expected).max():.2e};"
        f" {seconds:.3f} s per cube (one thread)"
    )


if __name__ == "__main__":
    main()
