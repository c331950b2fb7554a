"""Small random stand-ins for the evaluation networks (tests and smoke runs; nothing is downloaded).

Numbers computed with these are meaningless as image-quality scores: they only exercise the real loading and
metric code paths.
"""

from __future__ import annotations

import math
import os

import torch

__all__ = ["random_fid_inception_state", "save_random_fid_weights", "save_random_arcface"]


@torch.no_grad()
def random_fid_inception_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """A full-size FID Inception state dict (``pt_inception`` layout, ~24M parameters) with random values.

    Convolutions get He-normal weights and BatchNorms near-identity statistics, so activations keep an O(1) scale
    through the 94 layers (the default initialisation would shrink them towards zero).
    """
    from .inception import FIDInception

    gen = torch.Generator().manual_seed(seed)
    with torch.device("meta"):
        shapes = {k: (v.shape, v.dtype) for k, v in FIDInception().state_dict().items()}
    state = {}
    for name, (shape, dtype) in shapes.items():
        if name.endswith("num_batches_tracked"):
            state[name] = torch.zeros((), dtype=torch.long)
        elif name.endswith("conv.weight") or name == "fc.weight":
            fan_in = math.prod(shape[1:])
            state[name] = torch.randn(shape, generator=gen) * math.sqrt(2.0 / fan_in)
        elif name.endswith("running_var"):
            state[name] = torch.rand(shape, generator=gen) + 0.5
        elif name.endswith("bn.weight"):
            state[name] = torch.rand(shape, generator=gen) * 0.5 + 0.75
        else:  # bn.bias, running_mean, fc.bias
            state[name] = torch.randn(shape, generator=gen) * 0.1
        assert state[name].dtype == dtype
    return state


def save_random_fid_weights(path: str | os.PathLike, seed: int = 0) -> str:
    """Write :func:`random_fid_inception_state` with ``torch.save`` (~95 MB, like the real file); returns the path."""
    torch.save(random_fid_inception_state(seed), path)
    return str(path)


def save_random_arcface(path: str | os.PathLike, seed: int = 0, layers=(1, 1, 1, 1), width_per_group: int = 8) -> str:
    """A shallow random ArcFace ResNet (``exegan.nets.arcface.ArcFaceR101(layers=...)``) saved as a plain state dict
    (the ``Arcface.pth`` format); BatchNorm statistics are randomised so embeddings depend on the input."""
    from exegan.nets.arcface import ArcFaceR101

    torch.manual_seed(seed)
    net = ArcFaceR101(layers=layers, width_per_group=width_per_group)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
    torch.save(net.state_dict(), path)
    return str(path)
