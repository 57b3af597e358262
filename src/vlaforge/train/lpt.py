"""Load-balanced Parallel Training (InternVLA-A1): whole datasets placed on ranks.

With hundreds of heterogeneous datasets and many ranks, every rank opening every dataset costs
memory and start-up time for nothing. LPT assigns whole datasets to ranks greedily, largest
first to the least-loaded rank (the longest-processing-time rule, within 4/3 of the optimal
makespan), and each rank materialises only its own. A dataset larger than one rank's fair share
(total / ranks), and every dataset when there are fewer datasets than ranks, gets replica ranks
in proportion to its size (each replica samples with its own seed): without that, one giant
dataset would set the makespan however many ranks there are.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Placement:
    ranks: list[list[int]]
    """Dataset indices each rank opens."""
    loads: list[float]
    """Frames (or bytes) per rank; a replicated dataset counts its share per replica."""

    @property
    def imbalance(self) -> float:
        """max load / mean load (1.0 = perfect)."""
        mean = sum(self.loads) / len(self.loads)
        return max(self.loads) / mean if mean else 1.0


def assign(sizes: list[float], n_ranks: int) -> Placement:
    """Datasets of ``sizes`` onto ``n_ranks`` ranks (see the module docstring)."""
    if n_ranks < 1 or not sizes:
        raise ValueError(f"need at least one rank and one dataset, got {n_ranks} ranks and {len(sizes)} datasets")
    share = sum(sizes) / n_ranks
    replicas = [max(1, math.ceil(s / share - 1e-9)) if share > 0 else 1 for s in sizes]  # giants: several ranks
    while sum(replicas) < n_ranks and len(sizes) < n_ranks:  # fewer datasets than ranks: fill every rank
        i = max(range(len(sizes)), key=lambda i: sizes[i] / replicas[i])
        replicas[i] += 1
    pieces = [(sizes[i] / k, i) for i, k in enumerate(replicas) for _ in range(k)]
    heap = [(0.0, r) for r in range(n_ranks)]
    ranks: list[list[int]] = [[] for _ in range(n_ranks)]
    loads = [0.0] * n_ranks
    for size, i in sorted(pieces, key=lambda p: -p[0]):
        load, r = heapq.heappop(heap)  # the least-loaded rank (a replica never shares a rank with its twin)
        ranks[r].append(i)
        loads[r] = load + size
        heapq.heappush(heap, (loads[r], r))
    return Placement(ranks, loads)
