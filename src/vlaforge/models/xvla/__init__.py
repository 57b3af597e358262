"""X-VLA: soft prompts per data source + a flow-matching transformer (arXiv 2510.10274).

Importing this package registers ``XVLAConfig`` as family ``"xvla"``; the model module is
imported only when a config's ``create()`` builds a policy.
"""

from vlaforge.models.xvla.config import XVLAConfig

__all__ = ["XVLAConfig"]
