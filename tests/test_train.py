"""Training loop: losses and updates, exact resume, a real 2-process `accelerate launch`, crash-safe checkpoints."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from exegan import ExeGAN, losses
from exegan.checkpoints import ModelConfig, load_model, save_model
from exegan.confidence import confidence_mask, reverse_confidence_mask
from exegan.svgl import svgl

from train import train as trainer
from train.checkpointing import list_checkpoints
from train.config import make_config, parse_args

ROOT = Path(__file__).resolve().parent.parent

TINY_ARGS = ["--config", "tiny", "--resolution", "32", "--style_dim", "16", "--n_mlp", "1",
             "--channel_multiplier", "0.125", "--max_channels", "16", "--encoder_units", "1,1,1,1",
             "--encoder_widths", "8,8,16,16", "--train_batch_size", "2", "--report_to", "none",
             "--logging_steps", "1", "--validation_steps", "0", "--lambda_lpips", "0.5",
             "--lpips_random_backbone", "true", "--identity_backend", "none", "--d_reg_every", "2",
             "--g_reg_every", "2", "--tau", "0.5"]


def run_train(out, data_dir, *extra):
    from accelerate.state import AcceleratorState, PartialState

    AcceleratorState._reset_state(True)
    PartialState._reset_state()
    trainer.main(TINY_ARGS + ["--train_data_dir", str(data_dir), "--output_dir", str(out), *extra])


def test_config_presets_and_flags():
    cfg = parse_args(["--config", "tiny", "--resolution", "32", "--encoder_units", "1,2,1,1", "--lambda_id", "0"])
    assert (cfg.resolution, cfg.encoder.units, cfg.lambda_id, cfg.style_encoder) == (32, (1, 2, 1, 1), 0.0, "joint")
    assert parse_args(["--config", "ffhq256"]).mask_type == "stroke_rect"
    assert parse_args(["--config", "ffhq512_large_masks"]).mask_type == "comod"
    with pytest.raises(ValueError, match="arcface_path"):
        make_config({"identity_backend": "arcface-r101"})
    with pytest.raises(ValueError, match="unknown training options"):
        make_config({"learning_rat": 1.0})


def test_svgl_weights_the_attribute_and_lpips_gradients_as_specified():
    torch.manual_seed(0)
    mask = torch.zeros(2, 1, 16, 16)
    mask[:, :, 4:12, 3:13] = 1
    m_w = confidence_mask(mask)
    m_rev = reverse_confidence_mask(m_w, mask)
    completed = torch.randn(2, 3, 16, 16, requires_grad=True)
    target = torch.randn(2, 4, 8)
    proj = torch.randn(3 * 16 * 16, 4 * 8)  # a differentiable stand-in "encoder"

    def codes(x):
        return torch.tanh(x.flatten(1) @ proj).view(2, 4, 8)

    (weighted,) = torch.autograd.grad(losses.attribute_loss(codes(svgl(completed, m_rev)), target), completed)
    (plain,) = torch.autograd.grad(losses.attribute_loss(codes(completed), target), completed)
    torch.testing.assert_close(weighted, plain * m_rev)
    assert weighted[:, :, 0, 0].abs().max() == 0 and plain[:, :, 0, 0].abs().max() > 0  # known pixels: no grad

    def lp(a, b):
        return ((a - b) ** 2).mean((1, 2, 3), keepdim=True)  # any [B,1,1,1] per-sample distance

    real = torch.randn(2, 3, 16, 16)
    (weighted,) = torch.autograd.grad(losses.lpips_loss(lp, completed, real, m_w), completed)
    (plain,) = torch.autograd.grad(lp(completed, real).sum(), completed)
    torch.testing.assert_close(weighted, plain * m_w)


def test_two_steps_update_everything(tmp_path, data_dir, capsys):
    run_train(tmp_path / "run", data_dir, "--max_train_steps", "2", "--checkpointing_steps", "2", "--tau", "0.0",
              "--identity_backend", "sface", "--validation_steps", "2", "--report_to", "tensorboard", "--lambda_l1", "1")
    log = capsys.readouterr().out
    ck = tmp_path / "run" / "checkpoint-2"
    assert (ck / "training_state.json").is_file() and (tmp_path / "run" / "model" / "config.json").is_file()
    preview = Image.open(tmp_path / "run" / "previews" / "step-0000002.png")
    assert preview.size == (32 * (2 + 3), 32 * 2)  # rows: masked input, exemplar, 3 samples; one row per image
    assert list((tmp_path / "run" / "logs").rglob("events.out.tfevents.*"))
    for term in ("loss/d", "loss/g_adv", "loss/g_attr", "loss/g_id", "loss/g_lpips", "loss/g_l1", "reg/r1",
                 "reg/path_length"):
        values = [float(v) for v in re.findall(rf"{term}=([-\d.e+naninf]+)", log)]
        assert values and all(np.isfinite(values)), (term, log)
        assert any(v != 0 for v in values), term
    lines = [line for line in log.splitlines() if line.startswith("step ")]
    # each line shows what its step computed: lazy R1 (every 2 steps) on step 0 only, no stale repeat at step 1
    assert len(lines) == 2 and "reg/r1=" in lines[0] and "reg/r1=" not in lines[1]
    torch.manual_seed(1)
    init = trainer.Generator(**parse_args(TINY_ARGS).generator_kwargs())  # same seed as the run: the initial G
    g = load_file(str(ck / "model.safetensors"))
    ema = load_file(str(ck / "ema.safetensors"))
    changed_g = [k for k, v in init.state_dict().items() if k in g and not torch.equal(v, g[k])]
    assert any("style." in k for k in changed_g) and any("final_transfer" in k for k in changed_g)
    moved = [k for k, v in init.state_dict().items() if f"g.{k}" in ema and not torch.equal(v, ema[f"g.{k}"])]
    assert moved and all(not torch.equal(g[k], ema[f"g.{k}"]) for k in moved[:5])  # EMA moved, lags behind G
    d0 = trainer.Discriminator(32, 0.125, max_channels=16)
    d1 = load_file(str(ck / "model_1.safetensors"))
    assert any(not torch.equal(v, d1[k]) for k, v in d0.state_dict().items() if v.is_floating_point())
    model = ExeGAN.from_pretrained(tmp_path / "run" / "model", precision="fp32")
    img = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    mask = np.zeros((32, 32), bool)
    mask[8:20, 8:24] = True
    out = np.asarray(model.inpaint(img, mask, img, n_samples=1, seed=0)[0])
    np.testing.assert_array_equal(out[~mask], img[~mask])


def weights(folder):
    return {**load_file(str(folder / "model.safetensors")), **{f"d.{k}": v for k, v in
                                                              load_file(str(folder / "model_1.safetensors")).items()},
            **{f"ema.{k}": v for k, v in load_file(str(folder / "ema.safetensors")).items()}}


def test_resume_is_exact(tmp_path, data_dir):
    extra = ["--exemplar_jitter", "1.0", "--inversion_rate", "0.5"]  # their draws too come from (seed, step)
    run_train(tmp_path / "straight", data_dir, "--max_train_steps", "4", "--checkpointing_steps", "2", *extra)
    run_train(tmp_path / "split", data_dir, "--max_train_steps", "2", "--checkpointing_steps", "2", *extra)
    run_train(tmp_path / "split", data_dir, "--max_train_steps", "4", "--checkpointing_steps", "2",
              "--resume_from_checkpoint", "latest", *extra)
    a, b = weights(tmp_path / "straight" / "checkpoint-4"), weights(tmp_path / "split" / "checkpoint-4")
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert different == []
    sa = json.loads((tmp_path / "straight" / "checkpoint-4" / "training_state.json").read_text())
    sb = json.loads((tmp_path / "split" / "checkpoint-4" / "training_state.json").read_text())
    assert sa == sb


def test_resume_uses_the_new_learning_rates(tmp_path, data_dir):
    """load_state restores the optimizers' saved learning rates; the flags of the resumed run must win. With both
    rates at 0 every Adam update is exactly zero, so G, D and the joint encoder stay bit-identical (the EMA copies
    and the encoder's EMA still move, towards unchanged weights)."""
    run_train(tmp_path / "run", data_dir, "--max_train_steps", "2", "--checkpointing_steps", "2")
    run_train(tmp_path / "run", data_dir, "--max_train_steps", "4", "--checkpointing_steps", "2",
              "--resume_from_checkpoint", "latest", "--learning_rate", "0", "--encoder_learning_rate", "0")
    before, after = weights(tmp_path / "run" / "checkpoint-2"), weights(tmp_path / "run" / "checkpoint-4")
    trained = [k for k in before if not k.startswith(("ema.g.", "ema.e."))]  # G, D, ema.enc.* (the live encoder)
    assert any(k.startswith("ema.enc.") for k in trained) and any(k.startswith("d.") for k in trained)
    assert [k for k in trained if not torch.equal(before[k], after[k])] == []
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("ema.g."))  # steps did run
    saved = parse_args(["--config", str(tmp_path / "run" / "train_config.yaml")])  # this invocation's flags
    assert (saved.learning_rate, saved.encoder_learning_rate, saved.max_train_steps) == (0, 0, 4)


