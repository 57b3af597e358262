"""Behaviour cloning (``bc``): the plain reference every VLA recipe is judged against.

Importing this package registers ``BCConfig``; the model loads on ``config.create``."""

from vlaforge.models.bc.config import BCConfig

__all__ = ["BCConfig"]
