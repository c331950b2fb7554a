"""Tests of the pSp GradualStyleEncoder reimplementation (docs/official-implementation.md §3.1, §7.4)."""

from __future__ import annotations

import io
import math

import pytest
import torch
import torch.nn.functional as F

from exegan.nets.style_encoder import BottleneckIRSE, GradualStyleBlock, StyleEncoder

SMALL = dict(n_styles=18, style_dim=16, input_size=32, units=(1, 1, 2, 1), widths=(8, 16, 16, 24))


def _randomize_(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Non-trivial BN running stats / affine and PReLU slopes, so eval-mode checks exercise them."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            elif isinstance(m, torch.nn.PReLU):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) * 0.5)
    return module.eval()


@pytest.fixture(scope="module")
def small():
    torch.manual_seed(0)
    return _randomize_(StyleEncoder(**SMALL))


@pytest.fixture(scope="module")
def official_meta():
    with torch.device("meta"):
        return StyleEncoder()


def _expected_official_shapes() -> dict[str, tuple[int, ...]]:
    """The docs/official-implementation.md §7.4 pattern table written out independently of the module."""
    bn = lambda p, c: {f"{p}.weight": (c,), f"{p}.bias": (c,), f"{p}.running_mean": (c,),  # noqa: E731
                       f"{p}.running_var": (c,), f"{p}.num_batches_tracked": ()}
    exp = {"input_layer.0.weight": (64, 3, 3, 3), **bn("input_layer.1", 64), "input_layer.2.weight": (64,)}
    u = 0
    for c_in, d, n in [(64, 64, 3), (64, 128, 4), (128, 256, 14), (256, 512, 3)]:
        for k in range(n):
            c = c_in if k == 0 else d
            if c != d:
                exp[f"body.{u}.shortcut_layer.0.weight"] = (d, c, 1, 1)
                exp.update(bn(f"body.{u}.shortcut_layer.1", d))
            r = f"body.{u}.res_layer"
            exp.update(bn(f"{r}.0", c))
            exp[f"{r}.1.weight"] = (d, c, 3, 3)
            exp[f"{r}.2.weight"] = (d,)
            exp[f"{r}.3.weight"] = (d, d, 3, 3)
            exp.update(bn(f"{r}.4", d))
            exp[f"{r}.5.fc1.weight"] = (d // 16, d, 1, 1)
            exp[f"{r}.5.fc2.weight"] = (d, d // 16, 1, 1)
            u += 1
    for i in range(18):
        n_stages = 4 if i < 3 else 5 if i < 7 else 6
        for m in range(n_stages):
            exp[f"styles.{i}.convs.{2 * m}.weight"] = (512, 512, 3, 3)
            exp[f"styles.{i}.convs.{2 * m}.bias"] = (512,)
        exp[f"styles.{i}.linear.weight"] = (512, 512)
        exp[f"styles.{i}.linear.bias"] = (512,)
    exp.update({"latlayer1.weight": (512, 256, 1, 1), "latlayer1.bias": (512,),
                "latlayer2.weight": (512, 128, 1, 1), "latlayer2.bias": (512,)})
    return exp


def test_official_state_dict_matches_spec(official_meta):
    sd = official_meta.state_dict()
    assert len(sd) == 621  # docs/official-implementation.md §7.4, num_batches_tracked buffers included
    exp = _expected_official_shapes()
    assert set(sd) == set(exp)
    assert {k: tuple(v.shape) for k, v in sd.items()} == exp
    # docs/official-implementation.md §7.4 "267 136 704 parameter elements" = nn.Parameters only (BN running stats /
    # counters excluded).
    assert sum(p.numel() for p in official_meta.parameters()) == 267_136_704
    # spot checks straight from the table
    assert sd["body.3.shortcut_layer.0.weight"].shape == (128, 64, 1, 1)
    assert sd["latlayer1.weight"].shape == (512, 256, 1, 1)
    assert {int(k.split(".")[1]) for k in sd if ".shortcut_layer." in k} == {3, 7, 21}
    assert "styles.0.convs.6.weight" in sd and "styles.0.convs.8.weight" not in sd
    assert "styles.3.convs.8.weight" in sd and "styles.3.convs.10.weight" not in sd
    assert "styles.7.convs.10.weight" in sd and "styles.7.convs.12.weight" not in sd
    assert isinstance(official_meta.styles[0].convs[1], torch.nn.LeakyReLU)
    assert official_meta.styles[0].convs[1].negative_slope == 0.01
    # unit 0 has stride 2 with a MaxPool shortcut
    assert isinstance(official_meta.body[0].shortcut_layer, torch.nn.MaxPool2d)
    assert official_meta.body[0].res_layer[3].stride == (2, 2) and official_meta.body[0].res_layer[1].stride == (1, 1)


def test_official_forward_shapes_meta(official_meta):
    out = official_meta(torch.empty(1, 3, 512, 512, device="meta"), indices=range(4, 14))
    assert out.shape == (1, 10, 512)


def test_prefixed_checkpoint_roundtrip_strict(small):
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    ckpt = {"state_dict": {**{f"encoder.{k}": v for k, v in small.state_dict().items()},
                           "decoder.dummy": torch.zeros(1)}}
    buf = io.BytesIO()
    torch.save(ckpt, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=True)["state_dict"]
    enc = {k[len("encoder."):]: v for k, v in loaded.items() if k.startswith("encoder.")}
    torch.manual_seed(123)
    fresh = StyleEncoder(**SMALL)
    fresh.load_state_dict(enc, strict=True)
    fresh.eval()
    with torch.no_grad():
        assert torch.equal(fresh(x), small(x))


def test_output_shape_and_groups(small):
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        out = small(x)
    assert out.shape == (2, 18, 16) and out.dtype == torch.float32
    # stage counts: c3 side 2 -> 1 stage, p2 side 4 -> 2, p1 side 8 -> 3
    assert [len(s.convs) // 2 for s in small.styles] == [1] * 3 + [2] * 4 + [3] * 11
    few = StyleEncoder(n_styles=5, **{k: v for k, v in SMALL.items() if k != "n_styles"})
    assert [len(s.convs) // 2 for s in few.styles] == [1, 1, 1, 2, 2]


def test_indices_match_full(small):
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        full = small(x)
        torch.testing.assert_close(small(x, indices=range(4, 14)), full[:, 4:14], atol=1e-6, rtol=0)
        torch.testing.assert_close(small(x, indices=slice(4, 14)), full[:, 4:14], atol=1e-6, rtol=0)
        torch.testing.assert_close(small(x, indices=[9, 0, 17]), full[:, [9, 0, 17]], atol=1e-6, rtol=0)
    with pytest.raises(IndexError):
        small(x, indices=[18])


def test_unrequested_blocks_not_run(small):
    calls: dict[str, int] = {}

    def counter(name):
        def hook(*_):
            calls[name] = calls.get(name, 0) + 1
        return hook

    handles = [s.register_forward_hook(counter(f"style{i}")) for i, s in enumerate(small.styles)]
    handles += [getattr(small, n).register_forward_hook(counter(n)) for n in ("latlayer1", "latlayer2")]
    x = torch.rand(1, 3, 32, 32)
    try:
        with torch.no_grad():
            small(x, indices=range(4, 14))
            assert calls == {**{f"style{i}": 1 for i in range(4, 14)}, "latlayer1": 1, "latlayer2": 1}
            calls.clear()
            small(x, indices=[0, 2])  # only c3: no FPN level computed
            assert calls == {"style0": 1, "style2": 1}
            calls.clear()
            small(x, indices=[5])  # p2 only
            assert calls == {"style5": 1, "latlayer1": 1}
    finally:
        for h in handles:
            h.remove()


def test_resize_bilinear_align_corners(small):
    x = torch.rand(2, 3, 48, 40) * 2 - 1
    resized = F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=True)
    with torch.no_grad():
        torch.testing.assert_close(small(x), small(resized), atol=1e-6, rtol=0)
        wrong = F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False)
        assert not torch.allclose(small(x), small(wrong), atol=1e-4)


def _bn(x, bn):
    return F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)


@pytest.mark.parametrize("c, d, stride", [(8, 16, 2), (16, 16, 2), (16, 16, 1)])
def test_irse_unit_against_functional(c, d, stride):
    torch.manual_seed(1)
    unit = _randomize_(BottleneckIRSE(c, d, stride), seed=2)
    x = torch.randn(2, c, 8, 8)
    r = unit.res_layer
    h = _bn(x, r[0])
    h = F.conv2d(h, r[1].weight, padding=1)
    h = F.prelu(h, r[2].weight)
    h = F.conv2d(h, r[3].weight, stride=stride, padding=1)
    h = _bn(h, r[4])
    gate = torch.sigmoid(F.conv2d(F.relu(F.conv2d(h.mean((2, 3), keepdim=True), r[5].fc1.weight)), r[5].fc2.weight))
    h = h * gate
    if c == d:
        short = x[:, :, ::stride, ::stride]
    else:
        sc = unit.shortcut_layer
        short = _bn(F.conv2d(x, sc[0].weight, stride=stride), sc[1])
    with torch.no_grad():
        torch.testing.assert_close(unit(x), h + short, atol=1e-5, rtol=1e-5)
    assert unit(x).shape == (2, d, 8 // stride, 8 // stride)


def test_style_block_against_functional():
    torch.manual_seed(3)
    block = GradualStyleBlock(12, 16, 8)
    assert len(block.convs) == 6
    x = torch.randn(2, 12, 8, 8)
    h = x
    for m in range(3):
        conv = block.convs[2 * m]
        h = F.leaky_relu(F.conv2d(h, conv.weight, conv.bias, stride=2, padding=1), 0.01)
    assert h.shape == (2, 16, 1, 1)
    lin = block.linear
    ref = h.flatten(1) @ (lin.weight / math.sqrt(16)).t() + lin.bias
    with torch.no_grad():
        torch.testing.assert_close(block(x), ref, atol=1e-5, rtol=1e-5)


def test_bf16_autocast_close_to_fp32(small):
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        ref = small(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = small(x, indices=range(4, 14))
    assert torch.isfinite(out).all()
    rel = (out.float() - ref[:, 4:14]).norm() / ref[:, 4:14].norm()
    assert rel < 5e-2