def test_resume_refuses_another_architecture_or_a_corrupt_checkpoint_in_one_sentence(tmp_path, data_dir):
    """A resume that cannot work names the checkpoint and the difference before loading anything, and the
    checkpoint is left as it was."""
    run = tmp_path / "run"
    run_train(run, data_dir, "--max_train_steps", "1", "--checkpointing_steps", "1")
    ck = run / "checkpoint-1"
    files = {p.name: p.read_bytes() for p in ck.iterdir() if p.is_file()}
    resume = ["--max_train_steps", "2", "--resume_from_checkpoint", "latest"]
    with pytest.raises(ValueError, match=r"checkpoint-1 was trained with generator.style_dim=16 and this run has 8"):
        run_train(run, data_dir, *resume, "--style_dim", "8")
    with pytest.raises(ValueError, match=r"style_encoder.widths=\(8, 8, 16, 16\) and this run has \(8, 8, 16, 32\)"):
        run_train(run, data_dir, *resume, "--encoder_widths", "8,8,16,32")
    with pytest.raises(ValueError, match=r"generator.exemplar_start=\d and this run has 3 \(--move_exemplar_window "):
        run_train(run, data_dir, *resume, "--exemplar_start", "3")
    (ck / "model_1.safetensors").write_bytes(files["model_1.safetensors"][:1000])  # truncated by a full disk
    with pytest.raises(ValueError, match=r"model_1.safetensors: unreadable checkpoint file"):
        run_train(run, data_dir, *resume)
    (ck / "model_1.safetensors").write_bytes(files["model_1.safetensors"])
    (ck / "optimizer.bin").write_bytes(files["optimizer.bin"][:500])
    with pytest.raises(ValueError, match=r"checkpoint-1: cannot resume from this checkpoint .*older one"):
        run_train(run, data_dir, *resume)
    (ck / "optimizer.bin").write_bytes(files["optimizer.bin"])
    assert {p.name: p.read_bytes() for p in ck.iterdir() if p.is_file()} == files
    assert [s for s, _ in list_checkpoints(run)] == [1]
    run_train(run, data_dir, *resume, "--checkpointing_steps", "1")  # the restored checkpoint resumes
    assert [s for s, _ in list_checkpoints(run)] == [1, 2]


