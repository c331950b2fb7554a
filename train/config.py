"""Training configuration: one dataclass with the architecture nested in it, YAML presets in ``train/configs/``, and
command-line flags mapping 1:1 onto fields (flag names as in the huggingface/diffusers example scripts).

Defaults follow the authors' code (docs/official-implementation.md §5) except where the paper and their README
command agree on something else (loss weights 0.1 / 0.5 / 0.1 and tau = 0.9, as in ``train_largeMask.py``). Every
field's documentation is declared next to it and printed by ``--help``.

Flags are flat: the generator's fields keep their names (``--style_dim``; its ``size`` is ``--resolution``), the
exemplar encoder's architecture fields take an ``encoder_`` prefix (``--encoder_units``). Presets and the saved
``train_config.yaml`` use the same flat names.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from exegan.config import GeneratorConfig, StyleEncoderConfig, documented, field_help

PRESETS = Path(__file__).resolve().parent / "configs"

# Encoder fields that training derives (kind from style_encoder, n_styles = n_latent, style_dim and input_size from
# the generator), so they have no flag.
DERIVED_ENCODER_FIELDS = ("kind", "n_styles", "style_dim", "input_size")


@dataclass
class TrainConfig:
    # -- I/O --------------------------------------------------------------------------------------------------
    output_dir: str = documented("runs/exegan", "checkpoints, logs, previews and the inference export go here")
    train_data_dir: str = documented("synthetic-faces", "an image folder (searched recursively), or "
                                     "'synthetic-faces' for the offline DCGAN faces (exegan.synthetic_faces)")
    random_flip: bool = documented(True, "mirror real images horizontally with p = 0.5")
    seed: int = documented(1, "every random draw (data order, masks, z, noise, dropout) derives from "
                           "(seed, step, process)")
    report_to: str = documented("tensorboard", "where scalars and previews are logged", choices=("tensorboard", "none"))
    logging_steps: int = documented(10, "log scalars every N steps")
    validation_steps: int = documented(2000, "preview grid (masked input, exemplar, samples) every N steps; 0 = never")
    preview_samples: int = documented(3, "samples per preview row")
    progress_bar: bool = documented(True, "a step bar on stderr (main process; losses and images/s as postfix) "
                                    "when stderr is a terminal or EXEGAN_PROGRESS=1; false or EXEGAN_PROGRESS=0 "
                                    "hides it")
    # -- architecture -----------------------------------------------------------------------------------------
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    encoder: StyleEncoderConfig = field(default_factory=StyleEncoderConfig)
    # -- schedule ---------------------------------------------------------------------------------------------
    train_batch_size: int = documented(2, "images per process and micro-batch (official: 2 per GPU)")
    gradient_accumulation_steps: int = documented(1, "micro-batches per optimiser step")
    max_train_steps: int = documented(800_000, "optimiser steps in total (official: 800k)")
    mixed_precision: str = documented("no", "autocast precision (passed to Accelerate)", choices=("no", "fp16", "bf16"))
    learning_rate: float = documented(0.002, "Adam lr of G and D, before the lazy-regularisation correction")
    adam_beta1: float = documented(0.0, "Adam beta1 (official 0; the paper says 0.5)")
    adam_beta2: float = documented(0.99, "Adam beta2")
    ema_decay: float = documented(0.5 ** (32 / 10_000), "decay of the generator's EMA copy (official ~0.997784)")
    # -- checkpoints ------------------------------------------------------------------------------------------
    checkpointing_steps: int = documented(500, "save output_dir/checkpoint-<step> every N steps")
    checkpoints_total_limit: int | None = documented(3, "keep the newest K checkpoints (none = all)")
    resume_from_checkpoint: str | None = documented(None, "a checkpoint folder, or 'latest' (start fresh if none)")
    init_from: str | None = documented(None, "start G from a model: our format (folder or Hub repo) or the authors' "
                                       "EXE_GAN_model_*.pt")
    move_exemplar_window: bool = documented(
        False, "allow resuming a checkpoint trained with another exemplar window (exemplar_start / n_exemplar): "
        "every tensor fits either way, only which latents take the exemplar's codes changes (the last phase of "
        "train/make_guided_model.sh); off, such a resume is refused as a likely wrong flag")
    # -- exemplar encoder ---------------------------------------------------------------------------------------
    style_encoder: str = documented(
        "pretrained", "pretrained: the frozen pSp, as in the paper (needs style_encoder_path); joint: a pSp-style "
        "encoder trained with G from random weights; sface: trained heads on the frozen SFace face recogniser, so "
        "the codes carry identity from step 0 (docs/official-implementation.md, 'Exemplar encoders')",
        choices=("pretrained", "joint", "sface"))
    style_encoder_path: str | None = documented(None, "pretrained: psp_ffhq_encode.pt or one of our model folders")
    encoder_ema_decay: float = documented(0.999, "joint/sface: decay of the encoder's EMA copy (the exported "
                                          "encoder, and the attribute loss's judge)")
    encoder_learning_rate: float = documented(1e-4, "joint/sface: Adam lr of the trained encoder layers (pSp's)")
    encoder_init: str = documented(
        "match_w", "joint/sface, fresh start: match_w scales each style head so that the codes start with the "
        "spread of w, and sets latent_avg = mean w (codes are offsets from it, as in pSp); plain: PyTorch init "
        "and latent_avg = 0 (codes ~100x smaller than w, which G then learns to ignore); match_init (with "
        "init_from, a model folder): the codes start with the init model's own exemplar codes' per-latent mean and "
        "spread, so a fine-tune with a new encoder keeps what the generator learned",
        choices=("match_w", "plain", "match_init"))
    # -- losses (paper Eq. 4-8) -------------------------------------------------------------------------------
    lambda_id: float = documented(0.1, "weight of the identity loss L_id (Eq. 5)")
    lambda_lpips: float = documented(0.5, "weight of the LPIPS loss (Eq. 6; self-exemplar batches only)")
    lambda_attr: float = documented(0.1, "weight of the attribute loss L_attr (Eq. 7)")
    lambda_l1: float = documented(0.0, "not in the paper: weight of an L1 loss to the ground truth through "
                                  "SVGL(M_w) on self-exemplar batches, an offline stand-in for LPIPS when no VGG16 "
                                  "weights are available")
    lambda_seam: float = documented(0.0, "not in the paper: weight of L_seam, the composite's locally averaged colour "
                                    "error on the hole's inner rim (exegan.losses.seam_loss), on every batch, self- or "
                                    "cross-exemplar: the fill continues the context's colour at the border whoever the "
                                    "exemplar is")
    seam_width: int = documented(2, "L_seam: width of the hole's inner rim, pixels (1-16)")
    attribute_loss_form: str = documented("mse", "mse: the authors' code; paper: Eq. 7's per-latent L2",
                                          choices=("mse", "paper"))
    attribute_judge: str = documented(
        "ema", "joint/sface: the encoder that scores the composite in L_attr. ema: its frozen EMA copy, so L_attr "
        "trains G alone, like the official frozen pSp; live: the trained encoder, which can then lower L_attr by "
        "making all codes alike", choices=("ema", "live"))
    identity_backend: str = documented("sface", "the identity network of L_id: arcface-r101 (needs arcface_path), "
                                       "sface (offline) or none", choices=("arcface-r101", "sface", "none"))
    arcface_path: str | None = documented(None, "the authors' Arcface.pth")
    lpips_vgg_path: str | None = documented(None, "torchvision's vgg16-397923af.pth (else the torch hub cache)")
    lpips_random_backbone: bool = documented(False, "smoke tests only: LPIPS on a random VGG")
    tau: float = documented(0.9, "P(exemplar = another face); with 1 - tau the ground truth is its own exemplar")
    exemplar_jitter: float = documented(
        0.0, "not in the paper: strength of the random colour change and flip applied to the ground truth when it "
        "is its own exemplar (0 = the official unchanged copy); the exemplar's colours then stop predicting the "
        "hole, so G takes colour from the context and the person from the codes")
    inversion_rate: float = documented(
        0.0, "not in the paper: on self-exemplar steps, the fraction of samples whose hole is the whole image, so "
        "G must rebuild the face from the exemplar's codes alone (the reconstruction terms at full weight there, "
        "the ground truth mirrored with its exemplar): trains the style encoder to invert G, the job the "
        "pretrained pSp does in the paper, so the codes carry the person instead of the context doing so")
    r1_gamma: float = documented(10.0, "R1 weight gamma (Eq. 4)")
    d_reg_every: int = documented(16, "lazy R1 interval")
    path_regularize: float = documented(2.0, "path-length weight (official; 0 disables)")
    path_batch_shrink: int = documented(2, "path-length batch = batch // this")
    g_reg_every: int = documented(4, "lazy path-length interval")
    mixing: float = documented(0.5, "probability of two z's (style mixing)")
    # -- masks ------------------------------------------------------------------------------------------------
    mask_type: str = documented(
        "stroke_rect", "stroke_rect (train.py), comod (train_largeMask.py), center, or mixed (not in the paper: "
        "center / stroke_rect / 10-60% free-form per sample, exegan.masks.mixed_mask)",
        choices=("stroke_rect", "comod", "center", "mixed"))
    mask_per_sample: bool = documented(False, "one mask per sample (official: one stroke_rect mask per batch; comod "
                                       "and mixed are always per sample)")
    confidence: str = documented("official", "M_w kernel: official (box-like) or gaussian (the paper's wording)",
                                 choices=("official", "gaussian"))

    @property
    def resolution(self) -> int:
        """Training resolution S (the generator's size)."""
        return self.generator.size

    @property
    def style_dim(self) -> int:
        return self.generator.style_dim

    def generator_kwargs(self) -> dict:
        """Arguments of :class:`exegan.nets.Generator`."""
        return dataclasses.asdict(self.generator)

    def encoder_config(self, n_latent: int) -> StyleEncoderConfig:
        """The trained encoder's architecture (joint/sface): one code per generator latent."""
        kind = "sface" if self.style_encoder == "sface" else "psp"
        return dataclasses.replace(self.encoder, kind=kind, n_styles=n_latent, style_dim=self.generator.style_dim,
                                   input_size=self.generator.size)


# ------------------------------------------------------------------------------------------------------- flags
@dataclass(frozen=True)
class Option:
    """One flat flag: ``name`` on the command line and in YAML, ``path`` the (container, field) it sets."""

    name: str
    path: tuple[str, ...]
    field: dataclasses.Field
    annotation: typing.Any


def options() -> list[Option]:
    """Every flag of :class:`TrainConfig`, nested fields flattened (see the module docstring)."""
    out = []
    hints = typing.get_type_hints(TrainConfig)
    for f in dataclasses.fields(TrainConfig):
        if f.name == "generator":
            gh = typing.get_type_hints(GeneratorConfig)
            out += [Option("resolution" if g.name == "size" else g.name, ("generator", g.name), g, gh[g.name])
                    for g in dataclasses.fields(GeneratorConfig)]
        elif f.name == "encoder":
            eh = typing.get_type_hints(StyleEncoderConfig)
            out += [Option(f"encoder_{e.name}", ("encoder", e.name), e, eh[e.name])
                    for e in dataclasses.fields(StyleEncoderConfig) if e.name not in DERIVED_ENCODER_FIELDS]
        else:
            out.append(Option(f.name, (f.name,), f, hints[f.name]))
    return out


def _parse_bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected a boolean, got {text!r}")


def _converter(tp):
    """argparse type for a field annotation (str | None, tuple[int, ...], bool, ...)."""
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        inner = _converter(args[0])
        return lambda s: None if s.lower() in ("none", "null", "") else inner(s)
    if typing.get_origin(tp) is tuple:
        return lambda s: tuple(int(v) for v in s.split(","))
    return {bool: _parse_bool, int: int, float: float, str: str}[tp]


def _default_text(opt: Option) -> str:
    value = opt.field.default
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Train EXE-GAN with Hugging Face Accelerate. Flags override the "
                                "preset given by --config, which overrides the defaults shown.",
                                argument_default=argparse.SUPPRESS)
    p.add_argument("--config", default=None, help="YAML preset: a path, or a name in train/configs/ "
                   f"({', '.join(sorted(q.stem for q in PRESETS.glob('*.yaml')))})")
    for opt in options():
        tp = opt.annotation
        choices = opt.field.metadata.get("choices") or None
        metavar = "{" + ",".join(choices) + "}" if choices else \
            ("N,N,..." if typing.get_origin(tp) is tuple else tp.__name__ if isinstance(tp, type) else "VALUE")
        p.add_argument(f"--{opt.name}", type=_converter(tp), choices=choices, metavar=metavar,
                       help=f"{field_help(opt.field)} (default: {_default_text(opt)})".replace("%", "%%"))
    return p


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    """``--config preset.yaml`` (or a preset name: ffhq256, ffhq512_large_masks, tiny) then ``--flag value``."""
    ns = vars(build_parser().parse_args(argv))
    preset = ns.pop("config", None)
    values = load_preset(preset) if preset else {}
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
    """A :class:`TrainConfig` from flat option values (YAML or flags), checked."""
    by_name = {opt.name: opt for opt in options()}
    unknown = set(values) - set(by_name)
    if unknown:
        raise ValueError(f"unknown training options: {sorted(unknown)}")
    top, nested = {}, {"generator": {}, "encoder": {}}
    for name, value in values.items():
        opt = by_name[name]
        if isinstance(value, list):
            value = tuple(value)
        choices = opt.field.metadata.get("choices")
        if choices and value not in choices:
            raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
        (nested[opt.path[0]] if len(opt.path) == 2 else top)[opt.path[-1]] = value
    base = TrainConfig()
    cfg = TrainConfig(**top, generator=dataclasses.replace(base.generator, **nested["generator"]),
                      encoder=dataclasses.replace(base.encoder, **nested["encoder"]))
    checks = [(cfg.identity_backend != "arcface-r101" or cfg.arcface_path, "identity_backend arcface-r101 needs "
               "--arcface_path"),
              (cfg.exemplar_jitter >= 0, "exemplar_jitter must be >= 0"),
              (0 <= cfg.tau <= 1, "tau must be in [0, 1]"),
              (0 <= cfg.inversion_rate <= 1, "inversion_rate must be in [0, 1]"),
              (cfg.lambda_seam >= 0 and 1 <= cfg.seam_width <= 16, "lambda_seam must be >= 0 and seam_width in 1-16"),
              (cfg.encoder_init != "match_init" or (cfg.init_from and not Path(cfg.init_from).is_file()),
               "encoder_init match_init needs --init_from with a model folder (our format) whose codes it matches"),
              (cfg.train_batch_size >= 1 and cfg.gradient_accumulation_steps >= 1, "batch sizes must be >= 1")]
    for ok, message in checks:
        if not ok:
            raise ValueError(message)
    return cfg


def flat_dict(cfg: TrainConfig) -> dict:
    """The flat option values of ``cfg`` (the YAML / flag names), e.g. for train_config.yaml and trackers."""
    out = {}
    for opt in options():
        value = cfg
        for part in opt.path:
            value = getattr(value, part)
        out[opt.name] = list(value) if isinstance(value, tuple) else value
    return out


def save_config(cfg: TrainConfig, path: Path) -> None:
    path.write_text(yaml.safe_dump(flat_dict(cfg), sort_keys=False))
