"""Generator / Discriminator: official checkpoint layout, and numerics against independent computations.

The reference computations below are written from docs/official-implementation.md §2, §4, §8 in the
official *fused* formulation (per-sample modulated weights, explicit upfirdn taps), not by calling our modules,
and run in float64 so that any wiring or math difference shows up far above rounding noise.
"""

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from exegan.nets.discriminator import Discriminator, minibatch_stddev
from exegan.nets.generator import Generator
from exegan.nets.layers import ModulatedConv2d
from exegan.ops import fused_leaky_relu, make_kernel, upfirdn2d

OFFICIAL = json.loads((Path(__file__).parent / "data" / "official_state_dict_256.json").read_text())


def layout(module):
    params = {n for n, _ in module.named_parameters()}
    return [[k, list(v.shape), "param" if k in params else "buffer"] for k, v in module.state_dict().items()]


# ---------------------------------------------------------------------------------------------------------------
# Official layout (docs/official-implementation.md §7.2, §7.3)

def test_generator_256_state_dict_is_official():
    with torch.device("meta"):
        g = Generator(256)
    assert (g.n_latent, g.n_exemplar, g.exemplar_start) == (14, 10, 4)
    assert layout(g) == OFFICIAL["generator_256"]


def test_discriminator_256_state_dict_is_official():
    with torch.device("meta"):
        d = Discriminator(256)
    assert layout(d) == OFFICIAL["discriminator_256"]


def test_512_layout_matches_official_totals_and_patterns():
    with torch.device("meta"):
        g, d = Generator(512), Discriminator(512)
    assert (g.n_latent, g.n_exemplar) == (16, 12)
    sd, params = g.state_dict(), dict(g.named_parameters())
    assert (len(sd), len(params)) == (195, 159)
    assert sum(p.numel() for p in params.values()) == 79_792_231
    shapes = {k: tuple(v.shape) for k, v in sd.items()}
    assert shapes["convs.12.conv.weight"] == (1, 64, 128, 3, 3)
    assert shapes["convs.12.conv.modulation.weight"] == (128, 1536)
    assert shapes["convs.13.conv.weight"] == (1, 64, 64, 3, 3)
    assert shapes["to_rgbs.6.conv.weight"] == (1, 3, 64, 1, 1)
    assert shapes["noises.noise_14"] == (1, 1, 512, 512) and "noises.noise_15" not in shapes
    assert shapes["down_from_big.0.weight"] == (64, 4, 1, 1)
    assert shapes["encoder_convs.0.0.weight"] == (64, 64, 3, 3)
    assert shapes["encoder_convs.1.1.weight"] == (128, 64, 3, 3)
    assert shapes["encoder_convs.5.1.weight"] == (512, 256, 3, 3)
    assert "encoder_convs.13.2.bias" in shapes and "encoder_convs.14.0.weight" not in shapes
    dsd, dparams = d.state_dict(), dict(d.named_parameters())
    assert (len(dsd), len(dparams)) == (57, 43)
    assert sum(p.numel() for p in dparams.values()) == 28_982_849
    assert tuple(dsd["encoder_input_convs.0.weight"].shape) == (64, 3, 1, 1)


def test_strict_load_rejects_a_wrong_shape():
    g = Generator(32, style_dim=16, n_mlp=1, channel_multiplier=0.125, max_channels=16)
    sd = g.state_dict()
    sd["final_transfer.weight"] = sd["final_transfer.weight"][:-1]
    with pytest.raises(RuntimeError, match="final_transfer.weight"):
        Generator(32, style_dim=16, n_mlp=1, channel_multiplier=0.125, max_channels=16).load_state_dict(sd)


# ---------------------------------------------------------------------------------------------------------------
# Independent reference ops (docs/official-implementation.md §8)