def test_crash_during_save_keeps_the_previous_checkpoint(tmp_path, data_dir, monkeypatch):
    run_train(tmp_path / "run", data_dir, "--max_train_steps", "2", "--checkpointing_steps", "2")
    before = weights(tmp_path / "run" / "checkpoint-2")

    def boom(*a, **k):
        raise KeyboardInterrupt("killed while saving")

    monkeypatch.setattr(trainer, "export_model", boom)  # dies after accelerate.save_state, before completion
    with pytest.raises(KeyboardInterrupt):
        run_train(tmp_path / "run", data_dir, "--max_train_steps", "4", "--checkpointing_steps", "2",
                  "--resume_from_checkpoint", "latest")
    monkeypatch.undo()
    assert [s for s, _ in list_checkpoints(tmp_path / "run")] == [2]
    assert (tmp_path / "run" / "checkpoint-4.tmp").exists()
    (tmp_path / "run" / "checkpoint-3.tmp").mkdir()  # the leftover of an older interruption
    after = weights(tmp_path / "run" / "checkpoint-2")
    assert all(torch.equal(before[k], after[k]) for k in before)
    run_train(tmp_path / "run", data_dir, "--max_train_steps", "4", "--checkpointing_steps", "2",
              "--resume_from_checkpoint", "latest")
    assert [s for s, _ in list_checkpoints(tmp_path / "run")] == [2, 4]
    assert not list((tmp_path / "run").glob("checkpoint-*.tmp"))  # every leftover is gone once a save completes


