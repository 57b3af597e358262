"""Load-balanced Parallel Training (InternVLA-A1): whole datasets placed on ranks.

With hundreds of heterogeneous datasets and many ranks, every rank opening every dataset costs
memory and start-up time for nothing. LPT assigns whole datasets to ranks greedily, largest
first to the least-loaded rank (the longest-processing-time rule, within 4/3 of the optimal
makespan), and each rank materialises only its own. With fewer datasets than ranks, datasets
get replica ranks in proportion to their size (each replica samples with its own seed).
"""

from __future__ import annotations

import heapq
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
    if len(sizes) < n_ranks:
        return _replicate(sizes, n_ranks)
    heap = [(0.0, r) for r in range(n_ranks)]
    ranks: list[list[int]] = [[] for _ in range(n_ranks)]
    loads = [0.0] * n_ranks
    for i in sorted(range(len(sizes)), key=lambda i: -sizes[i]):
        load, r = heapq.heappop(heap)  # the least-loaded rank
        ranks[r].append(i)
        loads[r] = load + sizes[i]
        heapq.heappush(heap, (loads[r], r))
    return Placement(ranks, loads)


def _replicate(sizes: list[float], n_ranks: int) -> Placement:
    replicas = [1] * len(sizes)
    for _ in range(n_ranks - len(sizes)):  # one more replica for the dataset with the most per replica
        i = max(range(len(sizes)), key=lambda i: sizes[i] / replicas[i])
        replicas[i] += 1
    ranks, loads = [], []
    for i, k in enumerate(replicas):
        ranks += [[i]] * k
        loads += [sizes[i] / k] * k
    return Placement(ranks, loads)
