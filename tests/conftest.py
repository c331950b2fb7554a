"""Shared fixtures: tiny random-weight models (no downloads, seconds on CPU)."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never touch the network from tests

import pytest
import torch

from exegan import ExeGAN, GeneratorConfig, ModelConfig, StyleEncoderConfig
from exegan.checkpoints import build_networks

TINY = ModelConfig(GeneratorConfig(size=32, style_dim=16, n_mlp=2, channel_multiplier=0.25, max_channels=32),
                   StyleEncoderConfig(n_styles=10, style_dim=16, input_size=32, units=(1, 1, 1, 1),
                                      widths=(8, 16, 24, 32)),
                   name="tiny-test", license="test")


def make_tiny(seed: int = 0, noise: bool = True, config: ModelConfig = TINY) -> ExeGAN:
    """A tiny ExeGAN with random weights; the zero-initialised biases / noise strengths get random values
    (``noise=False`` keeps the noise strengths at 0, so outputs depend on z only)."""
    torch.manual_seed(seed)
    g, e = build_networks(config)
    with torch.no_grad():
        for name, p in g.named_parameters():
            if name.endswith("bias") or (noise and name.endswith("noise.weight")):
                p.normal_(0, 0.3)
        for m in e.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    latent_avg = torch.randn(config.style_encoder.n_styles, config.style_encoder.style_dim)
    return ExeGAN(g, e, latent_avg, config, device="cpu")


@pytest.fixture(scope="module")
def tiny() -> ExeGAN:
    return make_tiny()
