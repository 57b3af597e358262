"""The action-chunk queue: execute ``n_action_steps`` actions of a chunk, then re-plan.

One implementation for ``Policy.select_action``, the evaluation runner, the remote policy
and the action-chunk broker. Pure Python (no torch), so the numpy-only client can use it.
"""

from __future__ import annotations

from collections import deque
from typing import Generic, Sequence, TypeVar

A = TypeVar("A")


class ActionQueue(Generic[A]):
    """The actions of the current chunk still to execute: ``n_action_steps`` per chunk, then re-plan.

    ``fill(steps)`` takes a chunk as a sequence of per-step actions (time first)."""

    def __init__(self, n_action_steps: int) -> None:
        self.n_action_steps = n_action_steps
        self._q: deque[A] = deque()

    def __len__(self) -> int:
        return len(self._q)

    def clear(self) -> None:
        self._q.clear()

    def fill(self, steps: Sequence[A]) -> None:
        """Queue the first ``n_action_steps`` of ``steps`` (all of them if the chunk is shorter)."""
        if self.n_action_steps < 1:
            raise ValueError(f"n_action_steps must be >= 1, got {self.n_action_steps}")
        self._q.extend(steps[i] for i in range(min(self.n_action_steps, len(steps))))

    def pop(self) -> A:
        return self._q.popleft()
