"""The registry of datasets, filled by `@register_dataset(name, shape=...)` next to each dataset's builder.

A builder takes `(cfg, cache_dir)` and returns the seeded splits (`DataBundle`); its registration states the
dataset's shape (`DataShape`), which a run knows from the config alone, before any file is read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rgp_bench.data.dataset import DataBundle


@dataclass(frozen=True)
class DataShape:
    """What a model needs to know about a dataset, known without loading it."""

    channels: int
    size: int
    classes: int
    spatial_dims: int = 2


# (cfg, cache_dir: where generated datasets keep their arrays) -> the splits
BuildFn = Callable[[Any, Path | None], DataBundle]
# cfg -> the dataset's shape, from its config alone
ShapeFn = Callable[[Any], DataShape]


@dataclass(frozen=True)
class DatasetEntry:
    """A registered dataset: its builder and its shape."""

    name: str
    build: BuildFn
    shape: ShapeFn


DATASET_REGISTRY: dict[str, DatasetEntry] = {}


def fixed_shape(shape: DataShape) -> ShapeFn:
    """The shape of a dataset whose config cannot change it."""
    return lambda _cfg: shape


def register_dataset(name: str, *, shape: ShapeFn) -> Callable[[BuildFn], BuildFn]:
    """Register the decorated builder as dataset `name`, whose shape `shape(cfg)` gives."""

    def decorate(build: BuildFn) -> BuildFn:
        known = DATASET_REGISTRY.get(name)
        if known is not None and known.build.__qualname__ != build.__qualname__:
            raise ValueError(f"dataset {name!r} is registered twice ({known.build.__module__}, {build.__module__})")
        DATASET_REGISTRY[name] = DatasetEntry(name, build, shape)
        return build

    return decorate
