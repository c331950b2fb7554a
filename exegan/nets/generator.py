"""EXE-GAN multi-style generator: mapping network f, co-modulation encoder G_en, decoder G_de
(docs/official-implementation.md §2).

Data flow (paper Fig. 2, official ``Generator.forward``)::

    z --f--> w (x n_latent) --truncation/mixing--> W+ --exemplar injection (phi)--> w_hat     [B, n_latent, D]
    [I_in, M - 0.5] --G_en--> global code c [B, 2*ch4] + skip features (4x4 ... S x S)
    G_de: style of layer j = concat(w_hat_j, c); starts from the 4x4 feature (no constant input)

Attribute names and the state-dict layout are the official ones (docs/official-implementation.md §7.2), so the authors'
``g_ema`` weights load with ``strict=True``. The public entry points split the forward pass in three so that the
inference pipeline can run the encoder once per (image, mask) and batch many samples through the decoder:
:meth:`Generator.encode`, :meth:`Generator.w_plus` and :meth:`Generator.synthesize`.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from .layers import BLUR_KERNEL, ConvLayer, EqualLinear, PixelNorm, StyledConv, ToRGB

CHANNEL_BASE = 16384  # ch[r] = min(max_channels, CHANNEL_BASE * channel_multiplier / r): 512,...,512,256cm,128cm,...


def channel_table(size: int, channel_multiplier: float = 2, max_channels: int = 512) -> dict[int, int]:
    """Channels per resolution 4..size. Official (cm=2): 4-32: 512, 64: 512, 128: 256, 256: 128, 512: 64."""
    return {2 ** i: max(1, min(max_channels, int(CHANNEL_BASE * channel_multiplier / 2 ** i)))
            for i in range(2, int(math.log2(size)) + 1)}


def truncate(w: torch.Tensor, w_avg: torch.Tensor, psi: float) -> torch.Tensor:
    """Truncation trick w_avg + psi * (w - w_avg).

    The official code applies it only when psi < 1 and silently ignores psi > 1; we apply it for every
    psi != 1, so psi > 1 amplifies as the paper's "style scale" describes (docs/official-implementation.md §3.3,
    §10.2 item 8).
    """
    return w if psi == 1 else w_avg + psi * (w - w_avg)


def masked_input(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The generator input [B, 4, S, S] = [image * (1 - mask), mask - 0.5] (docs/official-implementation.md §2.7).

    image: [B, 3, S, S] in [-1, 1]; mask: [B or 1, 1, S, S] with 1 = hole (so holes read 0 = mid-grey and the
    mask channel is +0.5 in holes, -0.5 on known pixels)."""
    mask = mask.to(image.dtype).expand(image.shape[0], -1, -1, -1)
    return torch.cat([image * (1 - mask), mask - 0.5], 1)


