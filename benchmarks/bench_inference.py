"""CNN inference latency per batch: the bundle's ``cnn.onnx`` in ONNX Runtime vs the same network in eager PyTorch.

Usage::

    python benchmarks/bench_inference.py [--model mri-series|BUNDLE_DIR] [--batches 1 5 16 64] [--threads 1 2]
                                         [--repeat 20]

The torch network is ``radclass.networks.build_network(bundle["network"], n_classes, ...)`` with the bundle's
``cnn.pt`` state dict, in eval mode under ``torch.inference_mode()``; ONNX Runtime runs ``cnn.onnx`` through
:class:`radclass.models.bundle.ModelBundle` (the session ``radclass annotate`` uses: CPU provider, graph
optimisations on, ``intra_op_num_threads`` = threads). Both get the same random batches of prepared slices
(1 x S x S in 0-1); each cell is the median of ``--repeat`` timed calls after two warm-up calls. The last
column is the largest absolute difference between the two engines' softmax outputs (a check that they are the
same model). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import median_ms  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mri-series", help="bundled model name or bundle folder")
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 5, 16, 64])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)

    import numpy as np
    import onnxruntime as ort

    from radclass.models.bundle import ModelBundle

    try:
        import torch

        from radclass.networks import build_network
    except ImportError:
        print("torch is not installed (the train extra): only ONNX Runtime is measured", file=sys.stderr)
        torch = None

    probe = ModelBundle.load(args.model)
    meta = probe.meta
    size = probe.input_size
    net = None
    if torch is not None:
        kwargs = dict(meta.get("network_kwargs", {}))
        if meta["network"] == "ranjbar_vgg":
            kwargs.setdefault("input_size", size)
        if meta["network"] == "multitask" and meta.get("orient_classes"):
            kwargs.setdefault("n_orientations", len(meta["orient_classes"]))
        net = build_network(meta["network"], len(probe.classes), **kwargs)
        weights = probe.folder / meta.get("torch_weights", "cnn.pt")
        net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        net.eval()

    print(f"model {probe.version} ({meta['network']}, input {size}x{size}); {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores; onnxruntime {ort.__version__}"
          + (f", torch {torch.__version__}" if torch is not None else "") + f"; median of {args.repeat}")
    print("| threads | batch (slices) | ONNX Runtime ms/batch | ms/slice | eager PyTorch ms/batch | ms/slice | "
          "torch / ORT | max abs diff |")
    print("|---|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    for threads in args.threads:
        bundle = ModelBundle.load(args.model, threads=threads)
        if torch is not None:
            torch.set_num_threads(threads)
        for n in args.batches:
            x = rng.random((n, 1, size, size), dtype=np.float32)
            ort_ms = median_ms(lambda: bundle.cnn_proba(x), args.repeat, warmup=2)
            row = f"| {threads} | {n} | {ort_ms:.1f} | {ort_ms / n:.2f} |"
            if net is not None:
                xt = torch.from_numpy(x)

                def eager():
                    with torch.inference_mode():
                        return net(xt)

                torch_ms = median_ms(eager, args.repeat, warmup=2)
                seq_t, orient_t = (torch.softmax(t, 1).numpy() for t in eager())
                seq_o, orient_o = bundle.cnn_proba(x)
                diff = max(float(np.abs(seq_t - seq_o).max()), float(np.abs(orient_t - orient_o).max()))
                row += f" {torch_ms:.1f} | {torch_ms / n:.2f} | {torch_ms / ort_ms:.2f}x | {diff:.1e} |"
            else:
                row += " | | | |"
            print(row)
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
