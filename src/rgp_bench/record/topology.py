"""The topology panel a run record stores under `topology` (the typed, torch-free half of
`rgp_bench.measure.topology`, which computes it). Definitions and sources: docs/topology.md."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LayerTopology:
    """One prunable layer: density, its channel graph's spectrum and its share of the effective structure."""

    name: str
    out_channels: int
    in_channels: int
    density: float  # kept fraction of the weights
    edges: int  # channel pairs with at least one kept weight
    isolated_out: int  # output channels with no kept weight
    isolated_in: int  # input channels with no kept weight
    sigma1: float
    sigma2: float  # μ̂, the largest non-trivial eigenvalue magnitude of the channel graph
    spectral_gap: float  # σ₁ − σ₂
    degree_out: float
    degree_in: float
    biregular: bool
    ramanujan_bound: float
    ramanujan_bound_kind: str  # "biregular": √(d_out − 1) + √(d_in − 1); "average_degree": 2√(d_avg − 1)
    ramanujan_gap: float  # bound − σ₂
    weighted_sigma1: float | None = None  # of the kept |w| summed over the kernel (needs the model)
    weighted_sigma2: float | None = None
    weighted_spectral_gap: float | None = None
    effective_weights: int | None = None  # kept weights on an input→output path (needs the model)
    effective_in_channels: int | None = None
    effective_out_channels: int | None = None


@dataclass(frozen=True)
class NetworkTopology:
    """NPB's whole-network measures (every conv/linear layer, pruned or not)."""

    log10_paths: float | None  # log10 of the number of effective paths; None when no path survives
    effective_params: int
    kept_params: int
    total_params: int
    effective_nodes: int
    total_nodes: int


@dataclass(frozen=True)
class NodeGraphTopology:
    """The node graph of a block-structured mask (n nodes; nodes i, j adjacent when their channel groups are)."""

    nodes: int
    edges: int
    self_loops: bool
    degree_min: int
    degree_max: int
    regular: bool
    connected: bool
    aspl: float | None  # None when disconnected
    lower_bound: float | None  # Cerf/Moore bound for n nodes of the maximum degree (None: no connected graph)
    gap: float | None  # (aspl − bound) / bound
    diameter: int | None
    diameter_lower_bound: int | None
    clustering: float
    spectral_gap: float  # λ₁ − λ₂
    algebraic_connectivity: float
    lambda1: float
    mu_hat: float  # largest magnitude of the non-trivial eigenvalues
    ramanujan_bound: float  # 2√(k − 1), or 2√(d_avg − 1) when irregular
    ramanujan_gap: float


@dataclass(frozen=True)
class Topology:
    """The topology panel (JSON through `to_dict`)."""

    layers: list[LayerTopology]
    network: NetworkTopology | None = None  # None without the model
    network_note: str | None = None  # why `network` is missing
    node_graph: NodeGraphTopology | None = None  # None unless the masks are block-structured at `block_nodes`
    node_graph_note: str | None = None
    seconds: float = 0.0

    @property
    def density(self) -> dict[str, float]:
        """The per-layer density profile."""
        return {layer.name: layer.density for layer in self.layers}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (dataclasses as dicts, in field order)."""
        return dataclasses.asdict(self)
