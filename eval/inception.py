"""The FID Inception-v3 network (TF graph ``2015-12-05`` as ported by pytorch-fid) -> 2048-d pool3 features.

Architecture (docs/official-implementation.md §9.2): torchvision's ``Inception3`` layout with ``num_classes=1008``,
no auxiliary classifier, and the TF-port differences: the average pools of the ``A``/``C``/first ``E`` blocks do not count
padding (``count_include_pad=False``) and the last ``E`` block (``Mixed_7c``) max-pools in its pool branch.
Parameter names are torchvision's (``Conv2d_1a_3x3.conv.weight``, ``Mixed_5b.branch1x1.bn.running_mean``, ...,
``fc.weight``), i.e. the layout of ``pt_inception-2015-12-05-6726825d.pth``, which loads strictly.

Input: float ``[B, 3, H, W]`` in ``[0, 1]`` (8-bit pixels / 255), any H, W. Preprocessing as pytorch-fid:
bilinear resize to 299x299 (``align_corners=False``, no antialias), then ``2x - 1``. Output: ``[B, 2048]``,
the global average of ``Mixed_7c`` (the classifier ``fc`` is loaded but unused).

Cost: ~5.7 GFLOP per image (299x299), about 0.05-0.1 s per image on two CPU cores.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["FIDInception", "load_fid_inception", "resolve_weights", "file_sha256", "STANDARD_SHA256_PREFIX",
           "RESIZE_DESCRIPTION"]

STANDARD_SHA256_PREFIX = "6726825d"
"""The torch.hub-style hash suffix of ``pt_inception-2015-12-05-6726825d.pth`` (first hex digits of its sha256)."""

RESIZE_DESCRIPTION = "bilinear to 299x299 (align_corners=False, no antialias), then 2x-1 (pytorch-fid)"

Kernel = int | tuple[int, int]


class BasicConv2d(nn.Module):
    """conv (no bias) -> BatchNorm (eps 1e-3) -> ReLU; keys ``conv.weight``, ``bn.*`` as torchvision."""

    def __init__(self, cin: int, cout: int, kernel: Kernel, stride: int = 1, padding: Kernel = 0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg3(x: torch.Tensor) -> torch.Tensor:
    """3x3 stride-1 average pool whose border windows average only the real pixels (TF semantics)."""
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    """35x35 block (Mixed_5b/5c/5d): 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avgpool-1x1 -> 224 + pool_features ch."""

    def __init__(self, cin: int, pool_features: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64, 1)
        self.branch5x5_1 = BasicConv2d(cin, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([
            self.branch1x1(x),
            self.branch5x5_2(self.branch5x5_1(x)),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            self.branch_pool(_avg3(x)),
        ], 1)


class InceptionB(nn.Module):
    """35->17 reduction (Mixed_6a): 3x3/2 | 1x1-3x3-3x3/2 | maxpool/2 -> 768 ch."""

    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([
            self.branch3x3(x),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            F.max_pool2d(x, 3, stride=2),
        ], 1)


class InceptionC(nn.Module):
    """17x17 block (Mixed_6b..6e) with factorised 7x7 convolutions of width ``c7`` -> 768 ch."""

    def __init__(self, cin: int, channels_7x7: int):
        super().__init__()
        c7 = channels_7x7
        row, col = dict(kernel=(1, 7), padding=(0, 3)), dict(kernel=(7, 1), padding=(3, 0))
        self.branch1x1 = BasicConv2d(cin, 192, 1)
        self.branch7x7_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, **row)
        self.branch7x7_3 = BasicConv2d(c7, 192, **col)
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, **col)
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, **row)
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, **col)
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, **row)
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d7 = x
        for conv in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4,
                     self.branch7x7dbl_5):
            d7 = conv(d7)
        return torch.cat([self.branch1x1(x), b7, d7, self.branch_pool(_avg3(x))], 1)


class InceptionD(nn.Module):
    """17->8 reduction (Mixed_7a): 1x1-3x3/2 | 1x1-1x7-7x1-3x3/2 | maxpool/2 -> 1280 ch."""

    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192, 1)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), b7, F.max_pool2d(x, 3, stride=2)], 1)


class InceptionE(nn.Module):
    """8x8 block (Mixed_7b / 7c) with split 1x3 / 3x1 outputs -> 2048 ch.

    ``pool="avg"``: TF's padding-excluding average pool (Mixed_7b); ``pool="max"``: 3x3 stride-1 max pool, the
    TF graph's choice for the last block (Mixed_7c).
    """

    def __init__(self, cin: int, pool: str):
        super().__init__()
        if pool not in ("avg", "max"):
            raise ValueError(f"pool must be 'avg' or 'max', got {pool!r}")
        self.pool = pool
        self.branch1x1 = BasicConv2d(cin, 320, 1)
        self.branch3x3_1 = BasicConv2d(cin, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.branch3x3_1(x)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = _avg3(x) if self.pool == "avg" else F.max_pool2d(x, 3, stride=1, padding=1)
        return torch.cat([
            self.branch1x1(x),
            self.branch3x3_2a(s), self.branch3x3_2b(s),
            self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d),
            self.branch_pool(pooled),
        ], 1)


class FIDInception(nn.Module):
    """FID Inception-v3 feature extractor: ``[B,3,H,W]`` in [0,1] -> ``[B,2048]`` float32 pool3 features.

    ``state_dict()`` keys equal those of ``pt_inception-2015-12-05-6726825d.pth`` (see module docstring).
    """

    def __init__(self):
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, pool="avg")
        self.Mixed_7c = InceptionE(2048, pool="max")
        self.fc = nn.Linear(2048, 1008)  # the 1008-way TF classifier: loaded (strict), not used for features

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(images, size=(299, 299), mode="bilinear", align_corners=False)
        x = 2 * x - 1
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, 3, stride=2)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                      self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = block(x)
        return x.mean(dim=(2, 3))  # adaptive average pool to 1x1


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def resolve_weights(spec: str | os.PathLike) -> Path:
    """A local path, or ``hf://OWNER/REPO/FILENAME[@REVISION]`` fetched with ``huggingface_hub.hf_hub_download``
    (respects ``HF_HUB_OFFLINE`` and the Hub cache; nothing is downloaded unless such a spec is given)."""
    spec = str(spec)
    if not spec.startswith("hf://"):
        path = Path(spec).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"FID Inception weights not found: {path} (get pt_inception-2015-12-05-"
                                    f"6726825d.pth from the pytorch-fid releases, or pass hf://OWNER/REPO/FILE)")
        return path
    from huggingface_hub import hf_hub_download

    body, _, revision = spec[len("hf://"):].partition("@")
    parts = body.split("/")
    if len(parts) < 3:
        raise ValueError(f"Hub weights must be hf://OWNER/REPO/FILENAME[@REVISION], got {spec!r}")
    return Path(hf_hub_download("/".join(parts[:2]), "/".join(parts[2:]), revision=revision or None))


def _fill_counters(state: dict, names: Sequence[str]) -> dict:
    """Older files lack BatchNorm ``num_batches_tracked``; add zeros for exactly those keys."""
    state = dict(state)
    for name in names:
        if name.endswith("num_batches_tracked") and name not in state:
            state[name] = torch.zeros((), dtype=torch.long)
    return state


def load_fid_inception(weights: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[FIDInception, dict]:
    """Build :class:`FIDInception` and load ``weights`` strictly (float32, eval mode, no grad).

    Returns ``(net, info)``; ``info`` records the file, its sha256 and whether that sha256 has the standard
    prefix ``6726825d`` (i.e. whether the numbers are comparable with published FIDs).
    """
    from exegan.checkpoints import safe_torch_load

    path = resolve_weights(weights)
    state = safe_torch_load(path)
    if not isinstance(state, dict) or "Mixed_7c.branch_pool.conv.weight" not in state:
        raise ValueError(f"{path} does not look like the FID Inception state dict (pt_inception-2015-12-05)")
    with torch.device("meta"):
        net = FIDInception()
    state = _fill_counters(state, list(net.state_dict()))
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in state.items()}
    net.load_state_dict(state, strict=True, assign=True)
    sha = file_sha256(path)
    info = {"weights": str(weights), "file": path.name, "sha256": sha,
            "standard_weights": sha.startswith(STANDARD_SHA256_PREFIX)}
    return net.to(device).eval().requires_grad_(False), info
