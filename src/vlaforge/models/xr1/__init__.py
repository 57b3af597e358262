"""XR-1: Unified Vision-Motion Codes (UVMC) from a dual-branch VQ-VAE, then a code-guided policy, then
post-training. Importing this package registers ``XR1Config``; the model loads on ``config.create``."""

from vlaforge.models.xr1.config import XR1Config

__all__ = ["XR1Config"]
