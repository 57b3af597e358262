"""Simulation worker pools never outlive the process that started them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from vlaforge.sim.pool import InlineExecutor, make_executor


def _noop() -> None:
    pass


def test_inline_executor_for_one_worker():
    ex = make_executor(1, _noop)
    assert isinstance(ex, InlineExecutor)
    assert ex.submit(sum, [1, 2]).result() == 3


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); it has exited
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(")")[-1].split()[0] != "Z"


def test_workers_exit_when_the_parent_is_killed():
    """SIGKILL the parent (no handler can run): its spawn-started workers stop on their own."""
    # (the parent's script must not wait for a second worker: the pool starts them on demand only)
    code = textwrap.dedent("""
        import os, sys, time
        from vlaforge.sim.pool import make_executor
        if __name__ == "__main__":
            ex = make_executor(2, os.getpid)  # any picklable initializer
            ex.submit(os.getpid).result()  # workers start on demand: at least one is up now
            print(" ".join(map(str, sorted(ex._processes))), flush=True)
            time.sleep(600)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        workers = [int(p) for p in proc.stdout.readline().split()]
        assert workers and all(_alive(p) for p in workers)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    deadline = time.time() + 15
    while time.time() < deadline and any(_alive(p) for p in workers):
        time.sleep(0.2)
    assert not any(_alive(p) for p in workers), "pool workers outlived their killed parent"
