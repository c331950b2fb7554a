"""Training configuration: one dataclass, YAML presets in ``train/configs/``, CLI flags mapping 1:1 onto fields.

Defaults follow the official implementation (reference §5) except where the paper and the README command agree
on something else (loss weights 0.1 / 0.5 / 0.1 and tau = 0.9, as in ``train_largeMask.py``).
Flag names follow the huggingface/diffusers example scripts.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

PRESETS = Path(__file__).resolve().parent / "configs"


@dataclass
class TrainConfig:
    # -- I/O --------------------------------------------------------------------------------------------------
    output_dir: str = "runs/exegan"  # checkpoints, logs, previews and the inference export go here
    train_data_dir: str = "synthetic-faces"  # an image folder (recursive), or "synthetic-faces" (offline DCGAN faces)
    resolution: int = 256  # training resolution S (power of two, 32..1024)
    random_flip: bool = True  # horizontal flips of real images (p = 0.5)
    seed: int = 1  # every random draw (data order, masks, z, noise, dropout) derives from (seed, step, process)
    report_to: str = "tensorboard"  # "tensorboard" or "none"
    logging_steps: int = 10  # log scalars every N steps
    validation_steps: int = 2000  # preview grid (masked input, exemplar, samples) every N steps; 0 = never
    preview_samples: int = 3  # samples per preview row
    # -- schedule ---------------------------------------------------------------------------------------------
    train_batch_size: int = 2  # per process (official: 2 per GPU)
    gradient_accumulation_steps: int = 1  # micro-batches per optimiser step
    max_train_steps: int = 800_000  # official iteration count
    mixed_precision: str = "no"  # "no", "fp16" or "bf16" (passed to Accelerate)
    learning_rate: float = 0.002  # before the lazy-regularisation correction
    adam_beta1: float = 0.0  # official 0 (the paper says 0.5)
    adam_beta2: float = 0.99
    ema_decay: float = 0.5 ** (32 / 10_000)  # official g_ema decay, ~0.997784
    # -- checkpoints ------------------------------------------------------------------------------------------
    checkpointing_steps: int = 500  # accelerate.save_state into output_dir/checkpoint-<step> every N steps
    checkpoints_total_limit: int | None = 3  # keep the newest K checkpoints (None = all)
    resume_from_checkpoint: str | None = None  # a checkpoint folder, or "latest"
    init_from: str | None = None  # start G from a model (our format folder/Hub repo, or the authors' EXE_GAN_model_*.pt)
    # -- generator / discriminator ----------------------------------------------------------------------------
    style_dim: int = 512
    n_mlp: int = 8
    channel_multiplier: float = 2
    max_channels: int = 512
    exemplar_start: int = 4  # official phi: latents [4, 4 + n_exemplar) are exemplar-driven
    # -- style encoder ----------------------------------------------------------------------------------------
    style_encoder: str = "pretrained"  # "pretrained" (frozen pSp, as in the paper) or "joint" (trained with G)
    style_encoder_path: str | None = None  # pretrained: psp_ffhq_encode.pt or one of our model folders
    encoder_units: tuple[int, ...] = (3, 4, 14, 3)  # joint: IR-SE units per group
    encoder_widths: tuple[int, ...] = (64, 128, 256, 512)  # joint: channels per group
    encoder_ema_decay: float = 0.999  # joint: decay of the frozen copy that judges the attribute loss
    encoder_learning_rate: float = 1e-4  # joint: Adam lr of the encoder (pSp's; it has no equalised-lr layers)
    encoder_init: str = "match_w"  # joint, fresh start: "match_w" scales each style block's output so the codes start
    #   with the spread of W and sets latent_avg = mean w (pSp's convention), so exemplars matter from step 0;
    #   "plain": PyTorch init, latent_avg = 0 (codes ~100x smaller than w: the generator learns to ignore them)
    # -- losses (paper Eq. 4-8) -------------------------------------------------------------------------------
    lambda_id: float = 0.1  # identity loss weight
    lambda_lpips: float = 0.5  # LPIPS weight (only for self-exemplar batches)
    lambda_attr: float = 0.1  # attribute loss weight
    lambda_l1: float = 0.0  # L1 to the ground truth through SVGL(M_w), self-exemplar batches only. Not in the paper:
    #                         an offline stand-in for LPIPS when no VGG16 weights are available (tiny preset)
    attribute_loss_form: str = "mse"  # "mse" (official) or "paper" (Eq. 7, per-latent L2)
    attribute_judge: str = "ema"  # joint only: which encoder scores the composite in the attribute loss. "ema": the
    #   frozen EMA copy, so the loss trains G alone, as with the official frozen pSp; "live": the trained encoder,
    #   which can then lower the loss by making every code alike (in a 2500-step tiny run its codes collapsed to
    #   an across-face std 0.2 around an offset of 7.6, against w's 0.68, and the exemplar stopped mattering)
    identity_backend: str = "sface"  # "arcface-r101" (needs arcface_path), "sface" (offline) or "none"
    arcface_path: str | None = None  # the authors' Arcface.pth
    lpips_vgg_path: str | None = None  # torchvision vgg16-397923af.pth (else the torch hub cache)
    lpips_random_backbone: bool = False  # smoke tests only: LPIPS on a random VGG
    tau: float = 0.9  # P(exemplar = another image); 1 - tau = P(exemplar = ground truth)
    r1_gamma: float = 10.0
    d_reg_every: int = 16  # lazy R1 interval
    path_regularize: float = 2.0  # path-length weight (official; 0 disables)
    path_batch_shrink: int = 2
    g_reg_every: int = 4  # lazy path-length interval
    mixing: float = 0.5  # probability of two z's (style mixing)
    # -- masks ------------------------------------------------------------------------------------------------
    mask_type: str = "stroke_rect"  # "stroke_rect" (train.py), "comod" (train_largeMask.py), "center", or "mixed"
    #   (not in the paper: center / stroke_rect / 10-60% free-form per sample, masks.mixed_mask; the tiny preset's)
    mask_per_sample: bool = False  # official: one stroke_rect mask per batch; comod and mixed are always per sample
    confidence: str = "official"  # M_w kernel: "official" (box-like) or "gaussian" (paper wording)

    def generator_kwargs(self) -> dict:
        return dict(size=self.resolution, style_dim=self.style_dim, n_mlp=self.n_mlp,
                    channel_multiplier=self.channel_multiplier, max_channels=self.max_channels,
                    exemplar_start=self.exemplar_start)


def _parse_bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected a boolean, got {text!r}")


def _converter(tp):
    """argparse type for a dataclass field annotation (str | None, tuple[int, ...], bool, ...)."""
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        inner = _converter(args[0])
        return lambda s: None if s.lower() in ("none", "null", "") else inner(s)
    if typing.get_origin(tp) is tuple:
        return lambda s: tuple(int(v) for v in s.split(","))
    return {bool: _parse_bool, int: int, float: float, str: str}[tp]


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    """``--config preset.yaml`` (or a preset name: ffhq256, ffhq512_large_masks, tiny) then ``--field value``."""
    hints = typing.get_type_hints(TrainConfig)
    p = argparse.ArgumentParser(description="Train EXE-GAN with Accelerate", argument_default=argparse.SUPPRESS)
    p.add_argument("--config", default=None, help="YAML preset (path or name in train/configs/)")
    for f in dataclasses.fields(TrainConfig):
        p.add_argument(f"--{f.name}", type=_converter(hints[f.name]), metavar=hints[f.name].__name__
                       if isinstance(hints[f.name], type) else "VALUE",
                       help=f"(default: {f.default if f.default is not dataclasses.MISSING else ''})")
    ns = vars(p.parse_args(argv))
    values = load_preset(ns.pop("config")) if ns.get("config") else {}
    ns.pop("config", None)
    values.update(ns)
    return make_config(values)


def load_preset(name_or_path: str) -> dict:
    path = Path(name_or_path)
    if not path.exists():
        path = PRESETS / (name_or_path if name_or_path.endswith(".yaml") else f"{name_or_path}.yaml")
    if not path.is_file():
        raise FileNotFoundError(f"no config {name_or_path!r} (presets: {sorted(p.stem for p in PRESETS.glob('*.yaml'))})")
    return yaml.safe_load(path.read_text()) or {}


def make_config(values: dict) -> TrainConfig:
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = set(values) - names
    if unknown:
        raise ValueError(f"unknown training options: {sorted(unknown)}")
    for key in ("encoder_units", "encoder_widths"):
        if isinstance(values.get(key), list):
            values[key] = tuple(values[key])
    cfg = TrainConfig(**values)
    checks = [(cfg.style_encoder in ("pretrained", "joint"), "style_encoder must be 'pretrained' or 'joint'"),
              (cfg.identity_backend in ("arcface-r101", "sface", "none"), "identity_backend must be arcface-r101/sface/none"),
              (cfg.identity_backend != "arcface-r101" or cfg.arcface_path, "identity_backend arcface-r101 needs --arcface_path"),
              (cfg.encoder_init in ("match_w", "plain"), "encoder_init must be match_w/plain"),
              (cfg.attribute_judge in ("ema", "live"), "attribute_judge must be ema/live"),
              (cfg.mask_type in ("stroke_rect", "comod", "center", "mixed"), "mask_type must be stroke_rect/comod/center/mixed"),
              (cfg.mixed_precision in ("no", "fp16", "bf16"), "mixed_precision must be no/fp16/bf16"),
              (0 <= cfg.tau <= 1, "tau must be in [0, 1]"),
              (cfg.train_batch_size >= 1 and cfg.gradient_accumulation_steps >= 1, "batch sizes must be >= 1")]
    for ok, message in checks:
        if not ok:
            raise ValueError(message)
    return cfg


def save_config(cfg: TrainConfig, path: Path) -> None:
    path.write_text(yaml.safe_dump({k: list(v) if isinstance(v, tuple) else v
                                    for k, v in dataclasses.asdict(cfg).items()}, sort_keys=False))
