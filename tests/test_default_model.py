"""The committed default model (assets/default-model): it loads by default, and a 16-face version of the
synthetic-faces check (eval/synthetic.py; 200 faces in the model card) still shows what issues 6 and 15 ask of it.

The bars are the requirements, not measured values: beat OpenCV Telea in the hole (L1 and the offline perceptual
distance) on center and 30-40% masks, follow the exemplar (SFace identity and the Eq. 7 attributes for >= 75% of
decisions, and, when dlib is installed, a face descriptor used nowhere in training for a clear majority, >= 60%)
with a positive mean margin, keep every known pixel, and vary with the seed. On the card's 200 faces the committed
model meets every target of issue 15.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from safetensors import safe_open

from conftest import ROOT
from eval.synthetic import (CheckConfig, check_masks, follows_exemplar, held_out_faces, meets_guidance_bar,
                            run_check)
from exegan import ExeGAN
from exegan.checkpoints import BUNDLED_MODEL_DIR, default_model_source

MODEL = ROOT / "assets" / "default-model"


def test_files_card_and_default_source(monkeypatch):
    assert BUNDLED_MODEL_DIR.resolve() == MODEL.resolve()
    weights = MODEL / "model.safetensors"
    assert weights.stat().st_size <= 40 * 2**20
    with safe_open(str(weights), "pt") as f:
        dtypes = {f.get_slice(k).get_dtype() for k in f.keys()}
    assert "F16" in dtypes and dtypes <= {"F16", "I64"}  # I64: BatchNorm's num_batches_tracked, if any
    cfg = json.loads((MODEL / "config.json").read_text())
    assert cfg["generator"]["size"] == 64 and "non-commercial" in cfg["license"]
    card = (MODEL / "README.md").read_text()
    assert card.startswith("---\nlicense: other") and "DigiFace-1M" in card and "make_default_model.sh" in card
    assert (MODEL / "figure.png").is_file()
    monkeypatch.delenv("EXEGAN_MODEL", raising=False)
    assert default_model_source() == str(BUNDLED_MODEL_DIR)


def test_cli_uses_the_bundled_model_by_default():
    env = {k: v for k, v in os.environ.items() if k != "EXEGAN_MODEL"}
    out = subprocess.run([sys.executable, "-m", "exegan", "info"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    name = json.loads((MODEL / "config.json").read_text())["name"]
    assert f"name: {name}" in out.stdout and "resolution: 64" in out.stdout


@pytest.fixture(scope="module")
def check():
    return run_check(ExeGAN.from_pretrained(MODEL, device="cpu", precision="fp32"), CheckConfig(n=16, n_samples=3))


@pytest.mark.parametrize("mask", ["center", "ratio30-40"])
def test_fills_better_than_a_flat_fill(check, mask):
    """A model that really inpaints beats filling the hole with the mean colour of the known pixels."""
    faces = held_out_faces(16)
    holes = check_masks(16, 64, CheckConfig().mask_seed)[mask]
    flat = [np.abs(f[h].astype(float) - f[~h].mean(0)).mean() / 255 for f, h in zip(faces, holes)]
    assert check["quality"][mask]["exegan"]["l1_hole"] < np.mean(flat)


@pytest.mark.parametrize("mask", ["center", "ratio30-40"])
@pytest.mark.parametrize("metric", ["l1_hole", "sface_trunk"])
def test_beats_telea_in_the_hole(check, mask, metric):
    q = check["quality"][mask]
    assert q["exegan"][metric] < q["telea"][metric], q


@pytest.mark.parametrize("key", ["identity", "attribute"])
def test_follows_the_exemplar(check, key):
    g = check["guidance"]
    assert g["decisions"] == 32
    assert follows_exemplar(g, key) and meets_guidance_bar(g, key), g


def test_follows_the_exemplar_for_a_descriptor_used_nowhere_in_training(check):
    """dlib's face descriptor (eval/dlib_identity.py) shares nothing with SFace, the identity loss's network and the
    exemplar encoder's trunk: a gain that only SFace sees would fail here."""
    ind = check["guidance"]["independent"]
    if ind.get("identity_rate") is None:
        pytest.skip("dlib is not installed (the dev extra installs it)")
    assert ind["identity_rate"] >= 0.6 and ind["identity_margin"] > 0, ind


def test_known_pixels_exact_and_seeds_differ(check):
    assert check["known_pixels"]["outputs_changed_outside_hole"] == 0
    assert check["known_pixels"]["outputs_checked"] == 16 * 2 + 16 * 2 + 16 * 3
    assert check["diversity"]["l1_hole"] > 0.005  # different seeds: visibly different fills (> ~1/255 per pixel)


def test_the_first_demo_examples_show_a_visible_exemplar_effect():
    """The committed examples (assets/make_synthetic_examples.py) still show, with the committed model, an exemplar
    effect well above the seed effect: measured here on the plain pixel difference in the mask."""
    from PIL import Image

    listing = json.loads((ROOT / "assets" / "examples" / "synthetic_examples.json").read_text())
    assert len(listing["examples"]) == 3
    model = ExeGAN.from_pretrained(MODEL, device="cpu", precision="fp32")
    for ex in listing["examples"]:
        load = lambda key: Image.open(ROOT / "assets" / "examples" / ex[key])  # noqa: E731
        photo, hole = load("photo"), np.asarray(load("mask")) > 0
        a0, b0 = (np.asarray(x, np.float32) for x in model.inpaint(photo, hole, [load("exemplar_a"),
                                                                                  load("exemplar_b")], 1, seed=0))
        a1 = np.asarray(model.inpaint(photo, hole, load("exemplar_a"), 1, seed=1)[0], np.float32)
        assert np.array_equal(a0[~hole], np.asarray(photo, np.float32)[~hole])
        exemplar, seed = np.abs(a0 - b0)[hole].mean(), np.abs(a0 - a1)[hole].mean()
        assert exemplar > 2 * seed, (ex["photo"], exemplar, seed)
