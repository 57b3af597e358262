"""Worker processes for simulation: spawn-started (EGL contexts and torch threads do not
survive ``fork``), each owning its envs, plus an in-process stand-in for ``workers <= 1``.

Both collection and evaluation use the ``concurrent.futures`` API, so the scheduling
code is the same whether episodes run here or in a pool.
"""

from __future__ import annotations

import multiprocessing as mp
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from typing import Any, Callable


class InlineExecutor(Executor):
    """Runs each submitted call immediately in this process (tests, debugging, unpicklable policies)."""

    def submit(self, fn: Callable, /, *args: Any, **kwargs: Any) -> Future:
        fut: Future = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as e:  # noqa: BLE001 - delivered through the future, like a pool does
            fut.set_exception(e)
        return fut


def make_executor(workers: int, initializer: Callable, initargs: tuple = ()) -> Executor:
    """``workers`` spawn-started processes that each ran ``initializer(*initargs)``, or inline."""
    if workers <= 1:
        initializer(*initargs)
        return InlineExecutor()
    ctx = mp.get_context("spawn")
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=initializer, initargs=initargs)


def on_worker_exit(fn: Callable[[], None]) -> None:
    """Run ``fn`` when this worker process exits (closes GL contexts before interpreter teardown)."""
    from multiprocessing import util

    util.Finalize(None, fn, exitpriority=10)
