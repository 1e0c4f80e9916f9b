"""The one seeding of a training run: torch's global generator, the thread count, and the two generators a loop
draws from (numpy for batch indices, torch for augmentation)."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["seed_everything"]


def seed_everything(seed: int, threads: int) -> tuple[np.random.Generator, torch.Generator]:
    """Seed torch, limit its CPU threads, and return fresh numpy and torch generators seeded with ``seed``.

    Parameters
    ----------
    seed
        The run's seed; the same seed gives the same initial weights, batches and augmentations.
    threads
        Intra-op CPU threads for torch (at least 1).

    Returns
    -------
    tuple of numpy.random.Generator and torch.Generator
        ``(rng, generator)``: ``rng`` for sampling batches, ``generator`` for augmentation and other torch draws.
    """
    if threads < 1:
        raise ValueError(f"The number of torch threads must be at least 1; got {threads}.")
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    return np.random.default_rng(seed), torch.Generator().manual_seed(seed)
