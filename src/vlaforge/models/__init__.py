"""One subpackage per model family. Each registers its config with ``@register_family``
when imported; ``vlaforge.core.registry.load_families()`` imports them on demand, so
importing this package does no work."""
