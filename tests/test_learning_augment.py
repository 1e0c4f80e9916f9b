"""Augmentation as MONAI transforms on one batch base: deterministic under a seed, changing images (real MRI and
CT slices of the pool), the strength settings meaningful, image and mask / label kept consistent."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("monai")

from radclass.learning.augment import BatchAugment  # noqa: E402
from radclass.learning.transforms import Clip, RandMirrorLabeld, UnsharpMask  # noqa: E402

MRI = "mri/nifti/msd_brats/BRATS_009_2_x26_y41_z67_ch1_T1w.nii.gz"


@pytest.fixture(scope="module")
def mri_batch(data_root) -> torch.Tensor:
    """(8, 1, 64, 64) prepared slices in [0, 1] of a real T1w brain volume (the CNN's inputs)."""
    from radclass.features.slices import prepare_batch
    from radclass.io.pixels import nifti_axial_slices

    slices = nifti_axial_slices(data_root / MRI)
    picks = np.linspace(len(slices) // 4, 3 * len(slices) // 4, 8).round().astype(int)
    return torch.from_numpy(prepare_batch([slices[z] for z in picks], 64))


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_mri_augment_is_deterministic_under_a_seed_and_changes_images(mri_batch):
    from radclass.training.augment import Augment

    aug = Augment()
    a, b, c = aug(mri_batch, _gen(7)), aug(mri_batch, _gen(7)), aug(mri_batch, _gen(8))
    assert a.shape == mri_batch.shape and a.dtype == torch.float32 and type(a) is torch.Tensor
    assert torch.equal(a, b)  # same seed, same batch
    assert not torch.allclose(a, c)  # another seed, other draws
    assert (a - mri_batch).abs().mean(dim=(1, 2, 3)).min() > 0.01  # every image changed
    assert a.min() >= 0 and a.max() <= 1
    # the samples of one batch get their own draws: the same slice twice is augmented two ways
    twice = aug(mri_batch[:1].repeat(2, 1, 1, 1), _gen(0))
    assert not torch.allclose(twice[0], twice[1])


def test_mri_augment_strength_settings_are_meaningful(mri_batch):
    from radclass.training.augment import Augment

    none = dict(rotation_deg=0.0, shift=0.0, shear=0.0, zoom=0.0, hflip=False, gamma=0.0, noise=0.0, blur_p=0.0)
    identity = Augment(**none)(mri_batch, _gen(0))
    torch.testing.assert_close(identity, mri_batch, atol=1e-4, rtol=0)  # all strengths 0: the image itself
    mild = Augment(**{**none, "rotation_deg": 5.0})(mri_batch, _gen(0))
    strong = Augment(**{**none, "rotation_deg": 40.0})(mri_batch, _gen(0))
    assert (strong - mri_batch).abs().mean() > (mild - mri_batch).abs().mean() > 0
    noisy = Augment(**{**none, "noise": 0.2})(mri_batch, _gen(0))
    assert (noisy - mri_batch).std() > 0.02
    flipped = Augment(**{**none, "hflip": True})(mri_batch, _gen(0))
    mirrored = [torch.allclose(f, x.flip(-1), atol=1e-4) for f, x in zip(flipped, mri_batch)]
    unchanged = [torch.allclose(f, x, atol=1e-4) for f, x in zip(flipped, mri_batch)]
    assert all(m or u for m, u in zip(mirrored, unchanged)) and any(mirrored)
    with pytest.raises(ValueError, match="blur_p is a probability"):
        Augment(blur_p=1.5)


def test_desai_and_window_augmentation_are_deterministic_on_real_ct(data_root):
    from radclass.diagnostic.preprocess import Preprocess
    from radclass.diagnostic.transforms import DesaiAugment, TrainTransform
    from radclass.io.pixels import nifti_axial_slices

    ct = nifti_axial_slices(data_root / "liver/ircad/ct.nii.gz")
    raw = torch.from_numpy(np.ascontiguousarray(ct[len(ct) // 2 - 2 : len(ct) // 2 + 2, ::4, ::4]))[:, None]
    size = raw.shape[-1]
    spec = Preprocess(input_size=size - 8, load_size=size)
    t = TrainTransform(spec, "hu", ["A", "B"], augment=True, flip=True)
    y = torch.zeros(len(raw), dtype=torch.long)
    a, b = t(raw, y, _gen(1))[0], t(raw, y, _gen(1))[0]
    assert a.shape == (4, 3, size - 8, size - 8) and torch.equal(a, b)
    assert not torch.allclose(a, t(raw, y, _gen(2))[0])
    plain = TrainTransform(spec, "hu", ["A", "B"], augment=False)(raw, y)[0]
    assert not torch.allclose(a, plain)
    with pytest.raises(ValueError, match="at most 1"):
        DesaiAugment(p_blur=0.6, p_edge=0.6)
    with pytest.raises(ValueError, match="must not be negative"):
        DesaiAugment(magnification=-0.1)


def test_segmentation_augmentation_moves_image_and_mask_together():
    from radclass.diagnostic.segmentation import SegConfig, _augment

    x = torch.zeros(6, 1, 48, 48)
    x[:, :, 10:30, 14:24] = 1.0
    m = (x > 0.5).float()
    cfg = SegConfig(rotation_deg=30.0, zoom=0.2)
    xa, ma = _augment(x, m, cfg, _gen(0))
    xb, mb = _augment(x, m, cfg, _gen(0))
    assert torch.equal(xa, xb) and torch.equal(ma, mb)
    assert not torch.equal(ma, m)  # moved
    assert set(ma.unique().tolist()) <= {0.0, 1.0}  # nearest-neighbour mask stays binary
    agree = ((xa > 0.5) == (ma > 0.5)).float().mean()
    assert agree > 0.98  # the same geometry for both


def test_batch_base_is_reproducible_for_dicts_and_rejects_nothing():
    perm = torch.tensor([1, 0])
    aug = BatchAugment([RandMirrorLabeld("image", "label", perm, prob=0.5)])
    x = torch.rand(16, 1, 8, 8)
    y = torch.zeros(16, dtype=torch.long)
    out = aug({"image": x, "label": y}, _gen(3))
    again = aug({"image": x, "label": y}, _gen(3))
    assert torch.equal(out["image"], again["image"]) and torch.equal(out["label"], again["label"])
    flipped = out["label"] == 1
    assert 0 < int(flipped.sum()) < 16
    assert torch.equal(out["image"][flipped], x[flipped].flip(-1))
    assert torch.equal(out["image"][~flipped], x[~flipped])
    with pytest.raises(ValueError, match="at least one transform"):
        BatchAugment([])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        RandMirrorLabeld(prob=2.0)


def test_clip_and_unsharp_mask():
    x = torch.zeros(1, 16, 16)
    x[:, :, 8:] = 0.5
    sharp = UnsharpMask(sigma=1.0, amount=1.0)(x)
    assert sharp[0, 8, 8] > 0.5 and sharp[0, 8, 7] == 0  # overshoot on the bright side, clipped on the dark one
    assert torch.equal(Clip(0.0, 0.25)(x).max(), torch.tensor(0.25))
    with pytest.raises(ValueError, match="low < high"):
        Clip(1.0, 0.0)
    with pytest.raises(ValueError, match="sigma > 0"):
        UnsharpMask(sigma=0.0)
