"""The topology panel of a set of masks: per-layer density and channel-graph spectra, the network's effective paths
and nodes, and the node graph of a block-structured mask. Definitions and sources: docs/topology.md.

`measure_topology(masks, model=..., example=..., block_nodes=...)` takes the applied masks (layer name -> boolean
weight mask, in execution order) and returns a `Topology`, whose `to_dict()` is what a run record stores under
`topology`. Every part needs only what it is given: the layer spectra need the masks alone, the weighted spectral
gap and the effective paths need the model (and the input shape), the node graph needs the block node count.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from rgp_bench.graphs import GraphError, graph_metrics, split_sizes
from rgp_bench.measure.paths import LayerPaths, NetworkPaths, PathError, network_paths
from rgp_bench.measure.spectra import BipartiteSpectrum, bipartite_spectrum, graph_spectrum, weighted_spectral_gap
from rgp_bench.record.topology import LayerTopology, NetworkTopology, NodeGraphTopology, Topology


def kept_fraction(mask: torch.Tensor) -> float:
    """The fraction of a layer's weights a mask keeps (its density), from exact integer counts."""
    return int(torch.count_nonzero(mask)) / mask.numel()


def density_profile(masks: Mapping[str, torch.Tensor]) -> dict[str, float]:
    """The kept fraction of each layer's weights, in the masks' order."""
    return {name: kept_fraction(mask) for name, mask in masks.items()}


def channel_graph(mask: torch.Tensor) -> np.ndarray:
    """A layer's bipartite connectivity (C_out × C_in, bool): channels o and i are joined when the mask keeps any
    weight between them (any kernel position of a convolution)."""
    m = mask.detach().to("cpu", torch.bool)
    return m.reshape(m.shape[0], m.shape[1], -1).any(2).numpy() if m.dim() > 2 else m.numpy()


def channel_weights(mask: torch.Tensor, weight: torch.Tensor) -> np.ndarray:
    """Kept |w| summed over the kernel between each output and input channel (C_out × C_in, float64)."""
    kept = weight.detach().to("cpu", torch.float64).abs() * mask.detach().to("cpu", torch.float64)
    return kept.reshape(kept.shape[0], kept.shape[1], -1).sum(2).numpy()


def _finite(value: float) -> float | None:
    return value if np.isfinite(value) else None


def layer_topology(name: str, mask: torch.Tensor, weight: torch.Tensor | None = None,
                   paths: LayerPaths | None = None) -> LayerTopology:
    """One layer's panel from its mask, and optionally its weights (weighted gap) and NPB path facts."""
    graph = channel_graph(mask)
    spectrum: BipartiteSpectrum = bipartite_spectrum(graph)
    weighted: tuple[float | None, ...] = (None, None, None)
    if weight is not None:
        weighted = weighted_spectral_gap(channel_weights(mask, weight))
    return LayerTopology(
        name=name, out_channels=graph.shape[0], in_channels=graph.shape[1], density=kept_fraction(mask),
        edges=int(graph.sum()), isolated_out=int((~graph.any(1)).sum()), isolated_in=int((~graph.any(0)).sum()),
        **dataclasses.asdict(spectrum), weighted_sigma1=weighted[0], weighted_sigma2=weighted[1],
        weighted_spectral_gap=weighted[2],
        effective_weights=None if paths is None else paths.effective_weights,
        effective_in_channels=None if paths is None else paths.effective_in_channels,
        effective_out_channels=None if paths is None else paths.effective_out_channels)


