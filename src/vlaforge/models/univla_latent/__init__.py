"""UniVLA with task-centric latent actions: a latent action model learned from video, a policy that
predicts latent actions, and a small per-robot action decoder. Importing registers ``UniVLALatentConfig``."""

from vlaforge.models.univla_latent.config import UniVLALatentConfig

__all__ = ["UniVLALatentConfig"]