def ref_upfirdn2d(x, kernel, up=1, down=1, pad=(0, 0)):
    """Explicit zero insertion, zero padding / cropping and a tap-by-tap true convolution."""
    b, c, h, w = x.shape
    xu = x.new_zeros(b, c, h * up, w * up)
    xu[:, :, ::up, ::up] = x
    p0, p1 = pad
    H, W = h * up + p0 + p1, w * up + p0 + p1
    xp = x.new_zeros(b, c, H, W)
    src = xu[:, :, max(-p0, 0): h * up - max(-p1, 0), max(-p0, 0): w * up - max(-p1, 0)]
    xp[:, :, max(p0, 0): max(p0, 0) + src.shape[2], max(p0, 0): max(p0, 0) + src.shape[3]] = src
    kh, kw = kernel.shape
    out = x.new_zeros(b, c, H - kh + 1, W - kw + 1)
    for i in range(kh):
        for j in range(kw):  # true convolution: out[y] = sum_i k[i] * xp[y + kh - 1 - i]
            out += kernel[i, j] * xp[:, :, kh - 1 - i: kh - 1 - i + out.shape[2], kw - 1 - j: kw - 1 - j + out.shape[3]]
    return out[:, :, ::down, ::down]


@pytest.mark.parametrize("kw", [3, 4])  # 4x4 hits the fast paths (Blur, Upsample), 4x3 the general one
@pytest.mark.parametrize("up,down,pad", [(1, 1, (1, 1)), (2, 1, (2, 1)), (1, 1, (2, 2)), (1, 2, (1, 1)),
                                         (2, 2, (0, -1)), (1, 1, (-1, 2)), (1, 1, (0, 0))])
def test_upfirdn2d_matches_direct_computation(up, down, pad, kw):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 7, 7, dtype=torch.float64)
    k = torch.rand(4, kw, dtype=torch.float64)  # asymmetric: catches a missing flip
    out = upfirdn2d(x, k, up=up, down=down, pad=pad)
    assert out.shape[-1] == (7 * up + pad[0] + pad[1] - kw + down) // down
    torch.testing.assert_close(out, ref_upfirdn2d(x, k, up, down, pad), rtol=1e-12, atol=1e-12)


def test_make_kernel_and_fused_leaky_relu():
    k = make_kernel([1, 3, 3, 1])
    assert k.shape == (4, 4) and k[1, 2] == pytest.approx(9 / 64) and k.sum() == pytest.approx(1)
    x, b = torch.randn(3, 5, 2, 2, dtype=torch.float64), torch.randn(5, dtype=torch.float64)
    y = x + b[None, :, None, None]
    expected = torch.where(y > 0, y, 0.2 * y) * math.sqrt(2)
    torch.testing.assert_close(fused_leaky_relu(x, b), expected)


