"""Checks that need a device: inference and training on CUDA, held against the CPU. Skipped without CUDA.

    pytest tests/test_cuda.py                            # EXEGAN_TEST_DEVICE=cuda (default): skipped without CUDA
    EXEGAN_TEST_DEVICE=cpu pytest tests/test_cuda.py     # the same code paths on the CPU (gpu_check.sh --dry-run)

What they ask of a device: known pixels bit-exact in every precision; the same seed gives the same output; fp32 on
the device matches fp32 on the CPU (strict fp32, and with PyTorch's default TF32 convolutions); bf16 / fp16 stay
within a few 8-bit levels of fp32; truncation and style mixing give what the CPU gives; SFace embeds as on the
CPU; training steps run in fp32 / bf16 / fp16 and export a model the CPU loads; a resumed run continues as a
straight one does (bit for bit where the device itself is deterministic). Measured deviations are recorded with
``record_property`` (junit XML), which ``scripts/gpu_check.py`` copies into its report.
"""

import contextlib
import os

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from conftest import ROOT, make_tiny
from exegan import ExeGAN
from test_train import run_train, weights

DEVICE = os.environ.get("EXEGAN_TEST_DEVICE", "cuda")
ON_CUDA = torch.device(DEVICE).type == "cuda"
MODEL = ROOT / "assets" / "default-model"  # the bundled 64 px model: real weights, real activations

pytestmark = pytest.mark.skipif(ON_CUDA and not torch.cuda.is_available(),
                                reason=f"EXEGAN_TEST_DEVICE={DEVICE}: torch sees no CUDA device")

RNG = np.random.default_rng(0)
IMG32 = RNG.integers(0, 256, (32, 32, 3), dtype=np.uint8)
EX32 = RNG.integers(0, 256, (32, 32, 3), dtype=np.uint8)
MASK32 = np.zeros((32, 32), bool)
MASK32[6:22, 9:27] = True


