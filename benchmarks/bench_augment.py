"""Augmentation cost per training batch (MONAI transforms on radclass.learning's batch base) beside one training
step of the network it feeds, on CPU: a Markdown table.

Run from the project root: ``.venv/bin/python benchmarks/bench_augment.py [--threads 2] [--repeat 10]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F


def _ms(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm-up (kernel and pipeline caches)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _step(network: str, size: int) -> Callable[[], None]:
    from radclass.networks import build_network

    model = build_network(network, 16, **({"n_orientations": 3} if network == "multitask" else {}))
    opt = torch.optim.Adam(model.parameters())
    x, y = torch.rand(32, 1, size, size), torch.zeros(32, dtype=torch.long)

    def run() -> None:
        out = model(x)
        loss = F.cross_entropy(out[0] if isinstance(out, tuple) else out, y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from radclass.diagnostic.preprocess import Preprocess
    from radclass.diagnostic.segmentation import SegConfig, _augment
    from radclass.diagnostic.transforms import TrainTransform
    from radclass.training.augment import Augment

    g = torch.Generator().manual_seed(0)
    ranjbar = Augment(rotation_deg=25, shift=0.1, shear=0.2, zoom=0.2, fill="nearest", gamma=0, noise=0, blur_p=0)
    rows: list[tuple[str, float]] = []
    for size in (64, 128):
        x = torch.rand(32, 1, size, size)
        rows.append((f"MRI `Augment()` defaults, 32 x {size} px", _ms(lambda x=x: Augment()(x, g), args.repeat)))
        rows.append((f"MRI `Augment` Ranjbar settings, 32 x {size} px", _ms(lambda x=x: ranjbar(x, g), args.repeat)))
        rows.append((f"(one multitask CNN training step, 32 x {size} px)", _ms(_step("multitask", size), args.repeat)))
    raw, y = torch.rand(16, 1, 256, 256) * 200 - 50, torch.zeros(16, dtype=torch.long)
    hu = TrainTransform(Preprocess(input_size=224, load_size=256), "hu", ["A", "B"], augment=True, flip=True)
    rows.append(("Desai `TrainTransform`, HU, 16 x 256 -> 224 px", _ms(lambda: hu(raw, y, g), args.repeat)))
    img, mask = torch.rand(16, 1, 256, 256), (torch.rand(16, 1, 256, 256) > 0.5).float()
    rows.append(
        ("U-Net image + mask affine, 16 x 256 px", _ms(lambda: _augment(img, mask, SegConfig(), g), args.repeat))
    )
    print(f"| batch ({args.threads} threads, median of {args.repeat}) | ms |\n|---|---|")
    for name, ms in rows:
        print(f"| {name} | {ms:.1f} |")


if __name__ == "__main__":
    main()
