"""EXE-GAN training losses, named as in the paper (Eq. 4-7) and the official code (docs/official-implementation.md §5).

All images are [B, 3, S, S] in [-1, 1]; masks [B, 1, S, S] with 1 = hole; style codes [B, n, D].
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import autograd

from .confidence import blur
from .svgl import svgl


def d_logistic_loss(real_pred: torch.Tensor, fake_pred: torch.Tensor) -> torch.Tensor:
    """Non-saturating logistic D loss (Eq. 4): softplus(-D(real)) + softplus(D(fake)), batch means."""
    return F.softplus(-real_pred).mean() + F.softplus(fake_pred).mean()


def d_r1_loss(real_pred: torch.Tensor, real_img: torch.Tensor) -> torch.Tensor:
    """R1 penalty (Eq. 4, gamma term without gamma / 2): mean over the batch of |grad_x D(x)|^2 on reals.
    ``real_img`` must have ``requires_grad``."""
    (grad,) = autograd.grad(real_pred.sum(), real_img, create_graph=True)
    return grad.pow(2).reshape(grad.shape[0], -1).sum(1).mean()


def g_nonsaturating_loss(fake_pred: torch.Tensor) -> torch.Tensor:
    """Non-saturating G loss: softplus(-D(I_out)), batch mean."""
    return F.softplus(-fake_pred).mean()


def g_path_regularize(fake_img: torch.Tensor, latents: torch.Tensor, mean_path_length: torch.Tensor,
                      decay: float = 0.01) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """StyleGAN2 path-length regulariser w.r.t. the injected W+ (official, not in the paper;
    docs/official-implementation.md §5.1.5).

    Returns (penalty, running mean updated with ``decay``, mean path length of this batch)."""
    noise = torch.randn_like(fake_img) / math.sqrt(fake_img.shape[2] * fake_img.shape[3])
    (grad,) = autograd.grad((fake_img * noise).sum(), latents, create_graph=True)
    path_lengths = torch.sqrt(grad.pow(2).sum(2).mean(1))
    path_mean = mean_path_length + decay * (path_lengths.detach().mean() - mean_path_length)
    return (path_lengths - path_mean).pow(2).mean(), path_mean.detach(), path_lengths.detach().mean()


def identity_loss(net, output: torch.Tensor, exemplar: torch.Tensor | None = None, *,
                  exemplar_embedding: torch.Tensor | None = None) -> torch.Tensor:
    """Identity loss L_id (Eq. 5): ``mean_b (1 - cos(net.embed(output_b), net.embed(exemplar_b)))``, a float32 scalar
    in [0, 2] (0 for the same face). ``net`` is any face embedder with an ``embed`` method returning unit vectors
    (``exegan.sface.SFace``, ``exegan.nets.ArcFaceR101``). The exemplar side carries no gradient; pass its
    ``exemplar_embedding`` [B, E] instead of ``exemplar`` when it is already computed."""
    if exemplar_embedding is None:
        with torch.no_grad():
            exemplar_embedding = net.embed(exemplar)
    return (1 - (net.embed(output) * exemplar_embedding.detach()).sum(dim=1)).mean()


def attribute_loss(codes_out: torch.Tensor, codes_exemplar: torch.Tensor, form: str = "mse") -> torch.Tensor:
    """Attribute loss L_attr between the style codes of the inpainted image and of the exemplar.

    ``form="mse"`` (official, default): mean of squared differences over all B * n * D elements.
    ``form="paper"``: Eq. 7, the per-latent L2 norm averaged over the ||phi||_1 exemplar-driven latents (and
    the batch). codes: [B, n, D], only the phi-selected latents.
    """
    if form == "mse":
        return F.mse_loss(codes_out, codes_exemplar)
    if form == "paper":
        return (codes_out - codes_exemplar).norm(dim=2).mean()
    raise ValueError(f"attribute loss form must be 'mse' or 'paper', got {form!r}")


def lpips_loss(lpips_net, completed: torch.Tensor, real: torch.Tensor, weight_map: torch.Tensor) -> torch.Tensor:
    """Spatially weighted LPIPS (Eq. 6 with SVGL, docs/official-implementation.md §5.5): SVGL(M_w) on the composite,
    then LPIPS to the ground truth, **summed** over the batch as the official code does."""
    return lpips_net(svgl(completed, weight_map), real).sum()


def l1_loss(completed: torch.Tensor, real: torch.Tensor, weight_map: torch.Tensor) -> torch.Tensor:
    """L1 reconstruction through SVGL(M_w), batch mean. Not part of EXE-GAN: an offline stand-in for the LPIPS
    term (same role: only for self-exemplar batches, gradient concentrated near the hole border)."""
    return (svgl(completed, weight_map) - real).abs().mean()


def hole_rim(mask: torch.Tensor, width: int) -> torch.Tensor:
    """The hole's inner rim: hole pixels within ``width`` px (8-neighbourhood steps) of a known pixel.
    mask [B,1,H,W], 1 = hole -> [B,1,H,W] in {0, 1}. The image border does not count as known."""
    near_known = F.max_pool2d(1 - mask, 2 * width + 1, stride=1, padding=width)
    return mask * near_known


def seam_loss(completed: torch.Tensor, real: torch.Tensor, mask: torch.Tensor, width: int = 2,
              sigma: float = 1.0) -> torch.Tensor:
    """Colour continuity across the hole's border (not in the paper; README, "Seams and colour"): the composite's
    error against the ground truth, averaged locally (Gaussian, ``sigma`` px, signed) and taken on the hole's inner
    rim (:func:`hole_rim`), mean |.| over rim pixels and channels. Signed errors cancel inside the window, so a fill
    whose shapes differ from the ground truth (another person's eyes) pays little, and one whose colour is off pays
    in full; that is why it applies to cross-exemplar batches too. completed, real: [B,3,H,W]; mask [B,1,H,W]."""
    rim = hole_rim(mask, width)
    local = blur(completed - real, size=2 * math.ceil(2 * sigma) + 1, sigma=sigma, kind="gaussian")
    return (local.abs() * rim).sum() / (rim.sum() * completed.shape[1]).clamp(min=1)
