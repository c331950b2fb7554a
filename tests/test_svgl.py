"""SVGL (paper Eq. 10, docs/official-implementation.md §5.7): identity forward, gradient re-weighted by the map, no
grad to the map."""

import pytest
import torch

from exegan.svgl import SpatialVariantGradient, svgl


def _downstream(y: torch.Tensor) -> torch.Tensor:
    # an arbitrary non-linear loss, so the upstream gradient is not constant
    return (torch.sin(3 * y) * torch.linspace(-1, 2, y.shape[-1])).sum() + (y ** 3).mean()


def test_forward_is_identity():
    x = torch.randn(2, 3, 5, 7)
    w = torch.rand(2, 1, 5, 7)
    y = svgl(x, w)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert torch.equal(y, x)


@pytest.mark.parametrize("wshape", [(2, 1, 5, 7), (2, 3, 5, 7)])
def test_gradient_is_weighted_upstream_gradient(wshape):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 5, 7, dtype=torch.float64)
    w = torch.rand(*wshape, dtype=torch.float64)
    xa = x.clone().requires_grad_(True)
    (ga,) = torch.autograd.grad(_downstream(svgl(xa, w)), xa)
    # reference: autograd of the same loss without SVGL, multiplied by the weight afterwards
    xb = x.clone().requires_grad_(True)
    (gb,) = torch.autograd.grad(_downstream(xb), xb)
    torch.testing.assert_close(ga, gb * w, rtol=0, atol=1e-12)
    assert not torch.allclose(ga, gb)  # the weighting did something


def test_weight_gets_no_gradient_and_zero_weight_blocks():
    x = torch.randn(1, 2, 4, 4, requires_grad=True)
    w = torch.rand(1, 1, 4, 4, requires_grad=True)
    w0 = w.detach().clone()
    w0[..., :2, :] = 0
    (svgl(x, w0) ** 2).sum().backward()
    assert torch.all(x.grad[..., :2, :] == 0) and torch.all(x.grad[..., 2:, :] != 0)
    x.grad = None
    (svgl(x, w) ** 2).sum().backward()
    assert w.grad is None
    # even if the raw Function is used with a weight that requires grad, it returns None for it
    x.grad = None
    (SpatialVariantGradient.apply(x, w) ** 2).sum().backward()
    assert w.grad is None and x.grad is not None


def test_bad_weight_shape_raises():
    with pytest.raises(ValueError):
        svgl(torch.randn(1, 3, 4, 4), torch.rand(2, 1, 4, 4))