def block_node_graph(masks: Mapping[str, torch.Tensor], nodes: int,
                     group_sizes: str = "larger_first") -> tuple[np.ndarray | None, str | None]:
    """The n × n node graph every layer's channel graph is the block blow-up of (RGP's mapping,
    `rgp_bench.graphs.block_mask`), with self-loops on the diagonal; or None and the reason when there is none."""
    adjacency: np.ndarray | None = None
    for name, mask in masks.items():
        graph = channel_graph(mask)
        try:
            rows = split_sizes(graph.shape[0], nodes, group_sizes)
            cols = split_sizes(graph.shape[1], nodes, group_sizes)
        except GraphError as exc:
            return None, f"layer {name}: {exc}"
        pattern = graph[np.cumsum(rows) - rows][:, np.cumsum(cols) - cols]  # the first channel of every group
        if not np.array_equal(np.repeat(np.repeat(pattern, rows, 0), cols, 1), graph):
            return None, f"layer {name} is not block-structured at {nodes} nodes"
        if adjacency is None:
            adjacency = pattern
        elif not np.array_equal(adjacency, pattern):
            return None, f"layer {name} has another node graph than the layers before it"
    if adjacency is None:
        return None, "no layers"
    return adjacency, None


def node_graph_topology(adjacency: np.ndarray) -> NodeGraphTopology:
    """ASPL, its lower bound, diameter, clustering and spectra of a node graph (self-loops left out)."""
    a = (np.asarray(adjacency) != 0).astype(np.uint8)
    self_loops = bool(a.diagonal().any())
    np.fill_diagonal(a, 0)
    facts = graph_metrics(a)
    spectrum = graph_spectrum(a)
    degrees = a.sum(1)
    connected = bool(facts["connected"])
    return NodeGraphTopology(
        nodes=int(a.shape[0]), edges=int(a.sum()) // 2, self_loops=self_loops, degree_min=int(degrees.min()),
        degree_max=int(degrees.max()), regular=spectrum.regular, connected=connected,
        aspl=_finite(facts["aspl"]), lower_bound=_finite(facts["lower_bound"]), gap=_finite(facts["gap"]),
        diameter=int(facts["diameter"]) if connected else None,
        diameter_lower_bound=int(facts["diameter_lower_bound"]) if facts["diameter_lower_bound"] >= 0 else None,
        clustering=float(facts["clustering"]), spectral_gap=float(facts["spectral_gap"]),
        algebraic_connectivity=float(facts["algebraic_connectivity"]), lambda1=spectrum.lambda1,
        mu_hat=spectrum.mu_hat, ramanujan_bound=spectrum.ramanujan_bound, ramanujan_gap=spectrum.ramanujan_gap)


def measure_topology(masks: Mapping[str, torch.Tensor], *, model: nn.Module | None = None,
                     example: torch.Tensor | None = None, block_nodes: int | None = None,
                     group_sizes: str = "larger_first") -> Topology:
    """The topology panel of `masks` (prunable layer name -> boolean weight mask).

    With `model` the weighted spectral gaps use its current weights, and with `model` and `example` (an input
    batch, for its shape) the network's effective paths and nodes are counted (when its graph has an operation
    the path interpreter does not support, `network` is None and `network_note` says which). With `block_nodes`
    the node graph of a block mask is recovered (RGP's group sizes: `group_sizes`) and measured.
    """
    start = time.perf_counter()
    paths: NetworkPaths | None = None
    network_note = None
    if model is not None and example is not None:
        try:
            paths = network_paths(model, masks, example)
        except PathError as exc:
            network_note = str(exc)
    else:
        network_note = "no model given"
    modules = dict(model.named_modules()) if model is not None else {}
    layers = [layer_topology(name, mask, modules[name].weight if name in modules else None,
                             paths.layers.get(name) if paths is not None else None)
              for name, mask in masks.items()]
    network = None if paths is None else NetworkTopology(
        log10_paths=paths.log10_paths, effective_params=paths.effective_params, kept_params=paths.kept_params,
        total_params=paths.total_params, effective_nodes=paths.effective_nodes, total_nodes=paths.total_nodes)
    node_graph, node_note = None, None
    if block_nodes is not None:
        adjacency, node_note = block_node_graph(masks, block_nodes, group_sizes)
        node_graph = node_graph_topology(adjacency) if adjacency is not None else None
    return Topology(layers=layers, network=network, network_note=network_note, node_graph=node_graph,
                    node_graph_note=node_note, seconds=time.perf_counter() - start)
