"""The robots we ship, one module each (``metaworld``: the Sawyer). The spec type and the
registry live in ``vlaforge.core.embodiment``; add a robot by calling ``register_embodiment``
in your own code, not by editing this package."""

from vlaforge.core.embodiment import EmbodimentSpec, get_embodiment, list_embodiments, register_embodiment

__all__ = ["EmbodimentSpec", "get_embodiment", "list_embodiments", "register_embodiment"]
