"""Model files: official-format pickles (made here with small weights), our safetensors format, Hub cache,
the convert tool and the CLI, all through the real loading code."""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import TINY, make_tiny
from exegan import ExeGAN
from exegan.checkpoints import (infer_generator_config, infer_style_encoder_config, load_arcface, load_model,
                                load_official_generator, load_official_style_encoder, resolve_model_dir)
from exegan.nets import ArcFaceR101, Discriminator

ROOT = Path(__file__).resolve().parent.parent
RNG = np.random.default_rng(1)
IMG = RNG.integers(0, 256, (32, 32, 3), dtype=np.uint8)
EX = RNG.integers(0, 256, (32, 32, 3), dtype=np.uint8)
MASK = np.zeros((32, 32), np.uint8)
MASK[4:20, 10:30] = 255


def write_official_files(model: ExeGAN, folder: Path) -> tuple[Path, Path]:
    """Files laid out exactly as the authors' train.py and pSp save them
    (docs/official-implementation.md §7.1, §7.4)."""
    g = model.generator
    d = Discriminator(g.size, 0.25, max_channels=32)
    exe = folder / "EXE_GAN_model_tiny.pt"
    torch.save({"g": g.state_dict(), "d": d.state_dict(), "g_ema": g.state_dict(),
                "g_optim": torch.optim.Adam(g.parameters()).state_dict(),
                "d_optim": torch.optim.Adam(d.parameters()).state_dict(),
                "args": argparse.Namespace(size=g.size, batch=2, lr=0.002, mixing=0.5, name="run"),
                "ada_aug_p": 0.0, "iter": 123, "best_path": "x", "best_fid": 12.5}, exe)
    psp = folder / "psp_tiny.pt"
    sd = {f"encoder.{k}": v for k, v in model.style_encoder.state_dict().items()}
    sd["decoder.style.1.weight"] = torch.zeros(3, 3)  # ignored part of a real pSp file
    torch.save({"state_dict": sd, "opts": {"encoder_type": "GradualStyleEncoder", "input_nc": 3,
                                           "start_from_latent_avg": True, "output_size": 1024},
                "latent_avg": model.latent_avg.clone()}, psp)
    return exe, psp


def test_official_files_load_strictly_and_reproduce_outputs(tmp_path, tiny):
    exe, psp = write_official_files(tiny, tmp_path)
    loaded = ExeGAN.from_official(exe, psp, device="cpu", precision="fp32")
    for (k, v), (k2, v2) in zip(tiny.generator.state_dict().items(), loaded.generator.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)
    a = tiny.inpaint(IMG, MASK, EX, n_samples=2, seed=0, output_type="pt")
    b = loaded.inpaint(IMG, MASK, EX, n_samples=2, seed=0, output_type="pt")
    assert torch.equal(a, b)


def test_architecture_is_read_off_the_weights():
    with torch.device("meta"):
        from exegan.nets import Generator, StyleEncoder
        assert infer_generator_config(Generator(512).state_dict()).size == 512
        enc = infer_style_encoder_config(StyleEncoder().state_dict())
    assert (enc.n_styles, enc.input_size, enc.units, enc.widths) == (18, 256, (3, 4, 14, 3), (64, 128, 256, 512))
    assert infer_style_encoder_config(make_tiny().style_encoder.state_dict()) == TINY.style_encoder


def test_mismatched_official_weights_fail_loudly(tmp_path, tiny):
    exe, psp = write_official_files(tiny, tmp_path)
    ckpt = torch.load(exe, weights_only=False)
    del ckpt["g_ema"]["final_transfer.bias"]
    torch.save(ckpt, exe)
    with pytest.raises(ValueError, match=r"EXE.*\.pt: missing key 'final_transfer\.bias'"):
        load_official_generator(exe)
    with pytest.raises(ValueError, match="no 'g_ema' entry"):
        load_official_generator(psp)
    with pytest.raises(ValueError, match="no 'state_dict' entry"):
        load_official_style_encoder(exe)


class Payload:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_pickles_with_code_are_refused(tmp_path):
    evil = tmp_path / "evil.pt"
    torch.save({"g_ema": {}, "x": Payload()}, evil)
    with pytest.raises(ValueError, match="refusing to load"):
        load_official_generator(evil)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match="not a readable PyTorch checkpoint"):
        load_official_generator(junk)
    with pytest.raises(FileNotFoundError):
        load_official_generator(tmp_path / "missing.pt")