def test_non_finite_loss_stops_with_a_clear_message(tmp_path, data_dir):
    torch.manual_seed(0)
    g = trainer.Generator(**parse_args(TINY_ARGS).generator_kwargs())
    with torch.no_grad():
        g.final_transfer.bias[0] = float("nan")  # a corrupt starting checkpoint
    enc = trainer.StyleEncoder(n_styles=8, style_dim=16, input_size=32, units=(1, 1, 1, 1), widths=(8, 8, 16, 16))
    save_model(tmp_path / "bad", ModelConfig(), g, enc, torch.zeros(8, 16))
    cfg = json.loads((tmp_path / "bad" / "config.json").read_text())
    cfg["generator"] |= {"size": 32, "style_dim": 16, "n_mlp": 1, "channel_multiplier": 0.125, "max_channels": 16}
    cfg["style_encoder"] |= {"n_styles": 8, "style_dim": 16, "input_size": 32, "units": [1, 1, 1, 1],
                             "widths": [8, 8, 16, 16]}
    (tmp_path / "bad" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(FloatingPointError, match=r"non-finite d_loss .* at step 0"):
        run_train(tmp_path / "run", data_dir, "--max_train_steps", "2", "--init_from", str(tmp_path / "bad"))
    assert list_checkpoints(tmp_path / "run") == []


def test_real_accelerate_launch_two_cpu_processes(tmp_path, data_dir):
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", str(ROOT / "train" / "train.py"),
           *TINY_ARGS, "--train_data_dir", str(data_dir), "--output_dir", str(tmp_path / "ddp"),
           "--max_train_steps", "2", "--checkpointing_steps", "2"]
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert [s for s, _ in list_checkpoints(tmp_path / "ddp")] == [2]
    assert (tmp_path / "ddp" / "checkpoint-2" / "random_states_1.pkl").is_file()  # really two processes
    model = ExeGAN.from_pretrained(tmp_path / "ddp" / "checkpoint-2" / "exegan", precision="fp32")
    assert model.size == 32


def test_bf16_mixed_precision_step(tmp_path, data_dir, capsys):
    # step 0 has every term: R1, path length (its gradient w.r.t. W+ must survive Accelerate's fp32 output cast)
    run_train(tmp_path / "run", data_dir, "--max_train_steps", "1", "--checkpointing_steps", "1", "--tau", "0.0",
              "--mixed_precision", "bf16")
    log = capsys.readouterr().out
    values = {k: float(v) for k, v in re.findall(r"(\S+)=([-\d.e+naninf]+)", log.splitlines()[-1])}
    assert all(np.isfinite(list(values.values()))) and values["reg/path_length"] > 0 and values["loss/g_lpips"] > 0


