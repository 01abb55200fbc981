"""Cerf/Moore lower bound on the ASPL of a k-regular graph (the bound Graph Golf scores against)."""

from __future__ import annotations

from .errors import GraphError

__all__ = ["aspl_lower_bound", "diameter_lower_bound", "gap", "lower_bound_levels", "lower_bound_total"]


def lower_bound_levels(nodes: int, degree: int) -> list[int]:
    """Largest possible number of nodes at distance 1, 2, … from a node, filled greedily (Moore tree).

    At most ``k (k-1)^(i-1)`` nodes can be at distance ``i``; the levels are filled in order until the other
    ``n - 1`` nodes are placed (Cerf, Cowan, Mullin, Stanton 1974).
    """
    if nodes < 1:
        raise GraphError(f"nodes {nodes} is too small: nodes must be >= 1")
    remaining = nodes - 1
    if remaining and degree < 1:
        raise GraphError(f"degree {degree} with {nodes} nodes cannot be connected: degree must be >= 1")
    if remaining > 1 and degree < 2:
        raise GraphError(f"degree {degree} with {nodes} nodes cannot be connected: degree must be >= 2")
    levels: list[int] = []
    capacity = degree
    while remaining > 0:
        take = min(capacity, remaining)
        levels.append(take)
        remaining -= take
        capacity *= degree - 1
    return levels


def lower_bound_total(nodes: int, degree: int) -> int:
    """Lower bound on the sum of distances over ordered pairs ``u != v`` (an exact integer)."""
    per_node = sum(i * c for i, c in enumerate(lower_bound_levels(nodes, degree), start=1))
    return nodes * per_node


def aspl_lower_bound(nodes: int, degree: int) -> float:
    """Cerf/Moore lower bound on the ASPL of any graph with ``nodes`` nodes and maximum degree ``degree``."""
    if nodes < 2:
        return 0.0
    return lower_bound_total(nodes, degree) / (nodes * (nodes - 1))


def diameter_lower_bound(nodes: int, degree: int) -> int:
    """Smallest diameter the Moore tree allows: the number of levels needed to place every node."""
    return len(lower_bound_levels(nodes, degree))


def gap(aspl: float, lower_bound: float) -> float:
    """Relative gap ``(aspl - lower_bound) / lower_bound`` (Graph Golf's "ASPL gap"; 0 means optimal)."""
    if lower_bound <= 0:
        return 0.0 if aspl == lower_bound else float("inf")
    return (aspl - lower_bound) / lower_bound
