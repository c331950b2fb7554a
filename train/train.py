"""Train EXE-GAN with Hugging Face Accelerate (paper Algorithm 1 with the official implementation's details).

    accelerate launch train/train.py --config train/configs/tiny.yaml --output_dir runs/tiny
    accelerate launch train/train.py --config ffhq256 --train_data_dir /data/ffhq --style_encoder_path psp_ffhq_encode.pt
    accelerate launch train/train.py --config tiny --resume_from_checkpoint latest

One iteration (reference §5.1): choose exemplars (the ground truth itself with probability 1 - tau, else the
batch reversed), draw masks, then a D step (logistic loss on reals vs composited fakes; lazy R1 every 16 steps), a
G step (adversarial + lambda_id L_id + lambda_attr L_attr through SVGL(M̄_w) + lambda_lpips L_lpips through
SVGL(M_w) when the exemplar is the ground truth), lazy path-length regularisation, and the EMA update.

Every random draw of step t on process r derives from (seed, t, r), so a resumed run continues exactly (same data
order, masks, z, noise and dropout) without pickled RNG states. Checkpoints are written to
``checkpoint-<step>.tmp`` and renamed when complete: a kill at any moment leaves the newest complete one usable.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import re
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

if __package__ in (None, ""):  # `accelerate launch train/train.py`: make the repo root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import exegan  # noqa: F401,E402  (torchvision guard before lpips)
from exegan import ExeGAN, GeneratorConfig, ModelConfig, StyleEncoderConfig  # noqa: E402
from exegan import losses, masks  # noqa: E402
from exegan._malloc import tune_glibc_malloc  # noqa: E402
from exegan.checkpoints import (load_model, load_official_generator, load_official_style_encoder,  # noqa: E402
                                save_model)
from exegan.confidence import confidence_mask, reverse_confidence_mask  # noqa: E402
from exegan.nets import Discriminator, Generator, StyleEncoder, composite, masked_input  # noqa: E402
from exegan.svgl import svgl  # noqa: E402
from train.config import TrainConfig, parse_args, save_config  # noqa: E402

STATE_FILE, EMA_FILE, EXPORT_DIR = "training_state.json", "ema.safetensors", "exegan"


# ------------------------------------------------------------------------------------------------------- setup
def build_style_encoder(cfg: TrainConfig, n_latent: int) -> tuple[StyleEncoder, torch.Tensor]:
    """pretrained: the frozen pSp (authors' file or our format); joint: a fresh small pSp-style encoder whose
    codes feed the generator's latents one-to-one (n_styles = n_latent), latent_avg = 0."""
    if cfg.style_encoder == "pretrained":
        if not cfg.style_encoder_path:
            raise ValueError("style_encoder=pretrained needs --style_encoder_path (psp_ffhq_encode.pt or a model "
                             "folder); use --style_encoder joint to train one with the generator")
        path = Path(cfg.style_encoder_path)
        if path.is_file():
            enc, latent_avg = load_official_style_encoder(path)
        else:
            _, _, enc, latent_avg = load_model(cfg.style_encoder_path)
        return enc.eval().requires_grad_(False), latent_avg
    enc = StyleEncoder(n_styles=n_latent, style_dim=cfg.style_dim, input_size=cfg.resolution,
                       units=cfg.encoder_units, widths=cfg.encoder_widths)
    return enc.eval(), torch.zeros(n_latent, cfg.style_dim)  # eval: BatchNorm acts as a learned affine map


@torch.no_grad()
def match_encoder_to_w(enc: StyleEncoder, g: Generator, images: torch.Tensor, seed: int, n_z: int = 4096
                       ) -> torch.Tensor:
    """``encoder_init: match_w`` (not in the paper). A fresh encoder's codes are ~100x smaller than mapping-network
    outputs w and nearly identical across faces, so the generator would learn to ignore its exemplar latents.
    Rescale each style block's final linear layer so that its codes for ``images`` have the mean per-dimension
    standard deviation of w, and return latent_avg = mean w (codes are offsets from it, as in pSp)."""
    z = torch.randn(n_z, g.style_dim, generator=torch.Generator().manual_seed(seed))  # on CPU: same on every device
    w = g.mapping(z.to(images.device))
    target = w.std(0).mean()
    c = enc(images)  # [B, n_styles, D]
    for j, block in enumerate(enc.styles):
        scale = target / c[:, j].std(0).mean().clamp_min(1e-8)
        block.linear.weight.mul_(scale)
        block.linear.bias.mul_(scale)
    return w.mean(0).expand(enc.n_styles, -1).clone()


def build_identity(cfg: TrainConfig):
    """Returns f(output, exemplar) -> identity loss, or None."""
    if cfg.identity_backend == "none" or cfg.lambda_id == 0:
        return None
    if cfg.identity_backend == "arcface-r101":
        from exegan.checkpoints import load_arcface
        from exegan.nets import identity_loss

        net = load_arcface(cfg.arcface_path)
        return net, lambda out, ex: identity_loss(net, out, ex)
    from exegan.sface import load_sface, sface_identity_loss

    net = load_sface()
    return net, lambda out, ex: sface_identity_loss(net, out, ex)


def build_dataset(cfg: TrainConfig):
    from train.data import ImageFolderDataset, SyntheticFaces

    if cfg.train_data_dir == "synthetic-faces":
        return SyntheticFaces(resolution=cfg.resolution, seed=cfg.seed)
    return ImageFolderDataset(cfg.train_data_dir, cfg.resolution, random_flip=cfg.random_flip)


def step_rng(cfg: TrainConfig, step: int, rank: int, stream: int) -> np.random.Generator:
    """Independent numpy stream for (seed, step, process, purpose)."""
    return np.random.default_rng([cfg.seed, step, rank, stream])


@functools.lru_cache(maxsize=2)
def _epoch_permutation(seed: int, epoch: int, n_items: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch, 7]).permutation(n_items)


