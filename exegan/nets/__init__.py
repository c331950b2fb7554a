"""The EXE-GAN networks, with the authors' parameter names (official checkpoints load with strict=True)."""

from .arcface import ArcFaceR101, identity_loss
from .discriminator import Discriminator
from .generator import Generator, channel_table, composite, masked_input, truncate
from .style_encoder import StyleEncoder

__all__ = ["Generator", "Discriminator", "StyleEncoder", "ArcFaceR101", "identity_loss", "channel_table",
           "composite", "masked_input", "truncate"]
