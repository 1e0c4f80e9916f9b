"""Saliency, Grad-CAM and occlusion on tiny CNNs defined here; overlays."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from radclass.explain.cnn import (  # noqa: E402
    class_probabilities,
    grad_cam,
    gradient_saliency,
    last_conv2d,
    occlusion_sensitivity,
)
from radclass.explain.overlay import overlay, save_overlay  # noqa: E402


class TinyCNN(nn.Module):
    """Two conv blocks, global pooling, a sequence head (3) and optionally an orientation head (2)."""

    def __init__(self, inplace: bool = True, heads: str = "single") -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(inplace=inplace), nn.MaxPool2d(2),
                                      nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(inplace=inplace))
        self.sequence = nn.Linear(8, 3)
        self.orientation = nn.Linear(8, 2)
        self.heads = heads

    def forward(self, x):
        z = self.features(x).mean(dim=(2, 3))
        if self.heads == "dict":
            return {"sequence": self.sequence(z), "orientation": self.orientation(z)}
        if self.heads == "tuple":
            return self.sequence(z), self.orientation(z)
        return self.sequence(z)


class RegionModel(nn.Module):
    """Class 1's logit is the sum of the image inside a fixed square (rows/cols 4-11): the evidence is known."""

    def __init__(self, size: int = 32) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3, padding=1, bias=False)
        with torch.no_grad():
            self.conv.weight.zero_()
            self.conv.weight[0, 0, 1, 1] = 1.0  # identity
        mask = torch.zeros(1, 1, size, size)
        mask[..., 4:12, 4:12] = 1.0
        self.register_buffer("mask", mask)

    def forward(self, x):
        s = (self.conv(x) * self.mask).sum(dim=(1, 2, 3)) / 16
        return torch.stack([torch.zeros_like(s), s], dim=1)


def _model(**kwargs) -> TinyCNN:
    torch.manual_seed(0)
    return TinyCNN(**kwargs)


@pytest.fixture
def image() -> torch.Tensor:
    torch.manual_seed(1)
    return torch.rand(1, 1, 32, 32)


def test_heat_maps_shape_range_and_mode_restored(image) -> None:
    model = _model()
    model.train()
    for fn in (gradient_saliency, grad_cam, occlusion_sensitivity):
        heat = fn(model, image, 1)
        assert heat.shape == (32, 32) and heat.dtype == np.float32
        assert heat.min() >= 0 and heat.max() == pytest.approx(1.0)
        assert model.training  # restored after eval-mode explanation
    assert gradient_saliency(model, image[0, 0].numpy()).shape == (32, 32)  # (H, W) numpy input


def test_last_conv2d() -> None:
    assert last_conv2d(_model()) == "features.3"
    with pytest.raises(ValueError, match="no Conv2d"):
        last_conv2d(nn.Linear(2, 2))


def test_grad_cam_matches_monai_and_ignores_inplace_relu(image) -> None:
    monai_visualize = pytest.importorskip("monai.visualize")
    plain = _model(inplace=False)
    ours = grad_cam(plain, image, 2)
    reference = monai_visualize.GradCAM(plain, "features.3", postprocessing=lambda t: t)(image, class_idx=2)
    reference = reference[0, 0].detach().numpy()
    reference = (reference - reference.min()) / (reference.max() - reference.min())
    np.testing.assert_allclose(ours, reference, atol=1e-5)
    # MONAI's module backward hooks fail on in-place ReLU; ours gives the same map as without it
    np.testing.assert_allclose(grad_cam(_model(inplace=True), image, 2), ours, atol=1e-6)
    np.testing.assert_allclose(grad_cam(plain, image, 2, layer=plain.features[3]), ours, atol=1e-6)


def test_maps_find_the_known_evidence(image) -> None:
    model = RegionModel()
    inside = np.zeros((32, 32), bool)
    inside[4:12, 4:12] = True
    saliency = gradient_saliency(model, image, 1)
    assert saliency[inside].min() == pytest.approx(1.0) and saliency[~inside].max() == 0.0
    occlusion = occlusion_sensitivity(model, image, 1, patch=4, stride=4, baseline=0.0)
    assert occlusion[~inside].max() == 0.0 and occlusion[inside].min() > 0.5
    np.testing.assert_allclose(class_probabilities(model, image).sum(), 1.0, rtol=1e-6)


def test_multi_head_outputs(image) -> None:
    as_dict, as_tuple = _model(heads="dict"), _model(heads="tuple")
    with pytest.raises(ValueError, match="choose one with head"):
        grad_cam(as_dict, image)
    for head_dict, head_tuple in (("sequence", 0), ("orientation", 1)):
        a = gradient_saliency(as_dict, image, 0, head=head_dict)
        b = gradient_saliency(as_tuple, image, 0, head=head_tuple)
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert class_probabilities(as_dict, image, head="orientation").shape == (2,)
    assert class_probabilities(as_tuple, image).shape == (3,)  # first head by default
    with pytest.raises(ValueError, match="single output"):
        gradient_saliency(_model(), image, head="orientation")


def test_single_logit_binary_head(image) -> None:
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 1))
    probs = class_probabilities(model, image)
    assert probs.shape == (2,) and probs.sum() == pytest.approx(1.0)
    assert grad_cam(model, image, 1).shape == (32, 32)
    assert occlusion_sensitivity(model, image, 0).shape == (32, 32)


def test_overlay(tmp_path) -> None:
    slice_ = np.linspace(0, 1000, 40 * 30, dtype=np.float32).reshape(40, 30)
    grey = overlay(slice_, np.zeros((40, 30)))
    assert grey.shape == (40, 30, 3) and grey.dtype == np.uint8
    assert (grey[..., 0] == grey[..., 1]).all()  # no heat: pure grey
    heat = np.zeros((8, 6))
    heat[0, 0] = 1.0
    coloured = overlay(slice_, heat)  # heat map resized to the slice
    assert not (coloured[..., 0] == coloured[..., 2]).all()
    path = save_overlay(tmp_path / "o.png", slice_[None], np.ones((40, 30)) * 0.5)
    assert path.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError):
        overlay(np.zeros(5), np.zeros(5))