@contextlib.contextmanager
def strict_fp32():
    """No TF32 in convolutions or matrix products (cuDNN convolves fp32 in TF32 by default on Ampere and later)."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def rel_err(out: torch.Tensor, ref: torch.Tensor) -> float:
    """||out - ref|| / ||ref|| in float64 (NaN never passes a bound)."""
    out, ref = out.double().cpu(), ref.double().cpu()
    return float((out - ref).norm() / ref.norm())


def levels(out: torch.Tensor, ref: torch.Tensor) -> tuple[float, float]:
    """Mean and max |out - ref| in 8-bit levels ([-1, 1] images)."""
    d = (out.float().cpu() - ref.float().cpu()).abs() * 127.5
    return float(d.mean()), float(d.max())


@pytest.fixture(scope="module")
def faces():
    """Three held-out synthetic faces (64 px) and a centre hole: realistic inputs for the bundled model."""
    from eval.synthetic import check_masks, held_out_faces

    return held_out_faces(3), check_masks(3, 64, 2024)["center"]


def bundled(device, precision="fp32") -> ExeGAN:
    return ExeGAN.from_pretrained(MODEL, device=device, precision=precision)


# ------------------------------------------------------------------------------------------------ inference
def test_device_and_auto_precision(record_property):
    model = make_tiny()
    on_dev = ExeGAN(model.generator, model.style_encoder, model.latent_avg, model.config, device=DEVICE)
    assert on_dev.device.type == torch.device(DEVICE).type
    assert next(on_dev.generator.parameters()).device.type == on_dev.device.type
    record_property("auto_precision", on_dev.precision)
    if ON_CUDA:
        record_property("gpu", torch.cuda.get_device_name())
        record_property("capability", ".".join(map(str, torch.cuda.get_device_capability())))
        assert on_dev.precision == ("bf16" if torch.cuda.is_bf16_supported() else "fp16")


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_known_pixels_bit_exact_on_device(precision):
    model = make_tiny()
    model = ExeGAN(model.generator, model.style_encoder, model.latent_avg, model.config, device=DEVICE,
                   precision=precision)
    outs = model.inpaint(IMG32, MASK32, [EX32, IMG32], n_samples=3, seed=0, output_type="np")
    assert len(outs) == 6
    for out in outs:
        np.testing.assert_array_equal(out[~MASK32], IMG32[~MASK32])
        assert (out[MASK32] != IMG32[MASK32]).mean() > 0.9
    pt = model.inpaint(IMG32, MASK32, EX32, n_samples=2, seed=0, output_type="pt")
    assert torch.isfinite(pt).all()
    x = torch.from_numpy(IMG32).permute(2, 0, 1).float() / 127.5 - 1
    known = torch.from_numpy(~MASK32)
    assert torch.equal(pt[:, :, known].cpu(), x[None, :, known].expand(2, -1, -1))


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_same_seed_same_output_on_device(precision):
    model = make_tiny()
    model = ExeGAN(model.generator, model.style_encoder, model.latent_avg, model.config, device=DEVICE,
                   precision=precision)
    a = model.inpaint(IMG32, MASK32, EX32, n_samples=4, seed=3, output_type="pt")
    model._code_cache.clear()
    b = model.inpaint(IMG32, MASK32, EX32, n_samples=4, seed=3, output_type="pt")
    c = model.inpaint(IMG32, MASK32, EX32, n_samples=4, seed=4, output_type="pt")
    assert torch.equal(a, b), f"same seed, max difference {float((a - b).abs().max())}"
    assert not torch.equal(a, c)


def test_fp32_on_device_matches_fp32_on_cpu(faces, record_property):
    images, holes = faces
    cpu, dev = bundled("cpu"), bundled(DEVICE)
    ref = torch.cat([cpu.inpaint(images[i], holes[i], images[(i + 1) % 3], n_samples=2, seed=i, output_type="pt")
                     for i in range(3)])

    def run():
        dev._code_cache.clear()
        return torch.cat([dev.inpaint(images[i], holes[i], images[(i + 1) % 3], n_samples=2, seed=i,
                                      output_type="pt") for i in range(3)])

    with strict_fp32():
        strict = run()
    default = run()  # PyTorch's defaults: TF32 convolutions on CUDA
    for name, out in (("strict", strict), ("default_tf32", default)):
        record_property(f"rel_err_{name}", rel_err(out, ref))
        mean, worst = levels(out, ref)
        record_property(f"mean_levels_{name}", mean)
        record_property(f"max_levels_{name}", worst)
    assert rel_err(strict, ref) < 1e-3, "strict fp32 on the device differs from the CPU beyond rounding"
    assert rel_err(default, ref) < 1e-2, "fp32 with the default TF32 convolutions differs from the CPU"


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_half_precision_close_to_fp32_on_device(faces, precision, record_property):
    images, holes = faces
    fp32, half = bundled(DEVICE, "fp32"), bundled(DEVICE, precision)
    with strict_fp32():
        ref = torch.cat([fp32.inpaint(images[i], holes[i], images[(i + 1) % 3], n_samples=2, seed=i,
                                      output_type="pt") for i in range(3)])
    out = torch.cat([half.inpaint(images[i], holes[i], images[(i + 1) % 3], n_samples=2, seed=i, output_type="pt")
                     for i in range(3)])
    assert torch.isfinite(out).all()
    hole = torch.from_numpy(holes).repeat_interleave(2, 0)[:, None].expand_as(out)
    mean, worst = levels(out[hole], ref[hole])
    record_property("rel_err", rel_err(out, ref))
    record_property("hole_mean_levels", mean)
    record_property("hole_max_levels", worst)
    assert mean < 4.0, f"{precision}: mean deviation from fp32 in the hole {mean:.2f} 8-bit levels"


def test_truncation_and_mixing_match_the_cpu(record_property):
    """A seed is meant to give the same samples on any device (exegan/pipeline.py), truncation included."""
    cpu = make_tiny()
    model = make_tiny()
    dev = ExeGAN(model.generator, model.style_encoder, model.latent_avg, model.config, device=DEVICE,
                 precision="fp32")
    with strict_fp32():
        trunc = dev.inpaint(IMG32, MASK32, EX32, n_samples=2, seed=5, truncation=0.7, output_type="pt")
        again = dev.inpaint(IMG32, MASK32, EX32, n_samples=2, seed=5, truncation=0.7, output_type="pt")
        sweep = dev.mixing_sweep(IMG32, MASK32, EX32, IMG32, seed=2, output_type="pt")
    assert torch.equal(trunc, again)
    ref_sweep = cpu.mixing_sweep(IMG32, MASK32, EX32, IMG32, seed=2, output_type="pt")
    ref_trunc = cpu.inpaint(IMG32, MASK32, EX32, n_samples=2, seed=5, truncation=0.7, output_type="pt")
    record_property("rel_err_mixing_sweep", rel_err(sweep, ref_sweep))
    record_property("rel_err_truncation", rel_err(trunc, ref_trunc))
    record_property("rel_err_mean_latent", rel_err(dev.mean_latent(), cpu.mean_latent()))
    assert sweep.shape == ref_sweep.shape and rel_err(sweep, ref_sweep) < 1e-3
    assert rel_err(trunc, ref_trunc) < 1e-3, (  # mean_latent draws its z on the CPU for this
        "truncation differs from the CPU; mean latent rel. difference "
        f"{rel_err(dev.mean_latent(), cpu.mean_latent()):.3g}")


def test_sface_on_device_matches_cpu(faces, record_property):
    from exegan.sface import load_sface

    images, _ = faces
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1
    net = load_sface()
    ref = net.embed(x)
    dev = load_sface().to(DEVICE)
    with strict_fp32():
        out = dev.embed(x.to(DEVICE)).cpu()
    cos = torch.nn.functional.cosine_similarity(out, ref).min().item()
    record_property("min_cos_fp32", cos)
    assert cos > 0.9999
    if ON_CUDA:  # bf16 autocast is emulated on most CPUs: minutes there
        with torch.autocast("cuda", dtype=torch.bfloat16):
            half = dev.embed(x.to(DEVICE)).float().cpu()
        cos_bf16 = torch.nn.functional.cosine_similarity(half, ref).min().item()
        record_property("min_cos_bf16", cos_bf16)
        assert cos_bf16 > 0.99


def test_synthetic_check_runs_with_a_device_model():
    from eval.synthetic import CheckConfig, run_check

    r = run_check(bundled(DEVICE), CheckConfig(n=3, n_samples=2))
    assert r["known_pixels"]["outputs_changed_outside_hole"] == 0 and r["known_pixels"]["outputs_checked"] > 0
    assert np.isfinite(r["quality"]["center"]["exegan"]["l1_hole"])


# ------------------------------------------------------------------------------------------------- training
@pytest.fixture
def on_device(monkeypatch):
    """Accelerate picks CUDA when there is one; EXEGAN_TEST_DEVICE=cpu keeps it on the CPU."""
    if not ON_CUDA:
        monkeypatch.setenv("ACCELERATE_USE_CPU", "1")


def trained_on() -> str:
    from accelerate.state import PartialState

    return PartialState().device.type


@pytest.mark.parametrize("precision", ["no", "bf16", "fp16"])
def test_training_steps_on_device(tmp_path, data_dir, on_device, precision, record_property):
    run_train(tmp_path / "run", data_dir, "--max_train_steps", "2", "--checkpointing_steps", "2",
              "--mixed_precision", precision)
    assert trained_on() == torch.device(DEVICE).type
    for name, t in load_file(str(tmp_path / "run" / "checkpoint-2" / "ema.safetensors")).items():
        assert torch.isfinite(t.float()).all(), name
    model = ExeGAN.from_pretrained(tmp_path / "run" / "model", device="cpu", precision="fp32")
    out = model.inpaint(IMG32, MASK32, EX32, n_samples=1, seed=0, output_type="np")[0]
    np.testing.assert_array_equal(out[~MASK32], IMG32[~MASK32])


@pytest.mark.parametrize("encoder", ["joint", "sface"])
def test_training_with_the_sface_identity_loss_on_device(tmp_path, data_dir, on_device, encoder):
    """The default recipe's identity loss (SFace) and the SFace-trunk exemplar encoder, on the device in bf16 (in
    fp32 on the CPU, where bf16 autocast is emulated and many times slower)."""
    precision = "bf16" if ON_CUDA else "no"
    run_train(tmp_path / "run", data_dir, "--max_train_steps", "2", "--checkpointing_steps", "2",
              "--mixed_precision", precision, "--identity_backend", "sface", "--style_encoder", encoder,
              "--exemplar_jitter", "1.0")
    assert trained_on() == torch.device(DEVICE).type
    model = ExeGAN.from_pretrained(tmp_path / "run" / "model", device=DEVICE,
                                   precision="bf16" if ON_CUDA else "fp32")
    out = model.inpaint(IMG32, MASK32, EX32, n_samples=2, seed=0, output_type="np")
    assert all(np.array_equal(o[~MASK32], IMG32[~MASK32]) for o in out)


def test_resume_on_device_continues_as_a_straight_run(tmp_path, data_dir, on_device, record_property):
    """Bit for bit where two straight runs agree bit for bit; else no further apart than two straight runs are."""
    for name in ("straight", "again"):
        run_train(tmp_path / name, data_dir, "--max_train_steps", "4", "--checkpointing_steps", "2")
    run_train(tmp_path / "split", data_dir, "--max_train_steps", "2", "--checkpointing_steps", "2")
    run_train(tmp_path / "split", data_dir, "--max_train_steps", "4", "--checkpointing_steps", "2",
              "--resume_from_checkpoint", "latest")
    a, b, c = (weights(tmp_path / name / "checkpoint-4") for name in ("straight", "again", "split"))
    assert a.keys() == b.keys() == c.keys()

    def max_diff(u, v):
        return max(float((u[k].double() - v[k].double()).abs().max()) for k in u)

    noise, resumed = max_diff(a, b), max_diff(a, c)
    record_property("straight_vs_straight_max_abs", noise)
    record_property("straight_vs_resumed_max_abs", resumed)
    record_property("deterministic", noise == 0)
    if noise == 0:
        assert resumed == 0, f"two straight runs agree bit for bit, the resumed one differs by {resumed:.3g}"
    else:
        assert resumed <= 10 * noise + 1e-6, f"resumed differs by {resumed:.3g}, straight runs by {noise:.3g}"
