"""Diversity: mean pairwise LPIPS among the samples of the same input.

For one (image, mask, exemplar) a method produces one completion per seed; diversity is the mean LPIPS over
all seed pairs of that input, averaged over the inputs (0 for deterministic methods). It needs >= 2 seeds and
the LPIPS VGG16 trunk (``vgg16-397923af.pth``, see :mod:`exegan.perceptual`); without them it is recorded as
unavailable rather than computed with a random network.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

__all__ = ["LpipsMetric", "load_lpips_metric", "seed_pairs"]


class LpipsMetric:
    """LPIPS (VGG, v0.1) between uint8 ``[B, H, W, 3]`` image batches -> ``[B]`` float64 distances."""

    def __init__(self, net: torch.nn.Module, device: torch.device, info: dict):
        self.net, self.device, self.info = net.to(device), device, info

    @torch.no_grad()
    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        def t(x):
            return (torch.from_numpy(np.ascontiguousarray(x)).permute(0, 3, 1, 2).float() / 127.5 - 1).to(self.device)
        return self.net(t(a), t(b)).reshape(len(a)).double().cpu().numpy()


def load_lpips_metric(vgg_weights: str | None = None, device: str | torch.device = "cpu",
                      allow_random_backbone: bool = False) -> tuple[LpipsMetric | None, dict]:
    """Load LPIPS through :func:`exegan.perceptual.load_lpips`; ``(None, reason)`` when it cannot be had."""
    try:
        from exegan.perceptual import load_lpips
    except ImportError as err:
        return None, {"available": False, "reason": f"exegan.perceptual unavailable ({err})"}
    try:
        net = load_lpips(vgg_weights, allow_random_backbone=allow_random_backbone)
    except (FileNotFoundError, ValueError, RuntimeError) as err:
        return None, {"available": False, "reason": f"LPIPS VGG16 weights unavailable ({err})"}
    source = getattr(net, "vgg16_weights", None)
    info = {"available": True, "network": "LPIPS v0.1 VGG16", "vgg16_weights": source or "RANDOM (smoke test only)"}
    return LpipsMetric(net, torch.device(device), info), info


def seed_pairs(n_seeds: int) -> list[tuple[int, int]]:
    """All unordered pairs of seed positions (empty for fewer than 2 seeds)."""
    return list(itertools.combinations(range(n_seeds), 2))
