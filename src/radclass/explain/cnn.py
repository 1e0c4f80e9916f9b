"""Explanations of a torch CNN classifier's decision on one image: gradient saliency, Grad-CAM, occlusion.

The model is any ``torch.nn.Module`` taking (N, C, H, W) float tensors and returning logits (N, K), or a
dict / tuple of such heads (pick one with ``head``: a key or an index). Each function returns a heat map,
(H, W) float in [0, 1], at the input's resolution; the model is evaluated in eval mode and its mode restored.

Implemented with torch hooks rather than ``monai.visualize``: MONAI's ``GradCAM`` registers module backward
hooks that fail on the in-place ReLUs used by torchvision-style networks, and its ``OcclusionSensitivity``
relies on list indexing deprecated by torch. The Grad-CAM here is checked against MONAI's on a network
without in-place activations (tests).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike
from torch import nn

__all__ = ["Head", "class_probabilities", "grad_cam", "gradient_saliency", "last_conv2d", "occlusion_sensitivity"]

Head = str | int | None


def _select(output: object, head: Head) -> torch.Tensor:
    """The logits of ``head`` from a model output (tensor, dict of tensors, or tuple/list of tensors)."""
    if isinstance(output, torch.Tensor):
        if head not in (None, 0):
            raise ValueError(f"the model has a single output; head {head!r} does not exist")
        return output
    if isinstance(output, dict):
        if head is None:
            raise ValueError(f"the model returns several heads {sorted(output)}: choose one with head=")
        if isinstance(head, int):
            head = list(output)[head]
        return output[head]
    if isinstance(output, (tuple, list)):
        index = 0 if head is None else head
        if not isinstance(index, int):
            raise ValueError(f"the model returns a tuple of {len(output)} heads: give head as an index")
        return output[index]
    raise TypeError(f"unsupported model output {type(output).__name__}")


def _as_batch(image: ArrayLike | torch.Tensor) -> torch.Tensor:
    """(1, C, H, W) float tensor from an (H, W), (C, H, W) or (1, C, H, W) image."""
    x = image.detach().clone() if isinstance(image, torch.Tensor) else torch.as_tensor(np.asarray(image))
    x = x.float()
    if x.ndim == 2:
        x = x[None, None]
    elif x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"expected one image (H,W), (C,H,W) or (1,C,H,W), got shape {tuple(x.shape)}")
    return x


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def _device(model: nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def _probabilities(logits: torch.Tensor) -> torch.Tensor:
    """Softmax over classes; a single-logit binary head gives (1 − p, p) from the sigmoid."""
    if logits.shape[1] == 1:
        p = torch.sigmoid(logits)
        return torch.cat([1 - p, p], dim=1)
    return F.softmax(logits, dim=1)


def class_probabilities(model: nn.Module, image: ArrayLike | torch.Tensor, *, head: Head = None) -> np.ndarray:
    """Class probabilities (K,) of ``head`` for one image."""
    x = _as_batch(image).to(_device(model))
    with _eval_mode(model), torch.no_grad():
        return _probabilities(_select(model(x), head))[0].cpu().numpy()


def _unit(heat: np.ndarray) -> np.ndarray:
    """Scale to [0, 1] by the range (all zeros when the map is constant)."""
    heat = np.nan_to_num(np.asarray(heat, dtype=np.float32))
    heat = heat - heat.min()
    top = heat.max()
    return heat / top if top > 0 else np.zeros_like(heat)


def _target_score(logits: torch.Tensor, target: int | None) -> tuple[torch.Tensor, int]:
    """The scalar to differentiate: logit of ``target`` (default: predicted class); signed logit for one output."""
    if logits.shape[1] == 1:  # binary single-logit head: class 1 = the logit, class 0 = its negative
        cls = int(logits[0, 0] > 0) if target is None else int(target)
        return (logits[0, 0] if cls == 1 else -logits[0, 0]), cls
    cls = int(logits[0].argmax()) if target is None else int(target)
    return logits[0, cls], cls


def gradient_saliency(
    model: nn.Module, image: ArrayLike | torch.Tensor, target: int | None = None, *, head: Head = None
) -> np.ndarray:
    """Gradient saliency (Simonyan et al. 2014): max over channels of |∂ logit_target / ∂ input|."""
    x = _as_batch(image).to(_device(model)).requires_grad_(True)
    with _eval_mode(model):
        score, _ = _target_score(_select(model(x), head), target)
        (grad,) = torch.autograd.grad(score, x)
    return _unit(grad[0].abs().amax(dim=0).cpu().numpy())


def last_conv2d(model: nn.Module) -> str:
    """Name (as in ``named_modules``) of the last ``nn.Conv2d`` registered in ``model``."""
    names = [name for name, module in model.named_modules() if isinstance(module, nn.Conv2d)]
    if not names:
        raise ValueError("the model has no Conv2d layer; give the Grad-CAM layer explicitly")
    return names[-1]


def grad_cam(
    model: nn.Module,
    image: ArrayLike | torch.Tensor,
    target: int | None = None,
    *,
    layer: str | nn.Module | None = None,
    head: Head = None,
) -> np.ndarray:
    """Grad-CAM (Selvaraju et al. 2017) at ``layer`` (a module or its name; default: the last Conv2d).

    ReLU of the gradient-weighted (global-average-pooled gradients) sum of the layer's feature maps,
    bilinearly upsampled to the input size.
    """
    x = _as_batch(image).to(_device(model)).requires_grad_(True)  # keeps a graph even for frozen weights
    module = layer if isinstance(layer, nn.Module) else model.get_submodule(layer or last_conv2d(model))
    store: dict[str, torch.Tensor] = {}

    def keep(_module: nn.Module, _inputs: object, output: torch.Tensor) -> torch.Tensor:
        store["activation"] = output
        return output.clone()  # an in-place activation after the layer must not overwrite what we keep

    handle = module.register_forward_hook(keep)
    try:
        with _eval_mode(model):
            score, _ = _target_score(_select(model(x), head), target)
            (gradient,) = torch.autograd.grad(score, store["activation"])
    finally:
        handle.remove()
    activation = store["activation"].detach()
    weights = gradient.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * activation).sum(dim=1, keepdim=True))
    cam = F.interpolate(cam, size=x.shape[2:], mode="bilinear", align_corners=False)
    return _unit(cam[0, 0].cpu().numpy())


def occlusion_sensitivity(
    model: nn.Module,
    image: ArrayLike | torch.Tensor,
    target: int | None = None,
    *,
    head: Head = None,
    patch: int | None = None,
    stride: int | None = None,
    baseline: float | str = "mean",
    batch_size: int = 64,
) -> np.ndarray:
    """Occlusion sensitivity (Zeiler & Fergus 2014): drop of the target probability when a square patch is
    replaced by ``baseline`` (a value, or ``"mean"`` of the image), averaged over the patches covering each
    pixel; increases are clipped to 0.

    ``patch`` defaults to 1/8 of the shorter side (at least 4 pixels), ``stride`` to half the patch.
    """
    x = _as_batch(image).to(_device(model))
    _, _, h, w = x.shape
    patch = patch or max(4, min(h, w) // 8)
    stride = stride or max(1, patch // 2)
    fill = float(x.mean()) if baseline == "mean" else float(baseline)

    def starts(size: int) -> list[int]:
        last = max(size - patch, 0)
        return sorted(set(range(0, last + 1, stride)) | {last})

    boxes = [(top, left) for top in starts(h) for left in starts(w)]
    drop = torch.zeros(h, w)
    count = torch.zeros(h, w)
    with _eval_mode(model), torch.no_grad():
        logits = _select(model(x), head)
        _, cls = _target_score(logits, target)
        p0 = float(_probabilities(logits)[0, cls])
        for i in range(0, len(boxes), batch_size):
            chunk = boxes[i : i + batch_size]
            batch = x.repeat(len(chunk), 1, 1, 1)
            for b, (top, left) in enumerate(chunk):
                batch[b, :, top : top + patch, left : left + patch] = fill
            p = _probabilities(_select(model(batch), head))[:, cls].cpu()
            for b, (top, left) in enumerate(chunk):
                drop[top : top + patch, left : left + patch] += p0 - p[b]
                count[top : top + patch, left : left + patch] += 1
    heat = (drop / count.clamp(min=1)).clamp(min=0)
    return _unit(heat.numpy())
