"""The model registry: a family registers by decorating its config dataclass.

The config is the factory (``config.create(...)`` builds the policy), so there is
no ``isinstance`` switch and no import-path strings anywhere.
"""

from __future__ import annotations

import difflib
import importlib
from typing import Callable, TypeVar

C = TypeVar("C", bound=type)

_FAMILIES: dict[str, type] = {}
_FAMILY_MODULES = ("xvla", "univla_ar")  # imported lazily so `import vlaforge` stays free


def register_family(name: str) -> Callable[[C], C]:
    """Class decorator: ``@register_family("xvla")`` on the family's config dataclass."""

    def deco(cls: C) -> C:
        if name in _FAMILIES and _FAMILIES[name] is not cls:
            raise ValueError(f"family {name!r} registered twice ({_FAMILIES[name]} and {cls})")
        cls.family = name
        _FAMILIES[name] = cls
        return cls

    return deco


def load_families() -> None:
    """Import every family subpackage so its decorator runs. Cheap after the first call."""
    for mod in _FAMILY_MODULES:
        try:
            importlib.import_module(f"vlaforge.models.{mod}")
        except ModuleNotFoundError as e:
            if e.name != f"vlaforge.models.{mod}":
                raise


def get_family(name: str) -> type:
    """Import only the named family, so a checkpoint of one family never depends on the others."""
    if name not in _FAMILIES and name in _FAMILY_MODULES:
        importlib.import_module(f"vlaforge.models.{name}")
    if name not in _FAMILIES:
        load_families()
    if name not in _FAMILIES:
        raise KeyError(unknown_name_message("model family", name, list(_FAMILIES)))
    return _FAMILIES[name]


def list_families() -> list[str]:
    load_families()
    return sorted(_FAMILIES)


def unknown_name_message(kind: str, name: str, known: list[str]) -> str:
    """One wording for every 'unknown X' error, with a close-match suggestion."""
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"unknown {kind} {name!r}.{hint} Known: {', '.join(sorted(known))}."
