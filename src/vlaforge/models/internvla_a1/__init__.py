"""InternVLA-A1: a mixture of transformers that understands, imagines the next frame, and acts.

Importing this package registers ``InternVLAA1Config``; the model loads on ``config.create``."""

from vlaforge.models.internvla_a1.config import InternVLAA1Config

__all__ = ["InternVLAA1Config"]