def composite(pred: torch.Tensor, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """I_out = I_pred * M + I_gt * (1 - M) (paper Eq. 3): generated pixels in the hole, known pixels kept.

    Written arithmetically so that gradients reach ``pred`` through the hole only (as in training); with a binary
    mask the known pixels equal ``image`` exactly (finite ``pred``)."""
    mask = mask.to(pred.dtype)
    return pred * mask + image.to(pred.dtype) * (1 - mask)


class Generator(nn.Module):
    """EXE-GAN generator. Defaults are the authors' released architecture.

    Args:
        size: output resolution S, a power of two in [32, 1024] (official: 256 or 512).
        style_dim: length D of z, w and each exemplar code (official 512).
        n_mlp: mapping-network depth (official 8).
        channel_multiplier: width factor of the high resolutions (official 2); floats allowed for narrow models.
        exemplar_start: first generator latent driven by the exemplar (official 4).
        n_exemplar: number of exemplar-driven latents; default ``n_latent - exemplar_start`` (official 10 at 256,
            12 at 512). Together they define the official phi (docs/official-implementation.md §3.2).
        max_channels: channel cap of the low resolutions (official 512); lower it for narrow models.
        lr_mlp: equalised-LR multiplier of the mapping network (official 0.01).
        blur_kernel: FIR taps of every resampling filter (official [1, 3, 3, 1]).
    """

    def __init__(self, size: int, style_dim: int = 512, n_mlp: int = 8, channel_multiplier: float = 2,
                 exemplar_start: int = 4, n_exemplar: int | None = None, *, max_channels: int = 512,
                 lr_mlp: float = 0.01, blur_kernel: Sequence[int] = BLUR_KERNEL):
        super().__init__()
        log_size = int(math.log2(size))
        if 2 ** log_size != size or not 32 <= size <= 1024:
            raise ValueError(f"size must be a power of two in [32, 1024], got {size}")
        self.size, self.style_dim, self.log_size = size, style_dim, log_size
        self.n_latent = 2 * log_size - 2  # 14 at 256, 16 at 512
        self.num_layers = 2 * (log_size - 2) + 1  # noise inputs: 13 at 256
        if n_exemplar is None:
            n_exemplar = self.n_latent - exemplar_start
        if exemplar_start < 0 or n_exemplar < 0 or exemplar_start + n_exemplar > self.n_latent:
            raise ValueError(f"exemplar latents [{exemplar_start}, {exemplar_start + n_exemplar}) do not fit in "
                             f"the {self.n_latent} generator latents")
        self.exemplar_start, self.n_exemplar = exemplar_start, n_exemplar
        ch = self.channels = channel_table(size, channel_multiplier, max_channels)
        self.global_dim = 2 * ch[4]  # c: the paper's "2 x 512", a flat 1024-vector officially
        mod_dim = style_dim + self.global_dim  # every modulation sees concat(w_hat_j, c): 1536 officially

        # -- G_de (registered first: the official state-dict order is conv1, to_rgb1, convs, to_rgbs, noises, ...)
        self.conv1 = StyledConv(ch[4], ch[4], 3, mod_dim, blur_kernel=blur_kernel)
        self.to_rgb1 = ToRGB(ch[4], mod_dim, upsample=False)
        self.convs, self.to_rgbs = nn.ModuleList(), nn.ModuleList()
        self.noises = nn.Module()  # persistent buffers, unused by inference, required for strict loading
        for i in range(self.num_layers):
            res = 2 ** ((i + 5) // 2)
            self.noises.register_buffer(f"noise_{i}", torch.randn(1, 1, res, res))
        in_ch = ch[4]
        for i in range(3, log_size + 1):
            out_ch = ch[2 ** i]
            self.convs.append(StyledConv(in_ch, out_ch, 3, mod_dim, upsample=True, blur_kernel=blur_kernel))
            self.convs.append(StyledConv(out_ch, out_ch, 3, mod_dim, blur_kernel=blur_kernel))
            self.to_rgbs.append(ToRGB(out_ch, mod_dim, blur_kernel=blur_kernel))
            in_ch = out_ch

        # -- mapping network f: PixelNorm at index 0, then n_mlp EqualLinear(lr_mul=0.01) + lrelu
        self.style = nn.Sequential(PixelNorm(), *[EqualLinear(style_dim, style_dim, lr_mul=lr_mlp,
                                                              activation="fused_lrelu") for _ in range(n_mlp)])

        # -- G_en: 1x1 from-RGBM, then (conv, conv-down) per resolution S ... 8, then 4x4 conv + dense to c
        self.down_from_big = ConvLayer(4, ch[size], 1)
        self.encoder_convs = nn.ModuleList()
        c_in = ch[size]
        for i in range(log_size, 2, -1):
            r = 2 ** i
            self.encoder_convs.append(ConvLayer(c_in, ch[r], 3))
            self.encoder_convs.append(ConvLayer(ch[r], ch[r // 2], 3, downsample=True, blur_kernel=blur_kernel))
            c_in = ch[r // 2]
        self.final_layer = ConvLayer(ch[4], ch[4], 3)
        # Dropout2d on a 2-D tensor is element-wise dropout in training and the identity in eval
        # (docs/official-implementation.md §2.4, §10.1 item 3)
        self.final_linear = nn.Sequential(EqualLinear(ch[4] * 16, self.global_dim, activation="fused_lrelu"),
                                          nn.Dropout(0.5))
        self.final_transfer = EqualLinear(self.global_dim, ch[4] * 16, activation="fused_lrelu")

    # ------------------------------------------------------------------------------------------------------
    def encode(self, masked_input: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """G_en. masked_input: [B, 4, S, S] = [image * (1 - mask), mask - 0.5] (image in [-1,1], mask 1 = hole).

        Returns the global code c [B, 2*ch4] and the skip features [feature_4x4, f8, f16, ..., f_S]; feature_4x4
        already includes ``final_transfer(c)``.
        """
        if masked_input.ndim != 4 or masked_input.shape[1:] != (4, self.size, self.size):
            raise ValueError(f"masked_input must be [B, 4, {self.size}, {self.size}], got {tuple(masked_input.shape)}")
        # channels_last: oneDNN's fast layout on CPU; convs, blurs and elementwise ops keep it (skips included)
        x = self.down_from_big(masked_input.contiguous(memory_format=torch.channels_last))
        skips = []
        for conv, down in zip(self.encoder_convs[::2], self.encoder_convs[1::2]):
            x = conv(x)
            skips.append(x)
            x = down(x)
        out4 = self.final_layer(x)
        c = self.final_linear(out4.flatten(1))  # row-major flatten, index = ch*16 + h*4 + w
        feature4 = out4 + self.final_transfer(c).view_as(out4)
        return c, [feature4] + skips[::-1]

    def mapping(self, z: torch.Tensor) -> torch.Tensor:
        """f: z [B, D] ~ N(0, I) -> w [B, D]."""
        return self.style(z)

    @torch.no_grad()
    def mean_latent(self, n: int = 4096, generator: torch.Generator | None = None) -> torch.Tensor:
        """Mean of f(z) over n random z: [1, D] (the official ``mean_latent(4096)``). The z are drawn on the CPU
        (``generator``, if given, is a CPU generator), so a seed gives the same mean on every device."""
        p = next(self.parameters())
        z = torch.randn(n, self.style_dim, generator=generator, dtype=torch.float32)
        return self.mapping(z.to(p.device)).mean(0, keepdim=True)

    def w_plus(self, styles: Sequence[torch.Tensor], exemplar_codes: torch.Tensor | None = None, *,
               input_is_latent: bool = False, truncation: float = 1.0, truncation_latent: torch.Tensor | None = None,
               inject_index: int | None = None, phi: torch.Tensor | None = None) -> torch.Tensor:
        """Mixed style code w_hat [B, n_latent, D] (paper Eq. 1; docs/official-implementation.md §2.6
        steps 1, 3, 4, 6).

        styles: one or two z tensors [B, D] (w tensors if ``input_is_latent``). With two, latents
            [0, inject_index) come from the first and the rest from the second; inject_index (an int, or a
            [B] tensor for per-sample crossovers) defaults to a uniform draw in [1, n_latent - 1] (official).
        exemplar_codes: [B, n_exemplar, D] (pSp codes + latent_avg) replacing latents
            [exemplar_start, exemplar_start + n_exemplar) -- or [B, n_latent, D] together with ``phi``.
        phi: optional bool [n_latent]; latents with phi = 1 take the exemplar code (needs full-length codes).
        """
        if not 1 <= len(styles) <= 2:
            raise ValueError(f"styles must hold one or two tensors, got {len(styles)}")
        ws = [s if input_is_latent else self.mapping(s) for s in styles]
        if truncation != 1:
            if truncation_latent is None:
                raise ValueError("truncation != 1 needs truncation_latent (see Generator.mean_latent)")
            ws = [truncate(w, truncation_latent, truncation) for w in ws]
        n = self.n_latent
        if len(ws) == 1:
            latent = ws[0].unsqueeze(1).expand(-1, n, -1)
        else:
            if inject_index is None:
                inject_index = int(torch.randint(1, n, ()).item())
            cut = torch.as_tensor(inject_index, device=ws[0].device).reshape(-1, 1, 1)  # scalar or per-sample [B]
            idx = torch.arange(n, device=ws[0].device)[None, :, None]
            latent = torch.where(idx < cut, ws[0].unsqueeze(1), ws[1].unsqueeze(1))
        if exemplar_codes is None:
            return latent.contiguous()
        exemplar_codes = exemplar_codes.to(latent.dtype)
        if phi is None:
            lo, hi = self.exemplar_start, self.exemplar_start + self.n_exemplar
            if exemplar_codes.shape[1] != self.n_exemplar:
                raise ValueError(f"exemplar_codes must be [B, {self.n_exemplar}, {self.style_dim}], "
                                 f"got {tuple(exemplar_codes.shape)}")
            return torch.cat([latent[:, :lo], exemplar_codes.expand(latent.shape[0], -1, -1), latent[:, hi:]], 1)
        if exemplar_codes.shape[1] != n or phi.shape != (n,):
            raise ValueError(f"with phi, exemplar_codes must be [B, {n}, D] and phi [{n}]")
        return torch.where(phi.bool().to(latent.device)[None, :, None], exemplar_codes, latent)

    def make_noise(self, batch: int, generator: torch.Generator | None = None,
                   device: torch.device | None = None) -> list[torch.Tensor]:
        """Fresh per-layer noise maps [batch, 1, r, r] for r = 4, 8, 8, 16, 16, ..., S, S."""
        device = device or next(self.parameters()).device
        return [torch.randn(batch, 1, 2 ** ((i + 5) // 2), 2 ** ((i + 5) // 2), generator=generator, device=device)
                for i in range(self.num_layers)]

    def synthesize(self, c: torch.Tensor, features: Sequence[torch.Tensor], w_hat: torch.Tensor,
                   noise: Sequence[torch.Tensor | None] | None = None) -> torch.Tensor:
        """G_de. c [B or 1, 2*ch4], features from :meth:`encode` (batch B or 1: broadcast to w_hat's batch),
        w_hat [B, n_latent, D]. Returns the raw prediction I_pred [B, 3, S, S] (no tanh, no clamp)."""
        b = w_hat.shape[0]
        noise = list(noise) if noise is not None else [None] * self.num_layers
        styles = torch.cat([w_hat, c.expand(b, -1).unsqueeze(1).expand(-1, self.n_latent, -1)], 2)
        x = features[0].expand(b, -1, -1, -1)
        x = self.conv1(x, styles[:, 0], noise[0])
        skip = self.to_rgb1(x, styles[:, 1])
        i = 1
        for k, to_rgb in enumerate(self.to_rgbs):
            x = self.convs[2 * k](x, styles[:, i], noise[i])
            # additive encoder skip, after the upsampling conv (docs/official-implementation.md §2.6 step 7)
            x = x + features[k + 1]
            x = self.convs[2 * k + 1](x, styles[:, i + 1], noise[i + 1])
            skip = to_rgb(x, styles[:, i + 2], skip)
            i += 2
        return skip

    def forward(self, masked_input: torch.Tensor, exemplar_codes: torch.Tensor, styles: Sequence[torch.Tensor],
                noise: Sequence[torch.Tensor | None] | None = None, truncation: float = 1.0,
                truncation_latent: torch.Tensor | None = None, return_latents: bool = False,
                inject_index: int | None = None, input_is_latent: bool = False):
        """Official semantics: I_pred = G(masked_input, exemplar codes, z list). See :meth:`encode`,
        :meth:`w_plus`, :meth:`synthesize`. Returns I_pred [B,3,S,S] (and w_hat [B, n_latent, D] if
        ``return_latents``). Compositing with the known pixels is done by the caller (official: outside G)."""
        w_hat = self.w_plus(styles, exemplar_codes, input_is_latent=input_is_latent, truncation=truncation,
                            truncation_latent=truncation_latent, inject_index=inject_index)
        if w_hat.dtype in (torch.float16, torch.bfloat16):  # keep W+ in fp32 under autocast: modulation runs in
            w_hat = w_hat.float()  # fp32 anyway, and the returned tensor stays the one the path-length grad needs
        c, features = self.encode(masked_input)
        image = self.synthesize(c, features, w_hat, noise)
        return (image, w_hat) if return_latents else image