def test_arcface_checkpoint_loads_strictly(tmp_path):
    net = ArcFaceR101(layers=(1, 1, 1, 1))
    full = ArcFaceR101()
    sd = {k: v for k, v in full.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(sd, tmp_path / "Arcface.pth")  # an older file without BatchNorm counters
    loaded = load_arcface(tmp_path / "Arcface.pth")
    assert torch.equal(loaded.fc.weight, full.fc.weight) and not loaded.fc.weight.requires_grad
    torch.save(net.state_dict(), tmp_path / "small.pth")  # the architecture is read off the file
    small = load_arcface(tmp_path / "small.pth")
    assert [len(getattr(small, f"layer{i}")) for i in range(1, 5)] == [1, 1, 1, 1]
    assert torch.equal(small.conv1.weight, net.conv1.weight)
    torch.save({"conv1.weight": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match="does not look like Arcface.pth"):
        load_arcface(tmp_path / "other.pth")


def test_save_pretrained_round_trip_fp32_and_fp16(tmp_path, tiny):
    tiny.save_pretrained(tmp_path / "m32")
    assert sorted(p.name for p in (tmp_path / "m32").iterdir()) == ["config.json", "model.safetensors"]
    cfg = json.loads((tmp_path / "m32" / "config.json").read_text())
    assert cfg["generator"]["size"] == 32 and cfg["name"] == "tiny-test"
    ref = tiny.inpaint(IMG, MASK, EX, n_samples=2, seed=3, output_type="pt")
    assert torch.equal(ExeGAN.from_pretrained(tmp_path / "m32", precision="fp32").inpaint(IMG, MASK, EX, n_samples=2, seed=3,
                                                                         output_type="pt"), ref)
    tiny.save_pretrained(tmp_path / "m16", dtype=torch.float16)
    assert (tmp_path / "m16" / "model.safetensors").stat().st_size < 0.6 * (tmp_path / "m32" / "model.safetensors").stat().st_size
    half = ExeGAN.from_pretrained(tmp_path / "m16", precision="fp32").inpaint(IMG, MASK, EX, n_samples=2, seed=3, output_type="pt")
    assert (half - ref).abs().max() < 0.05


def test_broken_model_folders_give_clear_errors(tmp_path, tiny):
    tiny.save_pretrained(tmp_path / "m")
    (tmp_path / "m" / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="unreadable safetensors"):
        load_model(tmp_path / "m")
    tiny.save_pretrained(tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    cfg["generator"]["max_channels"] = 64
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match=r"tensor 'generator\..*' has shape .* architecture needs"):
        load_model(tmp_path / "m")
    (tmp_path / "m" / "config.json").write_text('{"bogus": 1}')
    with pytest.raises(ValueError, match="unknown config fields"):
        load_model(tmp_path / "m")
    with pytest.raises(FileNotFoundError, match="not a model folder"):
        load_model(tmp_path / "nowhere" / "deeper")


@pytest.mark.parametrize("edit, message", [
    (lambda c: c["generator"].update(style_dim=30000), r"generator\.style_dim must be in \[1, 2048\]"),
    (lambda c: c["generator"].update(n_mlp=10 ** 6), r"generator\.n_mlp must be in"),
    (lambda c: c["style_encoder"].update(n_styles=10 ** 6), r"style_encoder\.n_styles must be in"),
    (lambda c: c["generator"].update(size=0), r"generator\.size must be in \[32, 1024\]"),
    (lambda c: c["generator"].update(size=48), r"generator\.size must be a power of two"),
    (lambda c: c["generator"].update(size="64"), r"generator\.size must be an integer"),
    (lambda c: c["generator"].update(style_dim=0), r"generator\.style_dim must be in"),
    (lambda c: c["generator"].update(channel_multiplier=float("nan")), r"channel_multiplier must be a number"),
    (lambda c: c["style_encoder"].update(units=[1, 1]), r"style_encoder\.units must be a list of 4"),
    (lambda c: c["style_encoder"].update(kind="other"), r"style_encoder\.kind must be"),
    (lambda c: c["style_encoder"].update(style_dim=8), r"must equal generator\.style_dim"),
    (lambda c: c["generator"].update(extra=1), r"unknown generator fields: \['extra'\]"),
    (lambda c: c.update(generator=[1]), r"generator must be an object"),
    (lambda c: c.update(name=None), r"name must be a string"),
    # within the bounds, but not what the weights hold: refused from the header, before allocating anything
    (lambda c: (c["generator"].update(style_dim=2048, n_mlp=16), c["style_encoder"].update(style_dim=2048)),
     r"has shape .* architecture needs"),
])
def test_config_json_is_validated_before_anything_is_built(tmp_path, tiny, edit, message):
    tiny.save_pretrained(tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    edit(cfg)
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match=message):
        load_model(tmp_path / "m")


def test_deeply_nested_or_huge_config_json_is_refused(tmp_path, tiny):
    tiny.save_pretrained(tmp_path / "m")
    (tmp_path / "m" / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match="config.json: invalid model config"):
        load_model(tmp_path / "m")
    (tmp_path / "m" / "config.json").write_text(" " * (2 << 20) + "{}")
    with pytest.raises(ValueError, match="larger than"):
        load_model(tmp_path / "m")


def test_hub_repo_offline_reads_the_cache_and_fails_fast_without_it(tmp_path, tiny, monkeypatch):
    cache = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    import huggingface_hub.constants as c
    monkeypatch.setattr(c, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(c, "HF_HUB_OFFLINE", True)
    with pytest.raises(FileNotFoundError, match="HF_HUB_OFFLINE=1"):
        resolve_model_dir("someone/not-cached")
    # the standard cache layout: models--org--name/{refs/main, snapshots/<commit>/files}
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = cache / "models--exegan-test--tiny"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    tiny.save_pretrained(repo / "snapshots" / commit)
    loaded = ExeGAN.from_pretrained("exegan-test/tiny", precision="fp32")  # tiny is fp32
    assert torch.equal(loaded.inpaint(IMG, MASK, EX, n_samples=1, seed=0, output_type="pt"),
                       tiny.inpaint(IMG, MASK, EX, n_samples=1, seed=0, output_type="pt"))


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})})


