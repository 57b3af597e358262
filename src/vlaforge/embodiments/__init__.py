"""Embodiment specs: one per robot. Add a robot by calling ``register_embodiment`` in your own code."""

from vlaforge.embodiments.spec import (
    EmbodimentSpec,
    get_embodiment,
    list_embodiments,
    register_embodiment,
)
from vlaforge.embodiments import metaworld as _metaworld  # noqa: F401  (registers the Sawyer)

__all__ = ["EmbodimentSpec", "get_embodiment", "list_embodiments", "register_embodiment"]
