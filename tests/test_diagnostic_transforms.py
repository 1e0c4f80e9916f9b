"""Training transforms: flip-consistent laterality labels, the Desai augmentations, window augmentation, and
the agreement of training-time evaluation inputs with prediction-time preprocessing."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from radclass.diagnostic.preprocess import Preprocess, base_array, center_crop, prepare  # noqa: E402
from radclass.diagnostic.images import read_image  # noqa: E402
from radclass.diagnostic.transforms import (  # noqa: E402
    DesaiAugment, TrainTransform, eval_inputs, flip_laterality, laterality_permutation, mirror_label,
)


def test_mirror_label_swaps_left_and_right_words():
    assert mirror_label("LEFT") == "RIGHT"
    assert mirror_label("RIGHT") == "LEFT"
    assert mirror_label("BLEED_LEFT") == "BLEED_RIGHT"
    assert mirror_label("bleed-right") == "bleed-left"
    assert mirror_label("NORMAL") == "NORMAL"
    assert mirror_label("BRIGHTNESS") == "BRIGHTNESS"  # words, not substrings


def test_laterality_permutation():
    assert laterality_permutation(["HEMORRHAGE", "NORMAL"]) is None
    perm = laterality_permutation(["LEFT", "NONE", "RIGHT"])
    assert perm.tolist() == [2, 1, 0]
    with pytest.raises(ValueError, match="mirror"):
        laterality_permutation(["LEFT", "NONE"])


def _blobs(n: int, size: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Images with one bright blob on the left (label 0 = LEFT) or on the right (label 1 = RIGHT) half."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 1, size, size), np.float32)
    y = rng.integers(0, 2, n)
    for i, side in enumerate(y):
        c = size // 4 if side == 0 else 3 * size // 4
        x[i, 0, size // 2 - 3:size // 2 + 3, c - 3:c + 3] = 1.0
    return torch.from_numpy(x), torch.from_numpy(y)


def _side(img: torch.Tensor) -> int:
    cols = img.reshape(-1, img.shape[-1]).sum(0)
    half = img.shape[-1] // 2
    return int(cols[half:].sum() > cols[:half].sum())


def test_flip_swaps_left_and_right_labels_consistently():
    x, y = _blobs(64)
    perm = laterality_permutation(["LEFT", "RIGHT"])
    fx, fy = flip_laterality(x, y, perm, p=0.5, generator=torch.Generator().manual_seed(1))
    flipped = (fy != y)
    assert 0 < int(flipped.sum()) < 64
    for img, label in zip(fx, fy):
        assert _side(img) == int(label)


def test_train_transform_keeps_laterality_through_augmentation():
    x, y = _blobs(48)
    spec = Preprocess(input_size=28, load_size=32)
    t = TrainTransform(spec, "display", ["LEFT", "RIGHT"], augment=True, flip=True,
                       desai=DesaiAugment(angles=(0.0, 15.0, -15.0), p_magnify=0.0))
    out, labels = t(x, y, torch.Generator().manual_seed(3))
    assert out.shape == (48, 3, 28, 28)
    assert (labels != y).any()
    mean = torch.tensor(spec.mean).view(1, 3, 1, 1)
    std = torch.tensor(spec.std).view(1, 3, 1, 1)
    for img, label in zip(out * std + mean, labels):
        assert _side(img[0]) == int(label)


def test_flip_without_side_classes_keeps_labels():
    x, y = _blobs(16)
    t = TrainTransform(Preprocess(input_size=32, load_size=32), "display", ["HEMORRHAGE", "NORMAL"], flip=True)
    _, labels = t(x, y, torch.Generator().manual_seed(0))
    assert torch.equal(labels, y)


def test_desai_augment_geometry_and_photometry():
    aug = DesaiAugment()
    x = torch.zeros(8, 1, 40, 40)
    x[:, :, 10:30, 18:22] = 1.0
    g = torch.Generator().manual_seed(0)
    rotated = aug.geometric(x, 0.0, g)
    assert rotated.shape == x.shape and not torch.allclose(rotated, x)
    only_rot = DesaiAugment(angles=(30.0,), p_magnify=0.0).geometric(x[:1], 0.0, g)
    assert only_rot[0, 0, 10:30, 18:22].mean() < 0.9  # the bar moved
    photo = aug.photometric(x.repeat(1, 3, 1, 1), torch.Generator().manual_seed(2))
    assert photo.min() >= 0 and photo.max() <= 1
    # HU images are padded with air, not water
    hu = torch.full((2, 1, 16, 16), 40.0)
    turned = DesaiAugment(angles=(30.0,), p_magnify=0.0).geometric(hu, -1024.0, g)
    assert turned.min() < -1000


def test_window_augmentation_on_hu_changes_contrast():
    hu = torch.linspace(-50, 150, 32 * 32).reshape(1, 1, 32, 32).repeat(8, 1, 1, 1)
    y = torch.zeros(8, dtype=torch.long)
    spec = Preprocess(input_size=32, load_size=32)
    plain = TrainTransform(spec, "hu", ["A", "B"], augment=False)(hu, y)[0]
    jitter = TrainTransform(spec, "hu", ["A", "B"], augment=True, desai=DesaiAugment(angles=(0.0,), p_magnify=0,
                                                                                     p_blur=0, p_edge=0))
    # centre crop equals the whole image here, so only the windows differ
    out = jitter(hu, y, torch.Generator().manual_seed(0))[0]
    assert not torch.allclose(out, plain)
    multi = TrainTransform(Preprocess(input_size=32, load_size=32, channels="multiwindow"), "hu", ["A", "B"],
                           augment=False)(hu, y)[0]
    assert not torch.allclose(multi[:, 0], multi[:, 1])
    with pytest.raises(ValueError):
        TrainTransform(Preprocess(input_size=32, load_size=32, channels="multiwindow"), "display", ["A", "B"])


def test_eval_inputs_equal_prediction_preprocessing(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    png = tmp_path / "x.png"
    Image.fromarray(rng.integers(0, 255, (50, 70), dtype=np.uint8)).save(png)
    spec = Preprocess(input_size=40, load_size=46)
    raw = base_array(read_image(png), spec.load_size)[None]
    np.testing.assert_allclose(eval_inputs(raw, "display", spec)[0], prepare(png, spec), atol=1e-6)
    # and the un-augmented training transform gives the same input
    t = TrainTransform(spec, "display", ["A", "B"], augment=False)
    x, _ = t(torch.from_numpy(raw), torch.zeros(1, dtype=torch.long))
    np.testing.assert_allclose(x[0].numpy(), prepare(png, spec), atol=1e-5)
    assert center_crop(raw, 40).shape[-1] == 40


def test_rand_window_is_monai_windowing_with_jitter_and_switches():
    from radclass.diagnostic.hounsfield import WINDOWS
    from radclass.diagnostic.transforms import RandWindow, window_batch
    from radclass.learning.augment import BatchAugment

    hu = torch.linspace(-100, 300, 32 * 32).reshape(1, 1, 32, 32).repeat(6, 1, 1, 1)
    exact = BatchAugment([RandWindow(("brain",), jitter=0.0)])(hu, torch.Generator().manual_seed(0))
    torch.testing.assert_close(exact, window_batch(hu, WINDOWS["brain"]))  # no jitter: the preset itself
    jittered = BatchAugment([RandWindow(("brain",), jitter=0.2)])
    a = jittered(hu, torch.Generator().manual_seed(4))
    assert torch.equal(a, jittered(hu, torch.Generator().manual_seed(4))) and not torch.allclose(a, exact)
    switched = BatchAugment([RandWindow(("brain",), 0.0, p_other=1.0, others=("blood",))])(hu)
    torch.testing.assert_close(switched, window_batch(hu, WINDOWS["blood"]))
    assert BatchAugment([RandWindow(("brain", "blood", "stroke"), 0.0)])(hu).shape == (6, 3, 32, 32)
    with pytest.raises(ValueError, match="Unknown window preset"):
        RandWindow(("bone",))
    with pytest.raises(ValueError, match="windows to switch to"):
        RandWindow(("brain",), p_other=0.5)