def ref_modconv(conv: ModulatedConv2d, x, style):
    """Official fused path: per-sample weight scale * W * s_b, demodulated, grouped conv
    (docs/official-implementation.md §2.2)."""
    sd = {k: v.double() for k, v in conv.state_dict().items()}
    s = style @ (sd["modulation.weight"] / math.sqrt(style.shape[1])).t() + sd["modulation.bias"]
    k = sd["weight"].shape[-1]
    outs = []
    for bi in range(x.shape[0]):
        w = sd["weight"][0] / math.sqrt(sd["weight"].shape[2] * k * k) * s[bi][None, :, None, None]
        if conv.demodulate:
            w = w * torch.rsqrt((w ** 2).sum((1, 2, 3)) + 1e-8)[:, None, None, None]
        if conv.upsample:
            o = F.conv_transpose2d(x[bi: bi + 1], w.transpose(0, 1), stride=2)
            o = ref_upfirdn2d(o, sd["blur.kernel"], pad=(1, 1))
        else:
            o = F.conv2d(x[bi: bi + 1], w, padding=k // 2)
        outs.append(o)
    return torch.cat(outs)


@pytest.mark.parametrize("b", [3, 1])  # batch 1 folds the modulation into the weights
@pytest.mark.parametrize("k,upsample,demodulate", [(3, False, True), (3, True, True), (1, False, False)])
def test_modulated_conv_matches_official_fused_math(k, upsample, demodulate, b):
    torch.manual_seed(1)
    conv = ModulatedConv2d(6, 5, k, 12, demodulate=demodulate, upsample=upsample).double()
    x, style = torch.randn(b, 6, 8, 8, dtype=torch.float64), torch.randn(b, 12, dtype=torch.float64)
    out = conv(x, style)
    assert out.shape == (b, 5, 16 if upsample else 8, 16 if upsample else 8)
    torch.testing.assert_close(out, ref_modconv(conv, x, style), rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------------------------------------------------------------
# Whole networks against a functional re-implementation of docs/official-implementation.md §2.4-§2.6 and §4

def _lin(sd, name, x, lr_mul=1.0, act=False):
    w = sd[name + ".weight"]
    y = x @ (w * lr_mul / math.sqrt(w.shape[1])).t()
    b = sd[name + ".bias"] * lr_mul
    return fused_ref(y, b) if act else y + b


def fused_ref(x, b):
    y = x + b.view(1, -1, *([1] * (x.ndim - 2)))
    return torch.where(y > 0, y, 0.2 * y) * math.sqrt(2)


def _conv_layer(sd, name, x, down=False, act=True):
    """ConvLayer: [blur] -> equalised conv -> bias + lrelu."""
    i = 0
    if down:
        k = sd[f"{name}.1.weight"].shape[-1]
        p = 2 + (k - 1)
        x = ref_upfirdn2d(x, sd[f"{name}.0.kernel"], pad=((p + 1) // 2, p // 2))
        i = 1
    w = sd[f"{name}.{i}.weight"]
    x = F.conv2d(x, w / math.sqrt(w[0].numel()), stride=2 if down else 1, padding=0 if down else w.shape[-1] // 2)
    return fused_ref(x, sd[f"{name}.{i + 1}.bias"]) if act else x


def _styled(sd, name, x, style, noise, module):
    x = ref_modconv(module.conv, x, style)
    x = x + sd[f"{name}.noise.weight"] * noise
    return fused_ref(x, sd[f"{name}.activate.bias"])


def _to_rgb(sd, name, x, style, skip, module):
    out = ref_modconv(module.conv, x, style) + sd[f"{name}.bias"]
    if skip is not None:
        out = out + ref_upfirdn2d(skip, sd[f"{name}.upsample.kernel"], up=2, pad=(2, 1))
    return out


def ref_generator(g, gin, exemplar, z, noise):
    sd = {k: v.double() for k, v in g.state_dict().items()}
    L, n = g.log_size, g.n_latent
    w = z / torch.sqrt((z ** 2).mean(1, keepdim=True) + 1e-8)
    for i in range(1, len([m for m in g.style if hasattr(m, "weight")]) + 1):
        w = _lin(sd, f"style.{i}", w, lr_mul=0.01, act=True)
    latents = [w] * n
    for j in range(g.exemplar_start, g.exemplar_start + g.n_exemplar):  # injection replaces (lambda = 0)
        latents[j] = exemplar[:, j - g.exemplar_start]
    # encoder
    x = _conv_layer(sd, "down_from_big", gin)
    feats = []
    for j in range(L - 2):
        x = _conv_layer(sd, f"encoder_convs.{2 * j}", x)
        feats.append(x)
        x = _conv_layer(sd, f"encoder_convs.{2 * j + 1}", x, down=True)
    out4 = _conv_layer(sd, "final_layer", x)
    c = _lin(sd, "final_linear.0", out4.reshape(out4.shape[0], -1), act=True)
    f4 = out4 + _lin(sd, "final_transfer", c, act=True).reshape(out4.shape)
    feats = [f4] + feats[::-1]
    style = [torch.cat([lat, c], 1) for lat in latents]
    out = _styled(sd, "conv1", feats[0], style[0], noise[0], g.conv1)
    skip = _to_rgb(sd, "to_rgb1", out, style[1], None, g.to_rgb1)
    i = 1
    for k in range(L - 2):
        out = _styled(sd, f"convs.{2 * k}", out, style[i], noise[i], g.convs[2 * k])
        out = out + feats[k + 1]
        out = _styled(sd, f"convs.{2 * k + 1}", out, style[i + 1], noise[i + 1], g.convs[2 * k + 1])
        skip = _to_rgb(sd, f"to_rgbs.{k}", out, style[i + 2], skip, g.to_rgbs[k])
        i += 2
    return skip


def small_generator(size=32, **kw):
    kw = dict(style_dim=16, n_mlp=2, channel_multiplier=0.25, max_channels=32) | kw
    g = Generator(size, **kw)
    with torch.no_grad():  # non-trivial values for the zero-initialised parameters
        for name, p in g.named_parameters():
            if name.endswith("noise.weight") or name.endswith("bias"):
                p.normal_(0, 0.5)
    return g.eval()


@pytest.mark.parametrize("size,b", [(32, 2), (64, 2), (32, 1)])  # batch 1 takes the fused-weight path
def test_generator_matches_functional_reference(size, b):
    torch.manual_seed(2)
    g = small_generator(size).double()
    img = torch.rand(b, 3, size, size, dtype=torch.float64) * 2 - 1
    mask = (torch.rand(b, 1, size, size) > 0.5).double()
    gin = torch.cat([img * (1 - mask), mask - 0.5], 1)
    e = torch.randn(b, g.n_exemplar, 16, dtype=torch.float64)
    z = torch.randn(b, 16, dtype=torch.float64)
    noise = [t.double() for t in g.make_noise(b)]
    out, w_hat = g(gin, e, [z], noise=noise, return_latents=True)
    ref = ref_generator(g, gin, e, z, noise)
    assert out.shape == (b, 3, size, size)
    torch.testing.assert_close(out, ref, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(w_hat[:, g.exemplar_start:g.exemplar_start + g.n_exemplar], e)


def ref_discriminator(d, img):
    sd = {k: v.double() for k, v in d.state_dict().items()}
    x = _conv_layer(sd, "encoder_input_convs", img)
    for j in range(len(d.encoder_convs)):
        y = _conv_layer(sd, f"encoder_convs.{j}.conv1", x)
        y = _conv_layer(sd, f"encoder_convs.{j}.conv2", y, down=True)
        s = _conv_layer(sd, f"encoder_convs.{j}.skip", x, down=True, act=False)
        x = (y + s) / math.sqrt(2)
    b, c, h, w = x.shape
    G = min(b, 4)
    stats = torch.empty(b, 1, h, w, dtype=x.dtype)
    for i in range(b):  # sample i belongs to the group {i mod (b/G) + m * (b/G)}
        members = x[[i % (b // G) + m * (b // G) for m in range(G)]]
        stats[i] = torch.sqrt(members.var(0, unbiased=False) + 1e-8).mean()
    x = _conv_layer(sd, "final_conv", torch.cat([x, stats], 1))
    x = _lin(sd, "final_linear.0", x.reshape(b, -1), act=True)
    return _lin(sd, "final_linear.1", x)


@pytest.mark.parametrize("batch", [4, 8, 2])
def test_discriminator_matches_functional_reference(batch):
    torch.manual_seed(3)
    d = Discriminator(32, 0.25, max_channels=32).double()
    with torch.no_grad():
        for name, p in d.named_parameters():
            if name.endswith("bias"):
                p.normal_(0, 0.5)
    img = torch.randn(batch, 3, 32, 32, dtype=torch.float64)
    torch.testing.assert_close(d(img), ref_discriminator(d, img), rtol=1e-9, atol=1e-9)


def test_minibatch_stddev_any_batch_size():
    x = torch.randn(6, 3, 4, 4, dtype=torch.float64)  # official code would crash (6 % 4); we use groups of 3
    y = minibatch_stddev(x)
    expected = torch.sqrt(x.view(3, 2, 3, 4, 4).var(0, unbiased=False) + 1e-8).mean((1, 2, 3))
    torch.testing.assert_close(y[:, 3, 0, 0], expected.repeat(3))


# ---------------------------------------------------------------------------------------------------------------
# Behaviour the pipeline relies on

def test_encode_once_broadcast_equals_per_sample_forward():
    torch.manual_seed(4)
    g = small_generator()
    gin = torch.cat([torch.rand(1, 3, 32, 32) * 2 - 1, torch.zeros(1, 1, 32, 32) - 0.5], 1)
    e = torch.randn(1, g.n_exemplar, 16)
    z = torch.randn(3, 16)
    noise = g.make_noise(3)
    with torch.no_grad():
        c, feats = g.encode(gin)
        batched = g.synthesize(c, feats, g.w_plus([z], e), noise)
        for i in range(3):
            single = g(gin, e, [z[i:i + 1]], noise=[t[i:i + 1] for t in noise])
            torch.testing.assert_close(batched[i:i + 1], single, rtol=1e-4, atol=1e-5)


def test_style_mixing_and_phi():
    g = small_generator()
    z1, z2 = torch.randn(2, 16), torch.randn(2, 16)
    with torch.no_grad():
        w1, w2 = g.mapping(z1), g.mapping(z2)
        mixed = g.w_plus([z1, z2], inject_index=3)
        assert torch.equal(mixed[:, :3], w1[:, None].expand(-1, 3, -1))
        assert torch.equal(mixed[:, 3:], w2[:, None].expand(-1, g.n_latent - 3, -1))
        per_sample = g.w_plus([z1, z2], inject_index=torch.tensor([1, g.n_latent]))
        assert torch.equal(per_sample[0, 1:], w2[0].expand(g.n_latent - 1, -1))
        assert torch.equal(per_sample[1], w1[1].expand(g.n_latent, -1))
        full = torch.randn(2, g.n_latent, 16)
        phi = torch.zeros(g.n_latent, dtype=torch.bool)
        phi[[0, 5]] = True
        w = g.w_plus([z1], full, phi=phi)
        assert torch.equal(w[:, [0, 5]], full[:, [0, 5]]) and torch.equal(w[:, 1], w1)


def test_truncation_pulls_towards_mean_latent():
    g = small_generator()
    z = torch.randn(2, 16)
    with torch.no_grad():
        w_avg = g.mean_latent(256)
        w = g.w_plus([z])
        half = g.w_plus([z], truncation=0.5, truncation_latent=w_avg)
        torch.testing.assert_close(half, w_avg + 0.5 * (w - w_avg))
        assert torch.equal(g.w_plus([z], truncation=1.0, truncation_latent=w_avg), w)


def test_dropout_only_in_training_mode():
    g = small_generator()
    gin = torch.randn(2, 4, 32, 32)
    with torch.no_grad():
        assert torch.equal(g.encode(gin)[0], g.encode(gin)[0])
        g.train()
        c1, c2 = g.encode(gin)[0], g.encode(gin)[0]
    assert not torch.equal(c1, c2)
    assert ((c1 == 0).float().mean() - 0.5).abs() < 0.15  # element-wise dropout, p = 0.5


def test_bf16_autocast_close_to_fp32():
    torch.manual_seed(5)
    g = small_generator(64)
    gin = torch.cat([torch.rand(2, 3, 64, 64) * 2 - 1, torch.zeros(2, 1, 64, 64) - 0.5], 1)
    e, z, noise = torch.randn(2, g.n_exemplar, 16), torch.randn(2, 16), g.make_noise(2)
    with torch.no_grad():
        ref = g(gin, e, [z], noise=noise)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = g(gin, e, [z], noise=noise)
    assert out.dtype == torch.bfloat16 and torch.isfinite(out).all()
    assert (out.float() - ref).norm() / ref.norm() < 3e-2


def test_gradients_flow_to_all_generator_parameters():
    g = small_generator().train()
    gin = torch.randn(2, 4, 32, 32)
    e = torch.randn(2, g.n_exemplar, 16, requires_grad=True)
    out, w_hat = g(gin, e, [torch.randn(2, 16)], return_latents=True)
    out.square().mean().backward()
    missing = [n for n, p in g.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == [] and e.grad.abs().sum() > 0
