"""One small registry for every kind of named thing, with close-match errors and discovery.

Families, recipes, embodiments, image encoders and simulators are all ``Registry``
instances. Nothing is listed by hand: on a lookup miss a registry runs its ``discover``
hook, which imports the subpackages of one of our packages (``vlaforge.models`` ...) and
the modules that other installed packages declare under an entry-point group
(``vlaforge.families`` ...), so a user's own package adds a family without editing ours:

```toml
[project.entry-points."vlaforge.families"]
my_family = "my_package.my_family"
```
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
import sys
from importlib import metadata
from typing import Callable, Generic, Iterator, TypeVar

from vlaforge.core.errors import UnknownNameError

T = TypeVar("T")
C = TypeVar("C", bound=type)


def unknown_name_message(kind: str, name: str, known: list[str]) -> str:
    """One wording for every 'unknown X' error, with a close-match suggestion."""
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"unknown {kind} {name!r}.{hint} Known: {', '.join(sorted(known)) or '(none)'}."


class Registry(Generic[T]):
    """``name -> object``. ``discover`` (optional) is called once, on the first miss or listing."""

    def __init__(self, kind: str, discover: Callable[[], None] | None = None, hint: str = "") -> None:
        self.kind, self.hint = kind, hint
        self._items: dict[str, T] = {}
        self._discover, self._discovered = discover, discover is None

    def register(self, name: str, obj: T, replace: bool = False) -> T:
        old = self._items.get(name)
        if old is not None and old is not obj and not replace and not _same_definition(old, obj):
            raise ValueError(f"{self.kind} {name!r} registered twice ({_where(old)} and {_where(obj)})")
        self._items[name] = obj
        return obj

    def get(self, name: str) -> T:
        if name not in self._items:
            self.discover()
        if name not in self._items:
            msg = unknown_name_message(self.kind, name, list(self._items))
            raise UnknownNameError(f"{msg} {self.hint}".strip())
        return self._items[name]

    def __contains__(self, name: str) -> bool:
        if name not in self._items:
            self.discover()
        return name in self._items

    def names(self) -> list[str]:
        self.discover()
        return sorted(self._items)

    def items(self) -> Iterator[tuple[str, T]]:
        return ((n, self._items[n]) for n in self.names())

    def discover(self) -> None:
        if not self._discovered:
            self._discovered = True  # first, so a discovered module may look names up itself
            self._discover()


def _same_definition(a: object, b: object) -> bool:
    """A module imported twice (e.g. under two names by a test runner) re-registers an equal object."""
    a, b = getattr(a, "fn", a), getattr(b, "fn", b)  # a recipe wraps its function
    return getattr(a, "__qualname__", None) is not None and (a.__qualname__, _file(a)) == (
        getattr(b, "__qualname__", None), _file(b))


def _file(obj: object) -> str | None:
    mod = sys.modules.get(getattr(obj, "__module__", ""))
    return getattr(mod, "__file__", None)


def _where(obj: object) -> str:
    obj = getattr(obj, "fn", obj)
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', type(obj).__name__)}"


def import_subpackages(package: str, submodule: str | None = None) -> None:
    """Import every direct subpackage/module of ``package`` (and its ``submodule`` if it has one)."""
    pkg = importlib.import_module(package)
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.startswith("_"):
            continue
        name = f"{package}.{info.name}"
        importlib.import_module(name)
        if submodule and info.ispkg:
            try:
                importlib.import_module(f"{name}.{submodule}")
            except ModuleNotFoundError as e:
                if e.name != f"{name}.{submodule}":
                    raise


def import_entry_points(group: str, submodule: str | None = None) -> None:
    """Import the modules other installed packages declare under entry-point ``group``."""
    for ep in metadata.entry_points(group=group):
        mod = ep.value.split(":")[0]
        importlib.import_module(mod)
        if submodule:
            try:
                importlib.import_module(f"{mod}.{submodule}")
            except ModuleNotFoundError as e:
                if e.name != f"{mod}.{submodule}":
                    raise


# ---- model families -----------------------------------------------------------------
def _discover_families() -> None:
    import_subpackages("vlaforge.models")
    import_entry_points("vlaforge.families")


FAMILIES: Registry[type] = Registry("model family", _discover_families,
                                    "Families live in vlaforge/models/<name>/ or a package declared under the "
                                    "'vlaforge.families' entry-point group.")


def register_family(name: str) -> Callable[[C], C]:
    """Class decorator: ``@register_family("xvla")`` on the family's config dataclass."""

    def deco(cls: C) -> C:
        cls.family = name
        FAMILIES.register(name, cls)
        return cls

    return deco


def get_family(name: str) -> type:
    """The family's config class. Tries ``vlaforge.models.<name>`` alone first, so loading a
    checkpoint of one family never imports the others."""
    if name not in FAMILIES._items and name.isidentifier():
        try:
            importlib.import_module(f"vlaforge.models.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"vlaforge.models.{name}":
                raise
    return FAMILIES.get(name)


def list_families() -> list[str]:
    return FAMILIES.names()