def test_convert_and_cli_end_to_end(tmp_path, tiny):
    exe, psp = write_official_files(tiny, tmp_path)
    r = run("exegan.convert", "--exe", str(exe), "--psp", str(psp), "--out", str(tmp_path / "conv"), "--name", "t")
    assert r.returncode == 0, r.stderr
    for name, arr in (("img.png", IMG), ("ex.png", EX)):
        Image.fromarray(arr).save(tmp_path / name)
    Image.fromarray(MASK).save(tmp_path / "mask.png")
    r = run("exegan", "inpaint", "--model", str(tmp_path / "conv"), "--image", str(tmp_path / "img.png"),
            "--mask", str(tmp_path / "mask.png"), "--exemplar", str(tmp_path / "ex.png"), "--n", "2", "--seed", "5",
            "--precision", "fp32", "--out", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    files = sorted((tmp_path / "out").glob("*.png"))
    assert [f.name for f in files] == ["img_e1_s5.png", "img_e1_s6.png"]  # exemplar 1; seeds 5 and 5 + 1
    expected = tiny.inpaint(IMG, MASK, EX, n_samples=2, seed=5)
    for f, e in zip(files, expected):
        np.testing.assert_array_equal(np.asarray(Image.open(f)), np.asarray(e))
    # the same model through the authors' files, and a sweep via $EXEGAN_MODEL
    r = run("exegan", "sweep", "--image", str(tmp_path / "img.png"), "--mask", str(tmp_path / "mask.png"),
            "--exemplar", str(tmp_path / "ex.png"), "--exemplar", str(tmp_path / "img.png"), "--seed", "1",
            "--out", str(tmp_path / "sweep"), env={"EXEGAN_MODEL": str(tmp_path / "conv")})
    assert r.returncode == 0, r.stderr
    assert len(list((tmp_path / "sweep").glob("img_mix*.png"))) == tiny.generator.n_exemplar + 1
    r = run("exegan", "info", "--exe", str(exe), "--psp", str(psp))
    assert r.returncode == 0 and "resolution: 32" in r.stdout


def test_cli_reports_bad_input_without_a_traceback(tmp_path, tiny):
    tiny.save_pretrained(tmp_path / "m")
    (tmp_path / "notes.png").write_text("this is not an image")
    Image.fromarray(IMG).save(tmp_path / "img.png")
    r = run("exegan", "inpaint", "--model", str(tmp_path / "m"), "--image", str(tmp_path / "img.png"),
            "--mask", str(tmp_path / "notes.png"), "--exemplar", str(tmp_path / "img.png"), "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "not a recognised image" in r.stderr and "Traceback" not in r.stderr
    r = run("exegan.convert", "--exe", str(tmp_path / "img.png"), "--psp", str(tmp_path / "img.png"),
            "--out", str(tmp_path / "c"))
    assert r.returncode == 2 and "error:" in r.stderr and not (tmp_path / "c").exists()


def test_cli_align_pastes_back_into_the_full_photo(tmp_path, tiny):
    tiny.save_pretrained(tmp_path / "m")
    photo, mask = ROOT / "assets" / "examples" / "photo_tilted.png", ROOT / "assets" / "examples" / "photo_tilted_mask.png"
    r = run("exegan", "inpaint", "--model", str(tmp_path / "m"), "--image", str(photo), "--mask", str(mask),
            "--exemplar", str(ROOT / "assets" / "examples" / "exemplar_glasses.png"), "--n", "2", "--seed", "0",
            "--align", "--out", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    original = np.asarray(Image.open(photo).convert("RGB"))
    hole = np.asarray(Image.open(mask).convert("L")) >= 128
    outs = [np.asarray(Image.open(f)) for f in sorted((tmp_path / "out").glob("*.png"))]
    assert len(outs) == 2 and all(o.shape == original.shape for o in outs)
    for o in outs:
        np.testing.assert_array_equal(o[~hole], original[~hole])
        assert (o[hole] != original[hole]).any()
