"""The registry of models, filled by `@register_model(name, ...)` next to each model's builder (timm style).

A builder takes `(cfg, in_channels, image_size, num_classes, spatial_dims)` and returns the model (uninitialised:
`build_model` initialises it). Each registration states the smallest input the model accepts and the inputs'
dimensionality it takes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

# (cfg, in_channels, image_size, num_classes, spatial_dims) -> model
BuildFn = Callable[[Any, int, int, int, int], nn.Module]
# image_size -> (the smallest size the model accepts at that size, why)
MinSize = Callable[[int], tuple[int, str]]


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: its builder and what it accepts."""

    name: str
    build: BuildFn
    min_size: MinSize
    # Input dimensionality the model takes: 2 (images), 1 (signals), or None (any: the MLP flattens).
    spatial_dims: int | None = 2


MODEL_REGISTRY: dict[str, ModelEntry] = {}


def at_least(size: int, why: str) -> MinSize:
    """A minimum input size that does not depend on the requested size."""
    return lambda _size: (size, why)


def register_model(name: str, *, min_size: MinSize, spatial_dims: int | None = 2) -> Callable[[BuildFn], BuildFn]:
    """Register the decorated builder as model `name`; `min_size` gives the smallest input it accepts (with why)."""

    def decorate(build: BuildFn) -> BuildFn:
        known = MODEL_REGISTRY.get(name)
        if known is not None and known.build.__qualname__ != build.__qualname__:
            raise ValueError(f"model {name!r} is registered twice ({known.build.__module__}, {build.__module__})")
        MODEL_REGISTRY[name] = ModelEntry(name, build, min_size, spatial_dims)
        return build

    return decorate
