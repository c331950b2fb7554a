"""Identity network of EXE-GAN's identity loss: the ``Arcface.pth`` ResNet-101 (docs/official-implementation.md §5.4,
§7.5).

``Arcface.pth`` is a plain state dict of ``torchvision.models.resnet101(num_classes=256)``. :class:`ArcFaceR101`
has exactly those state-dict keys (no prefix, same order), so the file loads with ``strict=True``.

torchvision is imported lazily, inside :class:`ArcFaceR101`'s constructor, through
:func:`exegan._torchvision.ensure_torchvision` (a plain ``import torchvision`` crashes next to the CPU torch
build, and the import costs ~2 s, which modules that never build the network should not pay).

Use in training: ``net = ArcFaceR101().eval().requires_grad_(False)`` (official: eval mode, frozen), then
``exegan.losses.identity_loss(net, completed, exemplar)``; gradients flow only into ``completed``.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .._torchvision import ensure_torchvision

EMBED_SIZE = 112  # side the whole image is resized to before the network (docs/official-implementation.md §5.4)


class ArcFaceR101(nn.Module):
    """torchvision ResNet with Bottleneck blocks and a 256-d ``fc``; defaults = resnet101(num_classes=256).

    The submodules of a torchvision ``ResNet`` are adopted as this module's own children (conv1, bn1, relu,
    maxpool, layer1..layer4, avgpool, fc, in torchvision's order), so the state dict is torchvision's exactly.

    Args:
        layers: Bottlenecks per stage (official (3, 4, 23, 3)); e.g. (1, 1, 1, 1) for tests.
        width_per_group: torchvision's bottleneck inner width base (official 64); smaller narrows the
            3x3 convs only (stage outputs keep 256/512/1024/2048 channels).
        num_classes: embedding size (official 256).
    """

    def __init__(self, layers: Sequence[int] = (3, 4, 23, 3), width_per_group: int = 64, num_classes: int = 256):
        super().__init__()
        tv = ensure_torchvision()
        resnet = tv.models.resnet.ResNet(tv.models.resnet.Bottleneck, list(layers), num_classes=num_classes,
                                         width_per_group=width_per_group)
        for name, child in resnet.named_children():
            self.add_module(name, child)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B,3,H,W] -> [B,num_classes] (raw fc output, not normalised). Same computation as torchvision's."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))

    def embed(self, img: torch.Tensor) -> torch.Tensor:
        """Official identity embedding (docs/official-implementation.md §5.4): [B,3,H,W] in [-1,1] -> unit-norm float32
        [B,num_classes].

        The whole image is resized to 112x112 (bilinear, align_corners=False, no antialias); no crop and no
        ImageNet normalisation; then forward and L2-normalise.
        """
        x = F.interpolate(img, size=(EMBED_SIZE, EMBED_SIZE), mode="bilinear", align_corners=False)
        return F.normalize(self(x).float(), p=2, dim=1)

