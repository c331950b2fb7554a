"""Model configuration: what ``config.json`` of a model folder holds, and the documented-field helper.

Every field is declared with :func:`documented`: its help text sits next to its default, and command lines
(``train/config.py``) print it with ``--help``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

FORMAT_VERSION = 1


def documented(default: Any, help: str, *, choices: tuple = ()) -> Any:
    """A dataclass field with its documentation (``metadata["help"]``) and, for fixed-choice strings, the allowed
    values (``metadata["choices"]``). Tuples and None are immutable, so they serve as plain defaults."""
    return field(default=default, metadata={"help": help, "choices": tuple(choices)})


def field_help(f: dataclasses.Field) -> str:
    """The documentation of a dataclass field declared with :func:`documented` ("" otherwise)."""
    return f.metadata.get("help", "")


# ------------------------------------------------------------------------------------------------ validation
# Bounds on what a config.json may ask for, checked before anything is allocated (the authors' largest model is
# 1024 px with style_dim 512, 8 mapping layers and 18 codes; these leave room above it).
MAX_STYLE_DIM, MAX_MLP, MAX_CHANNELS, MAX_STYLES, MAX_UNITS, MAX_TEXT = 2048, 16, 2048, 64, 64, 10_000


def _int(owner: str, name: str, value: Any, lo: int, hi: int, *, power_of_two: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{owner}.{name} must be an integer, got {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{owner}.{name} must be in [{lo}, {hi}], got {value}")
    if power_of_two and value & (value - 1):
        raise ValueError(f"{owner}.{name} must be a power of two, got {value}")


def _number(owner: str, name: str, value: Any, lo: float, hi: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo < value <= hi:
        raise ValueError(f"{owner}.{name} must be a number in ({lo}, {hi}], got {value!r}")


def _ints(owner: str, name: str, value: Any, length: int, lo: int, hi: int) -> None:
    if not isinstance(value, (tuple, list)) or len(value) != length:
        raise ValueError(f"{owner}.{name} must be a list of {length} integers, got {value!r}")
    for i, v in enumerate(value):
        _int(owner, f"{name}[{i}]", v, lo, hi)


@dataclass
class GeneratorConfig:
    """Arguments of :class:`exegan.nets.Generator`; defaults are the authors' 256 model."""

    size: int = documented(256, "output resolution S (a power of two, 32..1024)")
    style_dim: int = documented(512, "length of z, w and each exemplar code")
    n_mlp: int = documented(8, "depth of the mapping network f")
    channel_multiplier: float = documented(2, "width of the high-resolution layers")
    max_channels: int = documented(512, "channel cap of the low-resolution layers")
    exemplar_start: int = documented(4, "first exemplar-driven latent (the official phi: latents [4, n_latent))")
    n_exemplar: int | None = documented(None, "exemplar-driven latents; None = n_latent - exemplar_start")

    @property
    def n_latent(self) -> int:
        return 2 * self.size.bit_length() - 4  # 2 log2(size) - 2: 14 at 256

    def validate(self) -> "GeneratorConfig":
        """Raise ``ValueError`` naming the first field out of its type or range (nothing is allocated)."""
        _int("generator", "size", self.size, 32, 1024, power_of_two=True)
        _int("generator", "style_dim", self.style_dim, 1, MAX_STYLE_DIM)
        _int("generator", "n_mlp", self.n_mlp, 1, MAX_MLP)
        _number("generator", "channel_multiplier", self.channel_multiplier, 0, 8)
        _int("generator", "max_channels", self.max_channels, 1, MAX_CHANNELS)
        _int("generator", "exemplar_start", self.exemplar_start, 0, self.n_latent)
        if self.n_exemplar is not None:
            _int("generator", "n_exemplar", self.n_exemplar, 0, self.n_latent - self.exemplar_start)
        return self