def batch_indices(cfg: TrainConfig, n_items: int, step: int, micro: int, rank: int, world: int
                  ) -> list[tuple[int, int]]:
    """(item, epoch) pairs of micro-batch ``micro`` of step ``step`` on process ``rank``: consecutive slices of a
    per-epoch permutation seeded by (seed, epoch), so data order (and each epoch's flips) depend on the step only."""
    b = cfg.train_batch_size
    start = ((step * cfg.gradient_accumulation_steps + micro) * world + rank) * b
    return [(int(_epoch_permutation(cfg.seed, pos // n_items, n_items)[pos % n_items]), pos // n_items)
            for pos in range(start, start + b)]


def make_masks(cfg: TrainConfig, rng: np.random.Generator, batch: int) -> torch.Tensor:
    """[B, 1, S, S], 1 = hole: stroke_rect shared by the batch (official train.py) unless mask_per_sample,
    CoMod masks per sample (train_largeMask.py), the fixed center mask, or the per-sample mix (masks.mixed_mask)."""
    per_sample = cfg.mask_per_sample or cfg.mask_type in ("comod", "mixed")
    n = batch if per_sample else 1
    ms = [masks.make_mask(cfg.mask_type, cfg.resolution, rng) for _ in range(n)]
    return masks.to_tensor(ms).expand(batch, -1, -1, -1).contiguous()


def attribute_judge(cfg: TrainConfig, enc: StyleEncoder, enc_ema: StyleEncoder) -> StyleEncoder:
    """The encoder that scores the composite in the attribute loss (``TrainConfig.attribute_judge``): a frozen
    pretrained encoder is its own judge; a joint one is judged by its EMA copy unless ``attribute_judge`` is live."""
    return enc_ema if cfg.style_encoder == "joint" and cfg.attribute_judge == "ema" else enc


def accumulate(target: torch.nn.Module, source: torch.nn.Module, decay: float) -> None:
    """EMA over named parameters only (official: buffers are not averaged)."""
    src = dict(source.named_parameters())
    with torch.no_grad():
        for name, p in target.named_parameters():
            p.lerp_(src[name].detach().to(p.dtype), 1 - decay)


def average_gradients(module: torch.nn.Module, accelerator) -> None:
    """All-reduce (mean) the gradients of a module that is not wrapped in DDP."""
    if accelerator.num_processes > 1:
        for p in module.parameters():
            if p.grad is not None:
                torch.distributed.all_reduce(p.grad)
                p.grad /= accelerator.num_processes


def check_finite(step: int, **terms: torch.Tensor) -> None:
    for name, value in terms.items():
        if not torch.isfinite(value).all():
            raise FloatingPointError(f"non-finite {name} ({value.item()}) at step {step}: stopping; the last "
                                     "complete checkpoint is kept (lower the learning rate or check the data)")


# ------------------------------------------------------------------------------------------------- checkpoints
def list_checkpoints(output_dir: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints (checkpoint-<step> holding the training state), oldest first."""
    found = []
    for p in output_dir.glob("checkpoint-*"):
        m = re.fullmatch(r"checkpoint-(\d+)", p.name)
        if m and (p / STATE_FILE).is_file():
            found.append((int(m.group(1)), p))
    return sorted(found)


def set_optimizer_hparams(cfg: TrainConfig, g_optim: torch.optim.Adam, d_optim: torch.optim.Adam) -> None:
    """Learning rates and betas from ``cfg``, with StyleGAN2's lazy-regularisation correction (lr * k / (k + 1),
    beta ** (k / (k + 1)) for a regulariser every k steps). The joint style encoder (G's second group, plain
    layers) keeps pSp's own ``encoder_learning_rate`` and betas (0.9, 0.999). Called again after a resume, since
    ``load_state`` restores the optimizers' saved hyperparameters: a run resumed with new rates uses the new ones."""
    g_ratio, d_ratio = cfg.g_reg_every / (cfg.g_reg_every + 1), cfg.d_reg_every / (cfg.d_reg_every + 1)
    for optim, ratio in ((g_optim, g_ratio), (d_optim, d_ratio)):
        for group in optim.param_groups:
            group["lr"], group["betas"] = cfg.learning_rate * ratio, (cfg.adam_beta1 ** ratio, cfg.adam_beta2 ** ratio)
    if len(g_optim.param_groups) > 1:
        g_optim.param_groups[1]["lr"], g_optim.param_groups[1]["betas"] = cfg.encoder_learning_rate, (0.9, 0.999)


def resolve_resume(cfg: TrainConfig) -> Path | None:
    if not cfg.resume_from_checkpoint:
        return None
    if cfg.resume_from_checkpoint == "latest":
        found = list_checkpoints(Path(cfg.output_dir))
        return found[-1][1] if found else None  # nothing yet: start fresh (diffusers behaviour)
    path = Path(cfg.resume_from_checkpoint)
    if not (path / STATE_FILE).is_file():
        raise FileNotFoundError(f"{path} is not a complete checkpoint (no {STATE_FILE})")
    return path


def export_model(out: Path, cfg: TrainConfig, g_ema: Generator, enc: StyleEncoder, latent_avg: torch.Tensor,
                 step: int) -> None:
    """Inference-ready model (config.json + model.safetensors) loadable by ExeGAN.from_pretrained and the app."""
    config = ModelConfig(GeneratorConfig(**cfg.generator_kwargs()),
                         StyleEncoderConfig(n_styles=enc.n_styles, style_dim=enc.style_dim, input_size=enc.input_size,
                                            units=enc.units, widths=enc.widths),
                         name=f"exegan {Path(cfg.output_dir).name} step {step}",
                         license="see the training data's licence",
                         source=f"trained with train/train.py on {cfg.train_data_dir}, {step} steps")
    save_model(out, config, g_ema, enc, latent_avg)


# -------------------------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> None:
    cfg = parse_args(argv)
    from accelerate import Accelerator
    from accelerate.utils import ProjectConfiguration

    out_dir = Path(cfg.output_dir)
    accelerator = Accelerator(mixed_precision=cfg.mixed_precision,
                              log_with=None if cfg.report_to == "none" else cfg.report_to,
                              project_config=ProjectConfiguration(project_dir=str(out_dir),
                                                                  logging_dir=str(out_dir / "logs")))
    rank, world, device = accelerator.process_index, accelerator.num_processes, accelerator.device
    if device.type == "cpu":
        tune_glibc_malloc()
    torch.manual_seed(cfg.seed)  # identical initial weights on every process

    g = Generator(**cfg.generator_kwargs())
    d = Discriminator(cfg.resolution, cfg.channel_multiplier, max_channels=cfg.max_channels)
    if cfg.init_from:
        src = Path(cfg.init_from)
        init = load_official_generator(src) if src.is_file() else load_model(cfg.init_from)[1]
        g.load_state_dict(init.state_dict(), strict=True)
    enc, latent_avg = build_style_encoder(cfg, g.n_latent)
    lo, hi = g.exemplar_start, g.exemplar_start + g.n_exemplar
    if enc.n_styles < hi:
        raise ValueError(f"the style encoder gives {enc.n_styles} codes, the generator needs latents up to {hi - 1}")
    joint = cfg.style_encoder == "joint"
    g_ema = copy.deepcopy(g).eval().requires_grad_(False)
    enc_ema = copy.deepcopy(enc).requires_grad_(False) if joint else enc
    latent_avg = latent_avg.to(device)

    g_groups = [{"params": list(g.parameters())}] + ([{"params": list(enc.parameters())}] if joint else [])
    g_optim, d_optim = torch.optim.Adam(g_groups), torch.optim.Adam(d.parameters())
    set_optimizer_hparams(cfg, g_optim, d_optim)
    # The joint encoder is not wrapped in DDP: it computes only the style blocks the generator uses (the others
    # get no gradient) and runs twice per G step; its gradients are averaged by hand (average_gradients).
    g, d, g_optim, d_optim = accelerator.prepare(g, d, g_optim, d_optim)
    enc = enc.to(device)
    g_ema, enc_ema = g_ema.to(device), enc_ema.to(device)

    from exegan.perceptual import load_lpips

    lpips_net = load_lpips(cfg.lpips_vgg_path, allow_random_backbone=cfg.lpips_random_backbone).to(device) \
        if cfg.lambda_lpips > 0 else None
    identity = build_identity(cfg)
    id_loss = None
    if identity is not None:
        identity[0].to(device)
        id_loss = identity[1]
    dataset = build_dataset(cfg)

    start_step, mean_path_length = 0, torch.zeros((), device=device)
    resume = resolve_resume(cfg)
    if resume is not None:
        accelerator.load_state(str(resume))
        from safetensors.torch import load_file

        ema = load_file(str(resume / EMA_FILE), device=str(device))
        g_ema.load_state_dict({k[2:]: v for k, v in ema.items() if k.startswith("g.")}, strict=True)
        if joint:
            enc_ema.load_state_dict({k[2:]: v for k, v in ema.items() if k.startswith("e.")}, strict=True)
            enc.load_state_dict({k[4:]: v for k, v in ema.items() if k.startswith("enc.")}, strict=True)
            if "latent_avg" in ema:
                latent_avg = ema["latent_avg"].to(device)
        state = json.loads((resume / STATE_FILE).read_text())
        start_step, mean_path_length = state["step"], torch.tensor(state["mean_path_length"], device=device)
        set_optimizer_hparams(cfg, g_optim, d_optim)  # the flags of this run win over the checkpoint's
        accelerator.print(f"resumed from {resume} at step {start_step}")
    else:
        if joint and cfg.encoder_init == "match_w":
            probe = torch.stack([dataset[i] for i in range(min(len(dataset), 64))]).to(device)
            latent_avg = match_encoder_to_w(enc, accelerator.unwrap_model(g), probe, cfg.seed)
            enc_ema.load_state_dict(enc.state_dict())
    if accelerator.is_main_process:  # the flags of the newest invocation (a resume may change some)
        out_dir.mkdir(parents=True, exist_ok=True)
        save_config(cfg, out_dir / "train_config.yaml")
    if accelerator.is_main_process and cfg.report_to != "none":
        accelerator.init_trackers("exegan", config={k: str(v) for k, v in vars(cfg).items()})

    g_raw, d_raw = accelerator.unwrap_model(g), accelerator.unwrap_model(d)
    preview = ExeGAN(g_ema, enc_ema, latent_avg, device=device) if accelerator.is_main_process else None
    k_micro, b = cfg.gradient_accumulation_steps, cfg.train_batch_size
    t_last, logs = time.perf_counter(), {}

    def codes(encoder, images):
        return encoder(images, indices=range(lo, hi)) + latent_avg[lo:hi]

    def mixing_z(n):
        return [torch.randn(n, cfg.style_dim, device=device) for _ in range(2 if np.random.random() < cfg.mixing else 1)]

    for step in range(start_step, cfg.max_train_steps):
        torch.manual_seed(hash((cfg.seed, step, rank)) % 2 ** 63)  # z, noise maps, dropout of this step
        np.random.seed([cfg.seed, step, rank, 3])
        self_exemplar = np.random.random() < 1 - cfg.tau  # official: decided per iteration for the batch
        micro = []
        for m in range(k_micro):
            idx = batch_indices(cfg, len(dataset), step, m, rank, world)
            real = torch.stack([dataset.get(i, epoch=e) for i, e in idx]).to(device)
            exemplar = real if self_exemplar else torch.flip(real, [0])
            mask = make_masks(cfg, step_rng(cfg, step, rank, m), real.shape[0]).to(device)
            m_w = confidence_mask(mask, kind=cfg.confidence)
            micro.append((real, exemplar, mask, m_w, reverse_confidence_mask(m_w, mask)))

        # ---- D step: logistic loss on reals vs composited fakes (G frozen)
        d.requires_grad_(True)
        d_total = torch.zeros((), device=device)
        for real, exemplar, mask, _, _ in micro:
            with torch.no_grad(), accelerator.autocast():
                fake = g_raw(masked_input(real, mask), codes(enc, exemplar), mixing_z(real.shape[0]))
                completed = composite(fake.float(), real, mask)
            with accelerator.autocast():
                d_loss = losses.d_logistic_loss(d(real).float(), d(completed).float())
            check_finite(step, d_loss=d_loss)
            accelerator.backward(d_loss / k_micro)
            d_total += d_loss.detach() / k_micro
        d_optim.step()
        d_optim.zero_grad(set_to_none=True)
        logs["loss/d"] = d_total
        if step % cfg.d_reg_every == 0:  # lazy R1, in fp32
            real = micro[0][0].detach().requires_grad_(True)
            real_pred = d(real)
            r1 = losses.d_r1_loss(real_pred, real)
            check_finite(step, r1=r1)
            accelerator.backward(cfg.r1_gamma / 2 * r1 * cfg.d_reg_every + 0 * real_pred[0, 0])
            d_optim.step()
            d_optim.zero_grad(set_to_none=True)
            logs["reg/r1"] = r1.detach()
        d.requires_grad_(False)

        # ---- G step
        totals = {}
        for real, exemplar, mask, m_w, m_rev in micro:
            with accelerator.autocast():
                e = codes(enc, exemplar)
                fake = g(masked_input(real, mask), e, mixing_z(real.shape[0]))
                completed = composite(fake.float(), real, mask)
                terms = {"adv": losses.g_nonsaturating_loss(d_raw(completed).float())}  # D frozen: no DDP sync
                if cfg.lambda_attr > 0:  # exemplar codes of the composite through SVGL(M̄_w) vs the exemplar's
                    target = codes(enc_ema, exemplar).detach() if joint else e.detach()
                    terms["attr"] = cfg.lambda_attr * losses.attribute_loss(
                        codes(attribute_judge(cfg, enc, enc_ema), svgl(completed, m_rev)).float(), target.float(),
                        cfg.attribute_loss_form)
                if id_loss is not None:
                    terms["id"] = cfg.lambda_id * id_loss(completed, exemplar)
                if lpips_net is not None and self_exemplar:
                    terms["lpips"] = cfg.lambda_lpips * losses.lpips_loss(lpips_net, completed, real, m_w)
                if cfg.lambda_l1 > 0 and self_exemplar:
                    terms["l1"] = cfg.lambda_l1 * losses.l1_loss(completed, real, m_w)
            check_finite(step, **{f"loss/{k}": v for k, v in terms.items()})
            g_loss = sum(terms.values())
            accelerator.backward(g_loss / k_micro)
            for k, v in terms.items():
                totals[k] = totals.get(k, 0) + v.detach() / k_micro
        if joint:
            average_gradients(enc, accelerator)
        g_optim.step()
        g_optim.zero_grad(set_to_none=True)
        logs.update({f"loss/g_{k}": v for k, v in totals.items()})

        if cfg.path_regularize > 0 and cfg.g_reg_every > 0 and step % cfg.g_reg_every == 0:  # in fp32
            real, exemplar, mask = micro[0][:3]
            pb = max(1, real.shape[0] // cfg.path_batch_shrink)
            fake, latents = g(masked_input(real[:pb], mask[:pb]), codes(enc, exemplar[:pb]).detach(),
                              mixing_z(pb), return_latents=True)
            penalty, mean_path_length, path_len = losses.g_path_regularize(fake, latents, mean_path_length)
            check_finite(step, path_length=penalty)
            accelerator.backward(cfg.path_regularize * cfg.g_reg_every * penalty + 0 * fake[0, 0, 0, 0])
            g_optim.step()
            g_optim.zero_grad(set_to_none=True)
            mean_path_length = accelerator.reduce(mean_path_length, "mean")
            logs["reg/path_length"] = path_len

        accumulate(g_ema, g_raw, cfg.ema_decay)
        if joint:
            accumulate(enc_ema, enc, cfg.encoder_ema_decay)
        done = step + 1

        if done % cfg.logging_steps == 0 or done == cfg.max_train_steps:
            now = time.perf_counter()
            scalars = {k: accelerator.reduce(v.detach().float(), "mean").item() for k, v in logs.items()}
            scalars["lr/g"], scalars["lr/d"] = g_optim.param_groups[0]["lr"], d_optim.param_groups[0]["lr"]
            scalars["speed/images_per_s"] = cfg.logging_steps * b * k_micro * world / max(now - t_last, 1e-9)
            t_last = now
            if cfg.report_to != "none":
                accelerator.log(scalars, step=done)
            accelerator.print(f"step {done}: " + " ".join(f"{k}={v:.4g}" for k, v in sorted(scalars.items())))
        if preview is not None and cfg.validation_steps and done % cfg.validation_steps == 0:
            save_preview(preview, micro[0], cfg, done, out_dir, accelerator)
        if done % cfg.checkpointing_steps == 0 or done == cfg.max_train_steps:
            save_checkpoint(accelerator, cfg, out_dir, done, g_ema, enc_ema if joint else enc, enc,
                            latent_avg, mean_path_length, joint)

    if accelerator.is_main_process:
        export_model(out_dir / "model", cfg, g_ema, enc_ema if joint else enc, latent_avg.cpu(), cfg.max_train_steps)
    accelerator.wait_for_everyone()
    accelerator.end_training()


def save_checkpoint(accelerator, cfg: TrainConfig, out_dir: Path, step: int, g_ema, enc_export, enc_train,
                    latent_avg, mean_path_length, joint: bool) -> None:
    """accelerate.save_state + EMA weights + training state + an inference export, written to a temporary
    folder and renamed once complete; then prune to ``checkpoints_total_limit``."""
    from safetensors.torch import save_file

    final, tmp = out_dir / f"checkpoint-{step}", out_dir / f"checkpoint-{step}.tmp"
    if accelerator.is_main_process and tmp.exists():
        shutil.rmtree(tmp)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    if accelerator.is_main_process:
        ema = {f"g.{k}": v.detach().cpu().contiguous() for k, v in g_ema.state_dict().items()}
        if joint:  # the EMA encoder, and the trained one (not an Accelerate-prepared model)
            ema |= {f"e.{k}": v.detach().cpu().contiguous() for k, v in enc_export.state_dict().items()}
            ema |= {f"enc.{k}": v.detach().cpu().contiguous() for k, v in enc_train.state_dict().items()}
            ema["latent_avg"] = latent_avg.detach().cpu().contiguous()
        save_file(ema, str(tmp / EMA_FILE))
        export_model(tmp / EXPORT_DIR, cfg, g_ema, enc_export, latent_avg.cpu(), step)
        (tmp / STATE_FILE).write_text(json.dumps({"step": step, "mean_path_length": float(mean_path_length)}))
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)  # the checkpoint becomes visible only once complete
        if cfg.checkpoints_total_limit:
            for _, old in list_checkpoints(out_dir)[:-cfg.checkpoints_total_limit]:
                shutil.rmtree(old)
    accelerator.wait_for_everyone()


def save_preview(model: ExeGAN, batch, cfg: TrainConfig, step: int, out_dir: Path, accelerator) -> None:
    """Grid through the inference pipeline (EMA weights): rows = masked input, exemplar, samples."""
    from PIL import Image

    real, exemplar, mask = (t[:4] for t in batch[:3])
    rows = []
    for i in range(real.shape[0]):
        codes = model.exemplar_codes([exemplar[i]])
        rnd = model.sample_randomness(cfg.preview_samples, seed=i)
        out = model.generate(real[i:i + 1], mask[i:i + 1], codes, model.resolve_phi(None), rnd)
        shown = real[i:i + 1] * (1 - mask[i:i + 1])
        rows.append(torch.cat([shown, exemplar[i:i + 1], out], 0))
    grid = torch.cat([torch.cat(list(r), 2) for r in rows], 1)  # [3, rows*S, cols*S]
    arr = ((grid.clamp(-1, 1) + 1) * 127.5 + 0.5).byte().permute(1, 2, 0).cpu().numpy()
    (out_dir / "previews").mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(out_dir / "previews" / f"step-{step:07d}.png")
    if cfg.report_to == "tensorboard":
        accelerator.get_tracker("tensorboard").writer.add_image("preview", arr, step, dataformats="HWC")


if __name__ == "__main__":
    main()
