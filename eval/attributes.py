"""Attribute distance of the paper's Eq. 7, measured in the style-code space of an EXE-GAN style encoder.

    d_attr(out, exemplar) = (1 / |phi|) * sum_{j in phi} || E(out)_j - E(exemplar)_j ||_2

where ``E(.)_j`` is the style code of latent j (raw encoder code + ``latent_avg``, as
:meth:`exegan.ExeGAN.exemplar_codes` returns it) and phi the exemplar-driven latents (official phi by default).
Lower = the completion carries more of the exemplar's attributes. All methods of one run are measured with the
*same* encoder (the reference model), so their numbers are comparable. (Training uses an element-wise MSE
instead, docs/official-implementation.md §10.3 item 11; this is the paper's per-latent L2 form.)
"""

from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np
import torch

from .identity import module_fingerprint

__all__ = ["StyleCodeExtractor", "attribute_distance"]


class StyleCodeExtractor:
    """uint8 ``[B, H, W, 3]`` RGB -> float32 ``[B, len(phi) * D]`` flattened style codes of ``model``."""

    def __init__(self, model, phi: Sequence[int] | Sequence[bool] | None = None, label: str = ""):
        self.model = model
        self.phi = model.resolve_phi(phi)
        self.dim = model.generator.style_dim
        h = hashlib.sha256((module_fingerprint(model.style_encoder) + str(self.phi)).encode())
        h.update(model.latent_avg.detach().cpu().float().numpy().tobytes())
        self.fingerprint = h.hexdigest()[:16]
        self.info = {"model": label, "phi": self.phi, "fingerprint": self.fingerprint,
                     "formula": "mean over phi latents of ||E(out)_j - E(exemplar)_j||_2 (paper Eq. 7)"}

    @property
    def cache_id(self) -> str:
        return f"stylecodes-{self.fingerprint}"

    @torch.no_grad()
    def __call__(self, images: np.ndarray) -> np.ndarray:
        codes = self.model.exemplar_codes(list(images), self.phi)  # [B, len(phi), D]
        return codes.float().reshape(len(images), -1).cpu().numpy()


def attribute_distance(out_codes: np.ndarray, exemplar_codes: np.ndarray, dim: int) -> np.ndarray:
    """Per-image Eq. 7 distance from flattened codes ``[N, len(phi) * dim]`` -> ``[N]`` float64."""
    a = np.asarray(out_codes, np.float64).reshape(len(out_codes), -1, dim)
    b = np.asarray(exemplar_codes, np.float64).reshape(len(exemplar_codes), -1, dim)
    return np.linalg.norm(a - b, axis=2).mean(axis=1)
