"""CNN architectures (torch; ``train`` extra). ``build_network(name, ...)`` names them for configs and bundles."""

from __future__ import annotations

from typing import Any


def build_network(name: str, n_classes: int, **kwargs: Any):
    """Instantiate a network by name: ``ranjbar_vgg`` or ``multitask``."""
    if name == "ranjbar_vgg":
        from radclass.networks.ranjbar import RanjbarVGG

        return RanjbarVGG(n_classes, **kwargs)
    if name == "multitask":
        from radclass.networks.multitask import MultiTaskCNN

        return MultiTaskCNN(n_classes, **kwargs)
    raise ValueError(f"unknown network {name!r}: use ranjbar_vgg or multitask")
