"""What a run's record says about the model's size and compute (rgp_bench.measure.costs counts them)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LayerCost:
    """One conv/linear layer's size and compute, dense and after masking."""

    name: str
    type: str
    shape: list[int]
    prunable: bool
    params: int
    nonzero: int
    density: float
    macs: int
    macs_effective: int


@dataclass(frozen=True)
class CostTotals:
    """Parameters (all, and those not masked out) and MACs (dense, and scaled by each layer's weight density)."""

    params: int
    params_nonzero: int
    macs: int
    macs_effective: int


@dataclass(frozen=True)
class Reduction:
    """Fractions removed relative to the dense model: overall and over the prunable layers."""

    params: float
    macs: float
    prunable_params: float
    prunable_macs: float
