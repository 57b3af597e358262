"""The library's user-facing errors.

Every error a user can fix (a bad dataset, checkpoint, config or name) is a
``VlaforgeError``: its message names the problem and the fix. The command line prints
such errors as one paragraph and exits non-zero without a traceback (``--debug`` or
``VLAFORGE_DEBUG=1`` shows it); anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class VlaforgeError(Exception):
    """Base of every error whose message tells the user what to do."""


class ConfigError(VlaforgeError, ValueError):
    """A config value, recipe, preset or command-line field is wrong."""


class UnknownNameError(VlaforgeError, KeyError):
    """A name (family, recipe, embodiment, encoder, suite ...) that nothing registered."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0]) if self.args else ""


class BatchError(VlaforgeError, ValueError):
    """A batch or observation that does not fit the policy: names the key, what was expected
    and what was received (the server sends these three fields back to the client)."""

    def __init__(self, message: str, key: str | None = None, expected: str | None = None,
                 received: str | None = None) -> None:
        self.key, self.expected, self.received = key, expected, received
        detail = "; ".join(f"{n}: {v}" for n, v in (("expected", expected), ("received", received)) if v)
        super().__init__(f"{message} ({detail})" if detail else message)
        self.message = message
