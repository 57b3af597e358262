"""Worker processes for simulation: spawn-started (EGL contexts and torch threads do not
survive ``fork``), each owning its envs, plus an in-process stand-in for ``workers <= 1``.

Both collection and evaluation use the ``concurrent.futures`` API, so the scheduling
code is the same whether episodes run here or in a pool. A worker exits by itself when the
process that started it dies (killed, even by SIGKILL), so a stopped collection or evaluation
never leaves simulators running on the machine.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
import time
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
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_start_worker,
                               initargs=(os.getpid(), initializer, initargs))


def _start_worker(parent: int, initializer: Callable, initargs: tuple) -> None:
    """Watch the parent, then run the caller's initializer."""
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True, name="vlaforge-parent-watch").start()
    initializer(*initargs)


def _exit_with_parent(parent: int, poll_s: float = 1.0) -> None:
    """A pool worker is re-parented when its parent dies; then nothing will ever collect its results."""
    while os.getppid() == parent:
        time.sleep(poll_s)
    os._exit(1)


def on_worker_exit(fn: Callable[[], None]) -> None:
    """Run ``fn`` when this worker process exits (closes GL contexts before interpreter teardown)."""
    from multiprocessing import util

    util.Finalize(None, fn, exitpriority=10)
