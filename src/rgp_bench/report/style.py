"""A fixed colour and marker per method, the same in every report and every plot.

Colours come from colour-blind-safe palettes (Okabe & Ito 2008; Paul Tol's "muted" and "vibrant" schemes), and
every registered method has its own colour-and-marker pair (`KNOWN`; tests/test_report_style.py checks the
registry against it), so a method stays recognisable in grey-scale print or to a colour-blind reader. Any other
name gets a pair from a hash of its name (never a KNOWN colour), so a new method keeps its look from one report to
the next. Names are compared loosely ('gnn-rl' is gnnrl), which lets published points take the colour of the
benchmark's method of the same name.

Variants and regimes of one method share its colour and marker; they are told apart by line style and marker fill
(`variant_look`), assigned in order within a plot so that two variants never share a look.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Style:
    """How one method is drawn."""

    color: str
    marker: str


# Okabe-Ito: black, orange, sky blue, bluish green, blue, vermillion, reddish purple (yellow is too pale on white).
# Tol muted: indigo, cyan, teal, green, olive, sand, rose, wine, purple. Tol grey for the random controls.
KNOWN: dict[str, Style] = {
    "rgp": Style("#D55E00", "o"),
    "magnitude": Style("#0072B2", "s"),
    "random": Style("#777777", "v"),
    "uniform": Style("#E69F00", "^"),
    "filter_norm": Style("#009E73", "D"),
    "random_channel": Style("#56B4E9", "<"),
    "gnnrl": Style("#CC79A7", "P"),
    "random_search": Style("#882255", "X"),
    "snip": Style("#332288", "h"),
    "grasp": Style("#44AA99", "p"),
    "synflow": Style("#117733", "*"),
    "erk": Style("#999933", ">"),
    "er": Style("#DDCC77", "d"),
    "block_random": Style("#AA4499", "8"),
    "rreg": Style("#88CCEE", "H"),
    "ramanujan": Style("#CC6677", "o"),
    "dense": Style("#000000", "_"),  # the unpruned reference: drawn as a horizontal line
}
# For names not in KNOWN (none of these repeats a KNOWN colour): Tol vibrant and light.
FALLBACK_COLORS = ("#EE7733", "#0077BB", "#33BBEE", "#EE3377", "#CC3311", "#009988", "#77AADD", "#EE8866",
                   "#AAAA00", "#44BB99", "#FFAABB", "#BBBBBB")
FALLBACK_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "h", "p", "<", ">", "d")
# Variants and regimes of one method share its colour; line style and marker fill tell them apart, in this order.
LINESTYLES: tuple[Any, ...] = ("-", "--", "-.", ":", (0, (5, 1.5, 1, 1.5, 1, 1.5)), (0, (1, 3)),
                               (0, (8, 2)), (0, (3, 1, 1, 1, 1, 1, 1, 1)))
FILLSTYLES = ("full", "left", "bottom", "right", "top")
_BY_KEY = {re.sub(r"[^a-z0-9]", "", name): style for name, style in KNOWN.items()}


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def method_style(method: str) -> Style:
    """The colour and marker of `method`: its KNOWN entry, else one chosen by a hash of the name."""
    key = re.sub(r"[^a-z0-9]", "", str(method).lower())
    if key in _BY_KEY:
        return _BY_KEY[key]
    h = _digest(key)
    return Style(FALLBACK_COLORS[h % len(FALLBACK_COLORS)],
                 FALLBACK_MARKERS[(h // len(FALLBACK_COLORS)) % len(FALLBACK_MARKERS)])


@dataclass(frozen=True)
class VariantLook:
    """How one variant (or regime) of a method is told from the others: line style and marker fill."""

    linestyle: Any
    fillstyle: str


def variant_look(index: int) -> VariantLook:
    """The look of the `index`-th variant of a method in a plot (0: the plain method: solid line, full marker).
    Distinct for the first len(LINESTYLES) variants; after that line styles repeat with another marker fill."""
    return VariantLook(LINESTYLES[index % len(LINESTYLES)],
                       FILLSTYLES[(index // len(LINESTYLES) + index) % len(FILLSTYLES)])
