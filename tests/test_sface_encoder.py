"""The SFace-trunk exemplar encoder (style_encoder: sface): shapes at several resolutions, a frozen trunk, the
saved-model round trip, and one real training run that keeps the trunk equal to the converted SFace network."""

import dataclasses

import pytest
import torch
from safetensors.torch import load_file

from exegan import ExeGAN, StyleEncoderConfig
from exegan.nets import SFaceStyleEncoder

from conftest import TINY, make_tiny
from test_train import run_train


def _real_trunk_(enc: SFaceStyleEncoder, seed: int = 0) -> SFaceStyleEncoder:
    """The converted SFace weights in the trunk (as training sets them) and random heads (biases too)."""
    from exegan.sface import load_sface

    enc.trunk.load_state_dict(load_sface().body.state_dict(), strict=True)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in enc.styles.named_parameters():
            if name.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    return enc


@pytest.mark.parametrize("size", [64, 256])
def test_codes_shape_at_any_resolution_and_features_path_matches(size):
    enc = _real_trunk_(SFaceStyleEncoder(n_styles=12, style_dim=16)).eval()
    x = torch.rand(2, 3, size, size) * 2 - 1
    with torch.no_grad():
        codes = enc(x)
        assert codes.shape == (2, 12, 16) and torch.isfinite(codes).all()
        f14, f7, emb = enc.features(x)
        assert f14.shape == (2, 512, 14, 14) and f7.shape == (2, 1024, 7, 7) and emb.shape == (2, 128)
        torch.testing.assert_close(emb.norm(dim=1), torch.ones(2))
        # the training loop feeds precomputed trunk features: same codes, any index subset
        torch.testing.assert_close(enc((f14, f7, emb), indices=range(4, 12)), codes[:, 4:])
        assert not torch.allclose(codes[0], codes[1])  # different exemplars, different codes


def test_trunk_stays_frozen_through_a_training_step():
    enc = _real_trunk_(SFaceStyleEncoder(n_styles=6, style_dim=16)).train()
    assert not enc.trunk.training  # the trunk's layers stay in inference mode inside a training encoder
    trunk_before = {k: v.clone() for k, v in enc.trunk.state_dict().items()}
    heads_before = {k: v.clone() for k, v in enc.styles.state_dict().items()}
    opt = torch.optim.Adam([p for p in enc.parameters() if p.requires_grad], lr=1e-2)
    assert all(not p.requires_grad for p in enc.trunk.parameters())
    loss = enc(torch.rand(3, 3, 64, 64) * 2 - 1).pow(2).mean()
    loss.backward()
    assert all(p.grad is None for p in enc.trunk.parameters())
    opt.step()
    assert all(torch.equal(v, trunk_before[k]) for k, v in enc.trunk.state_dict().items())  # weights and stats
    assert any(not torch.equal(v, heads_before[k]) for k, v in enc.styles.state_dict().items())


def test_saved_model_round_trip(tmp_path):
    config = dataclasses.replace(TINY, style_encoder=StyleEncoderConfig(kind="sface", n_styles=10, style_dim=16,
                                                                        input_size=112, units=(), widths=()))
    model = make_tiny(config=config)
    _real_trunk_(model.style_encoder, seed=3)
    model.save_pretrained(tmp_path / "m")
    back = ExeGAN.from_pretrained(tmp_path / "m", precision="fp32")
    assert isinstance(back.style_encoder, SFaceStyleEncoder) and back.config.style_encoder.kind == "sface"
    for k, v in model.style_encoder.state_dict().items():
        assert torch.equal(back.style_encoder.state_dict()[k], v), k
    faces = torch.rand(2, 32, 32, 3) * 255
    image, mask = faces[0].byte().numpy(), (torch.rand(32, 32) > 0.5).byte().numpy() * 255
    a = model.inpaint(image, mask, faces[1].byte().numpy(), n_samples=2, seed=5, output_type="np")
    b = back.inpaint(image, mask, faces[1].byte().numpy(), n_samples=2, seed=5, output_type="np")
    assert all((x == y).all() for x, y in zip(a, b))


@pytest.mark.slow  # a minute of SFace at 112 px per step on 2 CPU cores
def test_training_with_the_sface_encoder_keeps_the_converted_trunk(tmp_path, data_dir):
    from exegan.sface import load_sface

    run_train(tmp_path / "run", data_dir, "--max_train_steps", "2", "--checkpointing_steps", "2",
              "--style_encoder", "sface", "--identity_backend", "sface", "--exemplar_jitter", "1.0")
    sface = load_sface().body.state_dict()
    ema = load_file(str(tmp_path / "run" / "checkpoint-2" / "ema.safetensors"))
    for prefix in ("enc.trunk.", "e.trunk."):  # the trained encoder and its EMA copy
        trunk = {k.removeprefix(prefix): v for k, v in ema.items() if k.startswith(prefix)}
        assert trunk.keys() == sface.keys() and all(torch.equal(trunk[k], sface[k]) for k in sface)
    model = ExeGAN.from_pretrained(tmp_path / "run" / "model", precision="fp32")
    assert model.config.style_encoder.kind == "sface" and model.style_encoder.n_styles == model.generator.n_latent
