"""Tests of the Arcface.pth identity network and the identity loss (docs/official-implementation.md §5.4, §7.5)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from exegan._torchvision import ensure_torchvision
from exegan.losses import identity_loss
from exegan.nets.arcface import ArcFaceR101


@pytest.fixture(scope="module")
def small():
    torch.manual_seed(0)
    return ArcFaceR101(layers=(1, 1, 1, 1), width_per_group=16).eval().requires_grad_(False)


def test_official_keys_equal_torchvision_resnet101():
    tv = ensure_torchvision()
    with torch.device("meta"):
        ours = ArcFaceR101().state_dict()
        ref = tv.models.resnet101(num_classes=256).state_dict()
    assert list(ours) == list(ref)  # same keys, same order
    assert all(ours[k].shape == ref[k].shape for k in ref)
    assert ours["fc.weight"].shape == (256, 2048) and ours["conv1.weight"].shape == (64, 3, 7, 7)
    assert len(ours) == 626  # docs/official-implementation.md §7.5 "about 626 keys" with num_batches_tracked


def test_small_forward_matches_torchvision(small):
    tv = ensure_torchvision()
    ref = tv.models.resnet.ResNet(tv.models.resnet.Bottleneck, [1, 1, 1, 1], num_classes=256, width_per_group=16)
    ref.load_state_dict(small.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(small(x), ref.eval()(x))


def test_embed_unit_norm_and_independent(small):
    img = torch.rand(2, 3, 80, 80) * 2 - 1
    z = small.embed(img)
    assert z.shape == (2, 256)
    torch.testing.assert_close(z.norm(dim=1), torch.ones(2))
    raw = small(F.interpolate(img, size=112, mode="bilinear", align_corners=False))
    torch.testing.assert_close(z, raw / raw.norm(dim=1, keepdim=True))


def test_identity_loss(small):
    torch.manual_seed(1)
    a = torch.rand(2, 3, 64, 64) * 2 - 1
    b = torch.rand(2, 3, 64, 64) * 2 - 1
    assert identity_loss(small, a, a).item() == pytest.approx(0.0, abs=1e-5)
    out = b.clone().requires_grad_(True)
    ex = a.clone().requires_grad_(True)
    loss = identity_loss(small, out, ex)
    assert loss.ndim == 0 and 0.0 <= loss.item() <= 2.0
    manual = (1 - (small.embed(a) * small.embed(b)).sum(1)).abs().mean()
    torch.testing.assert_close(loss, manual)
    loss.backward()
    assert out.grad is not None and out.grad.abs().sum() > 0
    assert ex.grad is None  # exemplar embedding is detached
