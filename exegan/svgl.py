"""Spatial variant gradient layer, SVGL (paper §III.D, Eq. 10; docs/official-implementation.md §5.7).

``svgl(x, w)`` is the identity in the forward pass; in the backward pass the incoming gradient is multiplied
element-wise by the weight map ``w``. EXE-GAN puts it on the composited image in front of the LPIPS loss
(``w = M_w``) and in front of the pSp attribute loss (``w = normalised M̄_w``).
"""

from __future__ import annotations

import torch

__all__ = ["SpatialVariantGradient", "svgl"]


class SpatialVariantGradient(torch.autograd.Function):
    """Eq. 10 of the paper: P(x, M_x) = x and dP/dx = M_x ⊙ I.

    Forward returns ``x`` unchanged and saves the weight map; backward returns ``grad * weight`` for ``x``
    (``weight`` of shape [B,1,H,W] broadcasts over the channels of ``x`` [B,C,H,W]; any shape that broadcasts
    to ``x.shape`` works) and no gradient for the weight map.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        if torch.broadcast_shapes(x.shape, weight.shape) != x.shape:
            raise ValueError(f"weight {tuple(weight.shape)} does not broadcast to x {tuple(x.shape)}")
        ctx.save_for_backward(weight)
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (weight,) = ctx.saved_tensors
        return grad * weight.to(grad.dtype), None


def svgl(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Identity on ``x`` whose gradient is re-weighted by ``weight`` (detached; it never receives a gradient)."""
    return SpatialVariantGradient.apply(x, weight.detach())