def test_match_encoder_to_w_gives_codes_the_spread_of_w():
    from exegan.nets import Generator, StyleEncoder

    torch.manual_seed(0)
    g = Generator(size=32, style_dim=16, n_mlp=2, channel_multiplier=0.125, max_channels=16)
    enc = StyleEncoder(n_styles=g.n_latent, style_dim=16, input_size=32, units=(1, 1, 1, 1), widths=(8, 8, 16, 16)).eval()
    images = torch.rand(12, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        before = enc(images)
        w = g.mapping(torch.randn(4096, 16, generator=torch.Generator().manual_seed(3)))
    latent_avg = trainer.match_encoder_to_w(enc, g, images, seed=3)
    with torch.no_grad():
        after = enc(images)
    target = w.std(0).mean()
    assert before[:, 0].std(0).mean() < 0.2 * target  # the problem: fresh codes barely vary between faces
    for j in range(g.n_latent):
        assert after[:, j].std(0).mean() == pytest.approx(target.item(), rel=1e-4)
        # a pure rescaling: every block's codes are the fresh codes times one factor
        k = after[:, j].std(0).mean() / before[:, j].std(0).mean()
        torch.testing.assert_close(after[:, j], before[:, j] * k, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(latent_avg, w.mean(0).expand(g.n_latent, -1))


def test_attribute_judge_keeps_the_attribute_loss_off_the_joint_encoder():
    """With a joint encoder the attribute loss compares the composite's codes with the exemplar's. If the trained
    encoder scores the composite, the loss can be lowered by making all codes alike (what a 2500-step tiny run did);
    the default EMA judge gives the loss's gradient to the generator's output only."""
    import copy

    from exegan.nets import StyleEncoder

    torch.manual_seed(0)
    enc = StyleEncoder(n_styles=4, style_dim=16, input_size=32, units=(1, 1, 1, 1), widths=(8, 8, 16, 16)).eval()
    enc_ema = copy.deepcopy(enc).requires_grad_(False)
    completed = (torch.rand(2, 3, 32, 32) * 2 - 1).requires_grad_(True)
    with torch.no_grad():
        target = enc_ema(torch.rand(2, 3, 32, 32) * 2 - 1)
    grads = {}
    for judge in ("ema", "live"):
        cfg = make_config({"style_encoder": "joint", "attribute_judge": judge})
        enc.zero_grad(set_to_none=True)
        completed.grad = None
        losses.attribute_loss(trainer.attribute_judge(cfg, enc, enc_ema)(completed), target).backward()
        grads[judge] = completed.grad.clone()
        touched = [n for n, p in enc.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0]
        assert (not touched) if judge == "ema" else touched, judge
    torch.testing.assert_close(grads["ema"], grads["live"])  # same weights: the same pull on the image
    pretrained = make_config({"style_encoder": "pretrained", "style_encoder_path": "x"})
    assert trainer.attribute_judge(pretrained, enc, enc) is enc
    with pytest.raises(ValueError, match="attribute_judge"):
        make_config({"attribute_judge": "frozen"})


def _init_model(folder: Path, code_offset: float) -> None:
    """A model in our format with TINY_ARGS's architecture whose exemplar codes sit far from 0 (latent_avg)."""
    torch.manual_seed(1)
    g = trainer.Generator(**parse_args(TINY_ARGS).generator_kwargs())
    enc = trainer.StyleEncoder(n_styles=g.n_latent, style_dim=16, input_size=32, units=(1, 1, 1, 1),
                               widths=(8, 8, 16, 16))
    save_model(folder, ModelConfig(), g, enc.eval(), torch.full((g.n_latent, 16), code_offset))
    cfg = json.loads((folder / "config.json").read_text())
    cfg["generator"] |= {"size": 32, "style_dim": 16, "n_mlp": 1, "channel_multiplier": 0.125, "max_channels": 16}
    cfg["style_encoder"] |= {"n_styles": g.n_latent, "style_dim": 16, "input_size": 32, "units": [1, 1, 1, 1],
                             "widths": [8, 8, 16, 16]}
    (folder / "config.json").write_text(json.dumps(cfg))


def test_match_init_starts_a_new_encoder_at_the_init_models_codes(tmp_path):
    """encoder_init match_init: a fresh encoder's codes (plus its latent_avg) get the init model's per-latent mean
    and spread on the same faces, measured independently from the init model's own encoder."""
    _init_model(tmp_path / "init", 7.0)
    images = torch.rand(16, 3, 32, 32) * 2 - 1
    _, _, old_enc, old_avg = load_model(tmp_path / "init")
    with torch.no_grad():
        old = old_enc(images) + old_avg
    mean, spread = trainer.init_code_statistics(old_enc, old_avg, images)
    assert torch.allclose(mean, old.mean(0), atol=1e-5) and torch.allclose(spread, old.std(0).mean(-1), atol=1e-5)
    fresh = trainer.StyleEncoder(n_styles=old_enc.n_styles, style_dim=16, input_size=32, units=(1, 1, 1, 1),
                                 widths=(8, 8, 16, 16)).eval()
    latent_avg = trainer.match_encoder_to_codes(fresh, images, mean, spread)
    with torch.no_grad():
        new = fresh(images) + latent_avg
    assert torch.allclose(new.mean(0), old.mean(0), atol=1e-4)
    assert torch.allclose(new.std(0).mean(-1), old.std(0).mean(-1), rtol=1e-3)
    assert (new.mean(0) - 7).abs().max() < 1  # the init model's far-from-zero codes, not w's scale


def test_match_init_gives_latents_the_init_generator_read_from_w_the_statistics_of_w(tmp_path):
    """Moving the exemplar window (a smaller exemplar_start than the init model's): the newly exemplar-driven
    latents start at w's mean and spread (computed here from the mapping outputs), the others at the codes'."""
    _init_model(tmp_path / "init", 7.0)
    images = torch.rand(16, 3, 32, 32) * 2 - 1
    _, g, old_enc, old_avg = load_model(tmp_path / "init")
    lo, hi = g.exemplar_start, g.exemplar_start + g.n_exemplar
    assert lo == 4 and hi == g.n_latent
    w = g.mapping(torch.randn(512, g.style_dim)).detach()
    mean, spread = trainer.init_code_statistics(old_enc, old_avg, images, (lo, hi), w)
    plain_mean, plain_spread = trainer.init_code_statistics(old_enc, old_avg, images)
    assert torch.equal(mean[lo:hi], plain_mean[lo:hi]) and torch.equal(spread[lo:hi], plain_spread[lo:hi])
    for j in range(lo):
        assert torch.allclose(mean[j], w.mean(0)) and torch.isclose(spread[j], w.std(0).mean())
        assert (mean[j] - 7).abs().min() > 1  # not the codes the init generator never read


def test_match_init_and_inversion_rate_are_checked_before_training(tmp_path):
    with pytest.raises(ValueError, match="match_init needs --init_from"):
        parse_args([*TINY_ARGS, "--output_dir", str(tmp_path), "--encoder_init", "match_init"])
    with pytest.raises(ValueError, match="inversion_rate must be in"):
        parse_args([*TINY_ARGS, "--output_dir", str(tmp_path), "--inversion_rate", "1.5"])


def test_whole_image_holes_make_the_codes_rebuild_the_mirrored_ground_truth():
    from train.loss import MicroBatch, l1_term

    real = torch.rand(6, 3, 16, 16) * 2 - 1
    mask = torch.zeros(6, 1, 16, 16)
    mask[:, :, 4:12, 4:12] = 1
    m_w = confidence_mask(mask)
    mirrored = torch.tensor([True, False, True, False, True, False])
    same = trainer.whole_image_holes(real, mask, m_w, mirrored, 0.0, np.random.default_rng(0))
    assert all(torch.equal(a, b) for a, b in zip(same, (real, mask, m_w)))
    r, m, w = trainer.whole_image_holes(real, mask, m_w, mirrored, 1.0, np.random.default_rng(0))
    assert bool((m == 1).all()) and bool((w == 1).all())
    assert torch.equal(r[mirrored], real[mirrored].flip(-1)) and torch.equal(r[~mirrored], real[~mirrored])
    # rate 0.5: a per-sample draw; untouched samples keep their hole, confidence and orientation
    r, m, w = trainer.whole_image_holes(real, mask, m_w, mirrored, 0.5, np.random.default_rng(3))
    whole = (m == 1).flatten(1).all(1)
    assert 0 < int(whole.sum()) < 6
    assert torch.equal(m[~whole], mask[~whole]) and torch.equal(w[~whole], m_w[~whole])
    assert torch.equal(r[~whole], real[~whole])
    # the reconstruction gradient reaches every pixel of a whole-image hole (M_w of an all-hole mask would be 0)
    fake = torch.zeros_like(real, requires_grad=True)
    batch = MicroBatch(r, r, m, w, w, None, None, True)
    l1_term(fake * m + r * (1 - m), batch).backward()
    assert bool((fake.grad[whole] != 0).all())
    assert float(confidence_mask(torch.ones(1, 1, 16, 16)).abs().max()) == 0.0


def test_make_guided_model_runs_its_four_phases_in_one_run_folder(tmp_path, data_dir):
    """train/make_guided_model.sh: each phase resumes the previous one's last checkpoint with its own flags, and the
    result is a model with the sface encoder whose window moved from latent 1 to latent 2 in the last phase (tiny
    architecture, 1 + 1 + 1 + 1 steps)."""
    _init_model(tmp_path / "init", 3.0)
    out = tmp_path / "guided"
    env = {**os.environ, "INIT": str(tmp_path / "init"), "OUT": str(out), "GUIDE_STEPS": "1", "ID_STEPS": "2",
           "QUALITY_STEPS": "3", "STEPS": "4", "THREADS": "2", "ACCELERATE_USE_CPU": "1", "HF_HUB_OFFLINE": "1",
           "TRAIN_ARGS": " ".join(TINY_ARGS[2:] + ["--train_data_dir", str(data_dir)])}
    script = str(ROOT / "train" / "make_guided_model.sh")
    r = subprocess.run(["bash", script], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    for step in (1, 2, 3):
        assert f"resumed from {out}/checkpoint-{step} at step {step}" in r.stdout
    flags = r"--exemplar_start (\d) .*--lambda_id (\S+) --inversion_rate (\S+)"
    phases = [(re.search(flags, line).groups(), line) for line in (out / "commands.txt").read_text().splitlines()]
    assert [p for p, _ in phases] == [("1", "1.0", "0.5"), ("1", "0.1", "0.5"), ("1", "0.1", "0.0"), ("2", "0.1", "0.0")]
    assert [re.search(r"--max_train_steps (\d+)", line)[1] for _, line in phases] == ["1", "2", "3", "4"]
    assert "--learning_rate 0.0005 --lambda_seam 3.0" in phases[3][1] and "--learning_rate" not in phases[2][1]
    assert [s for s, _ in list_checkpoints(out)] == [1, 2, 3, 4]
    _, g, enc, _ = load_model(out / "checkpoint-3" / "exegan")
    assert enc.kind == "sface" and g.exemplar_start == 1
    _, g, enc, _ = load_model(out / "model")
    assert enc.kind == "sface" and g.exemplar_start == 2
    # phases out of order: one sentence, nothing trained
    r = subprocess.run(["bash", script], env=env | {"OUT": str(tmp_path / "bad"), "ID_STEPS": "5"},
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "the phases must end in order" in r.stderr and not (tmp_path / "bad").exists()
    no_init = {k: v for k, v in env.items() if k != "INIT"} | {"OUT": str(tmp_path / "bad")}
    r = subprocess.run(["bash", script], env=no_init, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "INIT must name the base model" in r.stderr and not (tmp_path / "bad").exists()
