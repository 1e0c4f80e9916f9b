"""Static int8 quantisation of the bundle's CNN: ms/slice and argmax agreement with fp32 on the pool's slices.

Usage::

    python benchmarks/bench_int8.py [--model mri-series|BUNDLE_DIR] [--out DIR] [--threads 1 2] [--repeat 10]

The slices are the ones ``annotate`` gives the CNN: ``load_prepared(series, K, size)`` of every DICOM and NIfTI
series of the pool (``mri/dicom``, ``mri/nifti``, ``liver``). The series are split by dataset folder (the
folder under ``dicom/`` or ``nifti/``) into two halves: the int8 model is calibrated on the slices of one half
(``quant_pre_process``, then ``onnxruntime.quantization.quantize_static``: QDQ format, per-channel int8
weights, int8 activations, ``--calibration`` MinMax (default), Entropy or Percentile) and its agreement with
the fp32 model is reported on the other half (slices the calibration never saw) and on all slices: per slice
(argmax of the sequence and the orientation heads) and per series (argmax of the mean over its slices, which is
what the decision policy reads). The pool is the bundled CNN's training
data, so this measures agreement with fp32, not accuracy. Latency: median of ``--repeat`` calls on batches of 64
slices, each ONNX Runtime session with ``intra_op_num_threads`` = threads. Prints Markdown tables; the
quantised model is written to ``--out`` (default: a temporary folder, deleted).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import median_ms  # noqa: E402


def _series_slices(root: Path, k: int, size: int):
    """(dataset folder, series key, prepared batch) of every series of the pool with pixels."""
    from radclass.pipeline.annotate import load_prepared
    from radclass.pipeline.scan import scan

    result = scan([root / "mri" / "dicom", root / "mri" / "nifti", root / "liver"], workers=2)
    out = []
    for s in result.series:
        if s.format not in ("dicom", "nifti") or "no_pixels" in s.flags:
            continue
        batch, _ = load_prepared(s, k, size)
        if batch is None or not len(batch):
            continue
        rel = Path(s.path).resolve().relative_to(root.resolve()).parts
        dataset = "/".join(rel[:3])  # e.g. mri/dicom/dcm_qa
        out.append((dataset, s.key, batch))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mri-series", help="bundled model name or bundle folder")
    parser.add_argument("--out", type=Path, help="folder for cnn_int8.onnx (default: temporary)")
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--calibration", default="MinMax", choices=["MinMax", "Entropy", "Percentile"])
    args = parser.parse_args(argv)

    import numpy as np
    import onnxruntime as ort
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quant_pre_process,
        quantize_static,
    )

    from radclass.config import data_root
    from radclass.models.bundle import ModelBundle

    bundle = ModelBundle.load(args.model)
    fp32_path = bundle.folder / "cnn.onnx"
    items = _series_slices(data_root(), bundle.slices_per_series, bundle.input_size)
    datasets = sorted({d for d, _, _ in items})
    calib_sets = set(datasets[::2])  # every other dataset folder calibrates; the rest is held out
    calib = np.concatenate([b for d, _, b in items if d in calib_sets]).astype(np.float32)
    print(
        f"{len(items)} series, {sum(len(b) for _, _, b in items)} slices from {len(datasets)} dataset folders; "
        f"calibration: {len(calib)} slices of {len(calib_sets)} folders"
    )

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            # equal batches (the histogram calibrators stack them): the last partial batch is left out
            self.batches = iter(calib[i : i + 32] for i in range(0, len(calib) - 31, 32))

        def get_next(self):
            batch = next(self.batches, None)
            return None if batch is None else {"slices": batch}

    with tempfile.TemporaryDirectory() as tmp:
        out_dir = args.out or Path(tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        int8_path = out_dir / "cnn_int8.onnx"
        t0 = time.perf_counter()
        prepared = Path(tmp) / "cnn_prepared.onnx"  # shape inference + graph optimisation, as ORT recommends
        quant_pre_process(str(fp32_path), str(prepared))
        quantize_static(
            str(prepared),
            str(int8_path),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            weight_type=QuantType.QInt8,
            activation_type=QuantType.QInt8,
            calibrate_method=getattr(CalibrationMethod, args.calibration),
        )
        print(
            f"quantised in {time.perf_counter() - t0:.1f} s: {fp32_path.stat().st_size / 1e3:.0f} kB fp32 -> "
            f"{int8_path.stat().st_size / 1e3:.0f} kB int8\n"
        )

        def session(path: Path, threads: int):
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
            opts.log_severity_level = 3
            return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])

        fp32, int8 = session(fp32_path, 1), session(int8_path, 1)
        rows = []
        for held_out in (True, False):
            chosen = [(key, b) for d, key, b in items if not held_out or d not in calib_sets]
            x = np.concatenate([b for _, b in chosen]).astype(np.float32)
            a_seq, a_or = fp32.run(None, {"slices": x})
            b_seq, b_or = int8.run(None, {"slices": x})
            slice_seq = float(np.mean(a_seq.argmax(1) == b_seq.argmax(1)))
            slice_or = float(np.mean(a_or.argmax(1) == b_or.argmax(1)))
            start, ser_seq, ser_or = 0, [], []
            for _, b in chosen:
                end = start + len(b)
                ser_seq.append(a_seq[start:end].mean(0).argmax() == b_seq[start:end].mean(0).argmax())
                ser_or.append(a_or[start:end].mean(0).argmax() == b_or[start:end].mean(0).argmax())
                start = end
            diff = float(np.abs(a_seq - b_seq).max())
            rows.append(
                f"| {'held out from calibration' if held_out else 'all'} | {len(chosen)} / {len(x)} | "
                f"{slice_seq:.4f} | {slice_or:.4f} | {np.mean(ser_seq):.4f} | {np.mean(ser_or):.4f} | {diff:.3f} |"
            )
        print(
            "| slices | series / slices | sequence agreement (slice) | orientation (slice) | sequence (series) "
            "| orientation (series) | largest probability difference |"
        )
        print("|---|---|---|---|---|---|---|")
        print("\n".join(rows))

        x64 = calib[:64] if len(calib) >= 64 else np.resize(calib, (64, *calib.shape[1:]))
        print("\n| threads | fp32 ms/slice | int8 ms/slice | speed-up |\n|---|---|---|---|")
        for threads in args.threads:
            a, b = session(fp32_path, threads), session(int8_path, threads)
            ms_a = median_ms(lambda a=a: a.run(None, {"slices": x64}), args.repeat) / len(x64)
            ms_b = median_ms(lambda b=b: b.run(None, {"slices": x64}), args.repeat) / len(x64)
            print(f"| {threads} | {ms_a:.3f} | {ms_b:.3f} | {ms_a / ms_b:.2f}x |")
    print(f"\nload average: {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
