"""Older `results.json` layouts brought up to the current schema, one version at a time (docs/results-record.md).

Each step is a named function from the stored dict of version N to that of version N + 1; it fills only what the
older version could not have recorded, with the value that held then, and leaves a part it cannot upgrade as it is
so that the typed reader names the field. Fields added within one version (`accuracy.dense.epochs`,
`method_defaults`) are not upgrades: records without them read with their defaults (unknown, empty).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from rgp_bench.record.schema import SCHEMA_VERSION

Layout = dict[str, Any]
# The oldest schema a file can be upgraded from.
OLDEST_VERSION = 1


def v1_to_v2(data: Layout) -> Layout:
    """Version 2 added `budget`: every version-1 method pruned to a weight budget, so `ratio` was the fraction of
    prunable weights removed and `sparsity.achieved` what the masks removed of them."""
    out = copy.deepcopy(data)
    sparsity = out.get("sparsity")
    if "ratio" in out and isinstance(sparsity, dict) and "achieved" in sparsity:
        out.setdefault("budget", {"basis": "weights", "requested": out["ratio"], "achieved": sparsity["achieved"]})
    return out


def v2_to_v3(data: Layout) -> Layout:
    """Version 3 added `sanity` (no check existed before: none), `collapse` (not checked: unknown, null) and
    `cost.latency` (not measured: null)."""
    out = copy.deepcopy(data)
    out.setdefault("sanity", "none")
    out.setdefault("collapse", None)
    if isinstance(out.get("cost"), dict):
        out["cost"].setdefault("latency", None)
    return out


# version N -> the function from N to N + 1
UPGRADES: dict[int, Callable[[Layout], Layout]] = {1: v1_to_v2, 2: v2_to_v3}


def upgrade(data: Layout, version: int) -> Layout:
    """The stored record `data` of schema `version` (OLDEST_VERSION to SCHEMA_VERSION) in the current layout;
    `data` itself is never modified."""
    for step in range(version, SCHEMA_VERSION):
        data = UPGRADES[step](data)
    return data
