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
        d = dict(d)
        if d.get("format_version", FORMAT_VERSION) > FORMAT_VERSION:
            raise ValueError(f"config format_version {d['format_version']} is newer than this exegan "
                             f"understands ({FORMAT_VERSION}); upgrade exegan")
        enc = dict(d.pop("style_encoder", {}))
        for key in ("units", "widths"):
            if key in enc:
                enc[key] = tuple(enc[key])
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known - {"generator"}
        if unknown:
            raise ValueError(f"unknown config fields: {sorted(unknown)}")
        return cls(generator=GeneratorConfig(**d.pop("generator", {})), style_encoder=StyleEncoderConfig(**enc), **d)
