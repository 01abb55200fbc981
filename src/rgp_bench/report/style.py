"""A fixed colour and marker per method, the same in every report and every plot.

A method declares its style where it is registered, and its runs record it (`method_facts.style`); the report
reads it from there (`remember_declared`). Records written before that fall back to `KNOWN`, the same styles the
built-in methods declare (a test checks they agree); any other name gets one from a hash of its name (never a KNOWN
colour), so a new method keeps its look from one report to the next. Names are compared loosely ('gnn-rl' is
gnnrl), which lets published points take the colour of the benchmark's method of the same name.

Colours come from colour-blind-safe palettes (Okabe & Ito 2008; Paul Tol's "muted" and "vibrant" schemes), and
every registered method has its own colour-and-marker pair (tests/test_report_paper.py checks the registry), so a
method stays recognisable in grey-scale print or to a colour-blind reader. Variants and regimes of one method share
its colour and marker; they are told apart by line style and marker fill (`variant_look`), assigned in order
within a plot so that two variants never share a look.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from rgp_bench.record.schema import MethodFacts, MethodStyle

Style = MethodStyle  # how one method is drawn


# Okabe-Ito: black, orange, sky blue, bluish green, blue, vermillion, reddish purple (yellow is too pale on white).
# Tol muted: indigo, cyan, teal, green, olive, sand, rose, wine, purple. Tol grey for the random controls.
KNOWN: dict[str, Style] = {
    "rgp": Style("#d55e00", "o"),
    "magnitude": Style("#0072b2", "s"),
    "random": Style("#777777", "v"),
    "uniform": Style("#e69f00", "^"),
    "filter_norm": Style("#009e73", "D"),
    "random_channel": Style("#56b4e9", "<"),
    "gnnrl": Style("#cc79a7", "P"),
    "random_search": Style("#882255", "X"),
    "snip": Style("#332288", "h"),
    "grasp": Style("#44aa99", "p"),
    "synflow": Style("#117733", "*"),
    "erk": Style("#999933", ">"),
    "er": Style("#ddcc77", "d"),
    "block_random": Style("#aa4499", "8"),
    "rreg": Style("#88ccee", "H"),
    "ramanujan": Style("#cc6677", "o"),
    "dense": Style("#000000", "H"),  # the unpruned reference: drawn as a horizontal line
}
# For names not in KNOWN (none of these repeats a KNOWN colour): Tol vibrant and light.
FALLBACK_COLORS = ("#ee7733", "#0077bb", "#33bbee", "#ee3377", "#cc3311", "#009988", "#77aadd", "#ee8866",
                   "#aaaa00", "#44bb99", "#ffaabb", "#bbbbbb")
FALLBACK_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "h", "p", "<", ">", "d")
# Variants and regimes of one method share its colour; line style and marker fill tell them apart, in this order.
LINESTYLES: tuple[Any, ...] = ("-", "--", "-.", ":", (0, (5, 1.5, 1, 1.5, 1, 1.5)), (0, (1, 3)),
                               (0, (8, 2)), (0, (3, 1, 1, 1, 1, 1, 1, 1)))
FillStyle = Literal["full", "left", "right", "bottom", "top", "none"]
FILLSTYLES: tuple[FillStyle, ...] = ("full", "left", "bottom", "right", "top")
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


@dataclass(frozen=True)
class VariantLook:
    """How one variant (or regime) of a method is told from the others: line style and marker fill."""

    linestyle: Any
    fillstyle: FillStyle


def variant_look(index: int) -> VariantLook:
    """The look of the `index`-th variant of a method in a plot (0: the plain method: solid line, full marker).
    Distinct for the first len(LINESTYLES) variants; after that line styles repeat with another marker fill."""
    return VariantLook(LINESTYLES[index % len(LINESTYLES)],
                       FILLSTYLES[(index // len(LINESTYLES) + index) % len(FILLSTYLES)])
