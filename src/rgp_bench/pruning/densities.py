"""Layer densities of the Erdős–Rényi family (Mocanu et al. 2018; Evci et al., ICML 2020) and exact keep counts.

ERK gives layer l a density ε·(Σ of its weight dims)/(∏ of its weight dims), kernel dims included; ER the same
with (out + in)/(out · in), the kernel left out. ε is set so the kept total is the requested fraction of all
prunable weights; the layers tied at the largest raw density are made dense whenever ε would push them above 1,
and ε is solved again without them, until none does: google-research/rigl `rigl/sparse_utils.py::
get_sparsities_erdos_renyi` (erk_power_scale = 1; VITA-Group/Random_Pruning `Masking.init` does the same). rigl
counts floor(sparsity · n) zeros per layer on the right-hand side and keeps real densities; `exact_counts` turns
these into integer counts with exactly the requested total (tests/test_parity_weights.py pins the difference).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Shape = tuple[int, ...]


def erdos_renyi_weight(shape: Shape, kernel: bool) -> float:
    """The un-normalised ER(K) density of a weight shape: Σ dims / ∏ dims (only out and in without `kernel`)."""
    dims = shape if kernel else shape[:2]
    return sum(dims) / math.prod(dims)


def erdos_renyi_densities(shapes: Sequence[Shape], density: float,
                          kernel: bool) -> tuple[list[float], float | None]:
    """Per-layer densities with Σ density_l · n_l = density · Σ n_l, each ≤ 1; and the final ε (None if all dense).

    Layers that ε would push above density 1 (all those tied at the largest raw weight, one round at a time)
    are dense.
    """
    sizes = [math.prod(s) for s in shapes]
    raw = [erdos_renyi_weight(s, kernel) for s in shapes]
    dense: set[int] = set()
    while True:
        sparse = [i for i in range(len(shapes)) if i not in dense]
        if not sparse:
            return [1.0] * len(shapes), None
        # ε·Σ_sparse raw_l·n_l + Σ_dense n_l = density·Σ n_l
        rhs = density * sum(sizes) - sum(sizes[i] for i in dense)
        epsilon = rhs / sum(raw[i] * sizes[i] for i in sparse)
        top = max(raw[i] for i in sparse)
        if epsilon * top <= 1.0:
            return [1.0 if i in dense else epsilon * raw[i] for i in range(len(shapes))], epsilon
        dense |= {i for i in sparse if raw[i] == top}


def exact_counts(targets: Sequence[float], sizes: Sequence[int], total: int) -> list[int]:
    """Integer counts in [0, size_l] summing to exactly `total`, each within one of its real target.

    Largest-remainder rounding: floor every target, then give the missing units to the largest fractional parts
    (ties to the earlier layer); a surplus from float noise is taken from the smallest.
    """
    if not 0 <= total <= sum(sizes):
        raise ValueError(f"total {total} is outside [0, {sum(sizes)}]")
    counts = [min(size, max(0, math.floor(t))) for t, size in zip(targets, sizes, strict=True)]
    fraction = [t - math.floor(t) for t in targets]
    while (missing := total - sum(counts)) != 0:
        step = 1 if missing > 0 else -1
        room = [i for i in range(len(counts)) if 0 <= counts[i] + step <= sizes[i]]
        order = sorted(room, key=lambda i: (-fraction[i], i) if step > 0 else (fraction[i], i))
        for i in order[:abs(missing)]:
            counts[i] += step
    return counts
