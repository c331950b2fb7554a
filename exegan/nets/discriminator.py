"""EXE-GAN discriminator: StyleGAN2 residual D on RGB only (no mask channel), official names
(docs/official-implementation.md §4, §7.3)."""

from __future__ import annotations

import math

import torch
from torch import nn

from .generator import channel_table
from .layers import BLUR_KERNEL, ConvLayer, EqualLinear, ResBlock


def minibatch_stddev(x: torch.Tensor, group_size: int = 4) -> torch.Tensor:
    """Append the minibatch standard deviation as one extra channel (StyleGAN2, 1 feature).

    Groups of G = min(B, group_size) samples; sample b gets the statistic of sub-index b mod (B / G).
    The official code requires B divisible by G; where it is not, we use the largest G <= group_size that
    divides B (identical whenever the official code runs at all).
    """
    b, c, h, w = x.shape
    group = min(b, group_size)
    while b % group:
        group -= 1
    y = x.float().view(group, -1, 1, c, h, w)
    y = torch.sqrt(y.var(0, unbiased=False) + 1e-8)  # [B/G, 1, C, H, W]
    y = y.mean((2, 3, 4)).view(-1, 1, 1, 1).repeat(group, 1, h, w).to(x.dtype)
    return torch.cat([x, y], 1)


class Discriminator(nn.Module):
    """D(image) -> logits [B, 1]. image: [B, 3, S, S] in [-1, 1] (real images or composited fakes).

    Args mirror :class:`~exegan.nets.Generator` (size, channel_multiplier, max_channels) so narrow pairs match.
    """

    def __init__(self, size: int, channel_multiplier: float = 2, *, max_channels: int = 512,
                 blur_kernel=BLUR_KERNEL):
        super().__init__()
        log_size = int(math.log2(size))
        if 2 ** log_size != size or not 32 <= size <= 1024:
            raise ValueError(f"size must be a power of two in [32, 1024], got {size}")
        self.size = size
        ch = channel_table(size, channel_multiplier, max_channels)
        self.encoder_input_convs = ConvLayer(3, ch[size], 1)
        self.encoder_convs = nn.ModuleList(ResBlock(ch[2 ** i], ch[2 ** (i - 1)], blur_kernel)
                                           for i in range(log_size, 2, -1))
        self.final_conv = ConvLayer(ch[4] + 1, ch[4], 3)
        self.final_linear = nn.Sequential(EqualLinear(ch[4] * 16, ch[4], activation="fused_lrelu"),
                                          EqualLinear(ch[4], 1))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = self.encoder_input_convs(image)
        for block in self.encoder_convs:
            x = block(x)
        x = self.final_conv(minibatch_stddev(x))
        return self.final_linear(x.flatten(1))
