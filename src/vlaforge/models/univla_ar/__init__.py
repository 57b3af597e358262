"""UniVLA unified autoregressive family (``univla_ar``): VQ image tokens + FAST action tokens in one
causal decoder. Importing registers the config; the model module loads on ``config.create``."""

from vlaforge.models.univla_ar.config import UniVLAARConfig

__all__ = ["UniVLAARConfig"]
