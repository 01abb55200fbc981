"""A fixed colour and marker per method, the same in every report and every plot.

A method declares its style where it is registered, and its runs record it (`method_facts.style`); the report
reads it from there (`remember_declared`). Records written before that fall back to `KNOWN`, the same styles the
built-in methods declare (a test checks they agree); any other name gets one from a hash of its name, so a new
method keeps its look from one report to the next. Names are compared loosely ('gnn-rl' is gnnrl), which lets
published points take the colour of the benchmark's method of the same name.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from rgp_bench.record.schema import MethodFacts, MethodStyle

Style = MethodStyle  # how one method is drawn


KNOWN: dict[str, Style] = {
    "rgp": Style("#d62728", "o"),
    "magnitude": Style("#1f77b4", "s"),
    "random": Style("#7f7f7f", "v"),
    "uniform": Style("#bcbd22", "^"),
    "filter_norm": Style("#2ca02c", "D"),
    "random_channel": Style("#8c564b", "<"),
    "gnnrl": Style("#9467bd", "P"),
    "random_search": Style("#e377c2", "X"),
    "snip": Style("#ff7f0e", "h"),
    "grasp": Style("#17becf", "p"),
    "synflow": Style("#393b79", "*"),
    "erk": Style("#637939", ">"),
    "er": Style("#8c6d31", "d"),
    "block_random": Style("#7b4173", "8"),
    "ramanujan": Style("#009e73", "D"),
    "rreg": Style("#56b4e9", "v"),
    "dense": Style("#444444", "H"),  # the unpruned reference: drawn as a horizontal line
}
# For names not in KNOWN (none of these repeats a KNOWN colour).
FALLBACK_COLORS = ("#e7ba52", "#5254a3", "#ad494a", "#3182bd", "#31a354", "#756bb1", "#e6550d", "#636363",
                   "#9c9ede", "#cedb9c", "#843c39", "#de9ed6", "#6baed6", "#fd8d3c", "#74c476", "#9e9ac8")
FALLBACK_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "h", "p", "<", ">", "d")
# Variants and regimes of one method share its colour; the line style tells them apart.
LINESTYLES = ("-", "--", "-.", ":")
_BY_KEY = {re.sub(r"[^a-z0-9]", "", name): style for name, style in KNOWN.items()}
# Styles the collected records declared (method_facts.style), by loose name: they win over KNOWN and the hash.
_DECLARED: dict[str, Style] = {}


def _key(method: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(method).lower())


def remember_declared(method: str, facts: MethodFacts | Mapping[str, Any] | None) -> None:
    """Note the style a run record declares for `method` (its `method_facts`, typed or as stored), if it has one."""
    if isinstance(facts, MethodFacts):
        _DECLARED[_key(method)] = facts.style
        return
    style = facts.get("style") if isinstance(facts, Mapping) else None
    if isinstance(style, Mapping) and isinstance(style.get("color"), str) and isinstance(style.get("marker"), str):
        _DECLARED[_key(method)] = Style(style["color"], style["marker"])


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def method_style(method: str) -> Style:
    """The colour and marker of `method`: as its records declare it, else its KNOWN entry, else one chosen by a hash
    of the name."""
    key = _key(method)
    if key in _DECLARED:
        return _DECLARED[key]
    if key in _BY_KEY:
        return _BY_KEY[key]
    h = _digest(key)
    return Style(FALLBACK_COLORS[h % len(FALLBACK_COLORS)],
                 FALLBACK_MARKERS[(h // len(FALLBACK_COLORS)) % len(FALLBACK_MARKERS)])


def linestyle(variant: str) -> str:
    """Line style of one variant of a method: solid for the plain method, else chosen by a hash of the text."""
    return "-" if not variant else LINESTYLES[1 + _digest(variant) % (len(LINESTYLES) - 1)]