@dataclass
class StyleEncoderConfig:
    """The exemplar encoder; defaults are the pSp FFHQ encoder (IR-SE-50, 18 codes)."""

    kind: str = documented("psp", "psp: exegan.nets.StyleEncoder (pSp's GradualStyleEncoder); sface: "
                           "exegan.nets.SFaceStyleEncoder (frozen SFace trunk + trained heads; reads n_styles and "
                           "style_dim only)", choices=("psp", "sface"))
    n_styles: int = documented(18, "number of codes (one per generator latent)")
    style_dim: int = documented(512, "width of each code (the generator's style_dim)")
    input_size: int = documented(256, "psp: side the exemplar is resized to (a power of two >= 32)")
    units: tuple[int, ...] = documented((3, 4, 14, 3), "psp: IR-SE units in each of the four groups")
    widths: tuple[int, ...] = documented((64, 128, 256, 512), "psp: channels of each group")

    def validate(self) -> "StyleEncoderConfig":
        """Raise ``ValueError`` naming the first field out of its type or range (nothing is allocated)."""
        if self.kind not in ("psp", "sface"):
            raise ValueError(f"style_encoder.kind must be 'psp' or 'sface', got {self.kind!r}")
        _int("style_encoder", "n_styles", self.n_styles, 1, MAX_STYLES)
        _int("style_encoder", "style_dim", self.style_dim, 1, MAX_STYLE_DIM)
        if self.kind == "psp":
            _int("style_encoder", "input_size", self.input_size, 32, 1024, power_of_two=True)
            _ints("style_encoder", "units", self.units, 4, 1, MAX_UNITS)
            _ints("style_encoder", "widths", self.widths, 4, 1, MAX_CHANNELS)
        return self


@dataclass
class ModelConfig:
    """Everything needed to rebuild an inference model; stored as ``config.json``."""

    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    style_encoder: StyleEncoderConfig = field(default_factory=StyleEncoderConfig)
    name: str = "exe-gan"  # shown by the app and the CLI
    license: str = "unknown"  # licence of the *weights* (FFHQ-trained weights are non-commercial)
    source: str = ""  # provenance: where the weights came from / how they were trained
    format_version: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelConfig":
        if not isinstance(d, dict):
            raise ValueError(f"a model config must be a JSON object, got {type(d).__name__}")
        d = dict(d)
        version = d.get("format_version", FORMAT_VERSION)
        if isinstance(version, bool) or not isinstance(version, int):
            raise ValueError(f"format_version must be an integer, got {version!r}")
        if version > FORMAT_VERSION:
            raise ValueError(f"config format_version {d['format_version']} is newer than this exegan "
                             f"understands ({FORMAT_VERSION}); upgrade exegan")
        enc = d.pop("style_encoder", {})
        if isinstance(enc, dict):
            enc = {k: tuple(v) if k in ("units", "widths") and isinstance(v, list) else v for k, v in enc.items()}
        gen = d.pop("generator", {})
        for part, fields, value in (("generator", GeneratorConfig, gen), ("style_encoder", StyleEncoderConfig, enc)):
            if not isinstance(value, dict):
                raise ValueError(f"{part} must be an object, got {type(value).__name__}")
            unknown = set(value) - {f.name for f in dataclasses.fields(fields)}
            if unknown:
                raise ValueError(f"unknown {part} fields: {sorted(unknown)}")
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown config fields: {sorted(unknown)}")
        for key in ("name", "license", "source"):
            if key in d and (not isinstance(d[key], str) or len(d[key]) > MAX_TEXT):
                raise ValueError(f"{key} must be a string of at most {MAX_TEXT} characters")
        config = cls(generator=GeneratorConfig(**gen).validate(), style_encoder=StyleEncoderConfig(**enc).validate(),
                     **d)
        if config.style_encoder.style_dim != config.generator.style_dim:
            raise ValueError(f"style_encoder.style_dim ({config.style_encoder.style_dim}) must equal "
                             f"generator.style_dim ({config.generator.style_dim})")
        return config
