"""vlaforge: train, evaluate, compare and serve vision-language-action robot policies.

Importing the package does no work: families register themselves when
``vlaforge.models`` is imported (see ``vlaforge.core.registry``).
"""

__version__ = "0.1.0"
