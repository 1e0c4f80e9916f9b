"""Classifier architectures by name: torchvision's AlexNet, GoogLeNet, ResNet18/34/50 (``weights=None``:
nothing is downloaded) and the project's own CNNs (:func:`radclass.networks.build_network`).

Every network takes (N, in_channels, H, W) and returns logits (N, n_classes). :func:`head_modules` names the
classification head (re-initialised when loaded weights do not fit, trained alone in the frozen phase).
"""

from __future__ import annotations

from torch import nn

__all__ = ["ARCHITECTURES", "build_classifier", "head_modules", "min_input_size"]

#: Name -> names of the head modules (as in ``named_modules``).
ARCHITECTURES: dict[str, tuple[str, ...]] = {
    "alexnet": ("classifier",),
    "googlenet": ("fc",),
    "resnet18": ("fc",),
    "resnet34": ("fc",),
    "resnet50": ("fc",),
    "ranjbar_vgg": ("classifier",),
    "multitask": ("net.sequence_head",),
}

_MIN_SIZE = {"alexnet": 63, "googlenet": 32, "ranjbar_vgg": 16, "multitask": 32}


class FirstHead(nn.Module):
    """A multi-head network reduced to its first head (the project's multi-task CNN)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x):
        out = self.net(x)
        return out[0] if isinstance(out, (tuple, list)) else out


def min_input_size(arch: str) -> int:
    """Smallest square input the architecture accepts (AlexNet's pooling needs at least 63 pixels)."""
    return _MIN_SIZE.get(arch, 32)


def build_classifier(arch: str, n_classes: int, *, in_channels: int = 3, input_size: int = 112) -> nn.Module:
    """A freshly initialised network ``arch`` with ``n_classes`` outputs."""
    import torchvision.models as tvm

    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}: use one of {', '.join(ARCHITECTURES)}")
    if input_size < min_input_size(arch):
        raise ValueError(f"{arch} needs inputs of at least {min_input_size(arch)} pixels, got {input_size}")
    if arch == "googlenet":
        model = tvm.googlenet(weights=None, num_classes=n_classes, aux_logits=False, init_weights=True)
    elif arch in ("alexnet", "resnet18", "resnet34", "resnet50"):
        model = getattr(tvm, arch)(weights=None, num_classes=n_classes)
    elif arch == "ranjbar_vgg":
        from radclass.networks import build_network

        return build_network(arch, n_classes, in_channels=in_channels, input_size=input_size)
    else:
        from radclass.networks import build_network

        return FirstHead(build_network(arch, n_classes, in_channels=in_channels))
    if in_channels != 3:
        _replace_stem(model, arch, in_channels)
    return model


def _replace_stem(model: nn.Module, arch: str, in_channels: int) -> None:
    """Swap the first convolution of a torchvision network for one with ``in_channels`` inputs."""
    name = {"alexnet": "features.0", "googlenet": "conv1.conv"}.get(arch, "conv1")
    parent_name, _, attr = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    old: nn.Conv2d = getattr(parent, attr)
    setattr(
        parent,
        attr,
        nn.Conv2d(
            in_channels,
            old.out_channels,
            old.kernel_size,  # type: ignore[arg-type]  # torch types these as tuple[int, ...]
            old.stride,  # type: ignore[arg-type]
            old.padding,  # type: ignore[arg-type]
            bias=old.bias is not None,
        ),
    )


def head_modules(model: nn.Module, arch: str) -> list[nn.Module]:
    """The head modules of ``model`` (built by :func:`build_classifier` as ``arch``)."""
    return [model.get_submodule(name) for name in ARCHITECTURES[arch]]
