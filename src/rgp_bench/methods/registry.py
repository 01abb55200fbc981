"""The one registry of pruning methods."""

from __future__ import annotations

from rgp_bench.errors import choices_error
from rgp_bench.methods import magnitude, random_masks, rgp
from rgp_bench.methods.base import Method

METHODS: dict[str, Method] = {m.name: m for m in (rgp.METHOD, magnitude.METHOD, random_masks.METHOD)}


def get_method(name: str) -> Method:
    """Look a method up by name; unknown names list the valid choices."""
    try:
        return METHODS[name]
    except KeyError:
        raise choices_error("method", name, METHODS) from None
