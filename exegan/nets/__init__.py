"""The EXE-GAN networks, with the authors' parameter names (official checkpoints load with strict=True)."""

from .arcface import ArcFaceR101
from .discriminator import Discriminator
from .generator import Generator, channel_table, composite, masked_input, truncate
from .sface_encoder import SFaceStyleEncoder
from .style_encoder import StyleEncoder

__all__ = ["Generator", "Discriminator", "StyleEncoder", "SFaceStyleEncoder", "ArcFaceR101", "channel_table",
           "composite", "masked_input", "truncate"]
