"""A GNN-RL state: the two-level graph with deterministic features, rebuilt from the current channel counts.

Level 1, one motif per conv/linear layer (the authors' conv motif, `motif_graph`): node 0 is the layer
input, nodes 1..n its n current input channels, nodes n+1..2n the per-channel conv results and node 2n+1
the summed output, with edges 0 -> i -> n+i -> 2n+1 (a depthwise conv has the same shape over its channels).
The n channel nodes of a motif are interchangeable (same features, same neighbours), so a GCN gives them
identical outputs; a state therefore holds each motif as its 4-node quotient (input, channel, result,
output) with the multiplicities 1, n, n, 1 as node weights and n as the weight of the result -> output
edge. With those weights, GCN's symmetric normalisation and a weighted mean-pool give exactly the embedding
of the full (2n+2)-node motif at any width, so wide layers need no cap and cost nothing extra.
Every motif node carries its role, its layer's kind, kept fractions and log widths of the layer's inputs
and outputs, and the layer's current and dense share of the model's MACs.

Level 2, one node per tensor (graph.py): role, kept fraction and log width of the tensor's channels, the
MAC share of the layer that writes it, and three globals: current MACs / dense, allowed MACs / dense (the
budget) and the step within the episode. No random features anywhere.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from rgp_bench.gnnrl.counts import PolicyCounts
from rgp_bench.gnnrl.graph import LAYER_KINDS, NODE_ROLES, NetworkGraph

MOTIF_ROLES = 4  # input, channel, result, output
MOTIF_FEATURES = MOTIF_ROLES + len(LAYER_KINDS) + 6
NETWORK_FEATURES = len(NODE_ROLES) + 6
_LOG_SCALE = 1.0 / math.log2(1 + 2**16)  # log widths in [0, 1] up to 65k channels


def _log_width(width: Tensor) -> Tensor:
    return torch.log2(1.0 + width) * _LOG_SCALE


def motif_graph(n: int) -> tuple[Tensor, Tensor]:
    """The full conv motif over n input channels: node roles (0 input, 1 channel, 2 result, 3 output) and edges."""
    channel = torch.arange(1, n + 1)
    roles = torch.cat([torch.zeros(1), torch.ones(n), torch.full((n,), 2), torch.full((1,), 3)]).long()
    source = torch.cat([torch.zeros(n, dtype=torch.long), channel, channel + n])
    target = torch.cat([channel, channel + n, torch.full((n,), 2 * n + 1)])
    return roles, torch.stack([source, target])


def quotient_motifs(widths: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Quotients of the motifs of layers with `widths` input channels, 4 nodes each, in layer order.

    Returns node roles, node weights (multiplicities 1, n, n, 1), edges (input -> channel -> result ->
    output) and edge weights (1, 1, n).
    """
    layers = widths.numel()
    n = widths.to(torch.float32)
    roles = torch.arange(MOTIF_ROLES).repeat(layers)
    weights = torch.stack([torch.ones(layers), n, n, torch.ones(layers)], dim=1).flatten()
    base = 4 * torch.arange(layers)
    source = torch.stack([base, base + 1, base + 2], dim=1).flatten()
    edge_weight = torch.stack([torch.ones(layers), torch.ones(layers), n], dim=1).flatten()
    return roles, weights, torch.stack([source, source + 1]), edge_weight


@dataclass(frozen=True)
class GraphState:
    """One state's tensors. Level 1: the motif quotients' node features, weights, edges, edge weights and the
    layer of each node; level 2: node features `net_x` over the fixed topology of `graph`."""

    motif_x: Tensor  # float [4L, MOTIF_FEATURES]
    motif_weight: Tensor  # float [4L], multiplicity of each quotient node
    motif_edge_index: Tensor  # long [2, 3L]
    motif_edge_weight: Tensor  # float [3L]
    motif_layer: Tensor  # long [4L]
    net_x: Tensor  # float [N, NETWORK_FEATURES]
    graph: NetworkGraph


@dataclass(frozen=True)
class GraphBatch:
    """Several states as one disjoint graph: layers of state b are numbered b*L.., nodes offset likewise."""

    motif_x: Tensor
    motif_weight: Tensor
    motif_edge_index: Tensor
    motif_edge_weight: Tensor
    motif_layer: Tensor  # into the B*L layers of the batch
    net_x: Tensor
    net_edge_index: Tensor
    net_edge_op: Tensor
    net_edge_layer: Tensor  # into the B*L layers, or -1 for an operation without a motif
    net_state: Tensor  # long [B*N]: the state each level-2 node belongs to
    states: int
    layers: int  # B * L

    def to(self, device: torch.device) -> GraphBatch:
        moved = {k: v.to(device) if isinstance(v, Tensor) else v for k, v in self.__dict__.items()}
        return GraphBatch(**moved)


class StateBuilder:
    """Builds the GraphState of a policy's channel counts for one architecture (its graph and counts)."""

    def __init__(self, graph: NetworkGraph, counts: PolicyCounts) -> None:
        self.graph = graph
        self.counts = counts
        order = {name: i for i, name in enumerate(counts.layer_names)}
        self._layers = torch.tensor([order[name] for name in graph.layers], dtype=torch.long)
        self._depthwise = torch.tensor([kind == "depthwise" for kind in graph.layer_kinds])[:, None]
        self._dense = self._motif_widths(counts.layer_widths(counts.channels))
        self._dense_share = counts.layer_macs(counts.layer_widths(counts.channels))[self._layers] / counts.total
        kinds = torch.tensor([LAYER_KINDS.index(kind) for kind in graph.layer_kinds], dtype=torch.long)
        self._kind = F.one_hot(kinds, len(LAYER_KINDS)).float()
        self._roles = F.one_hot(graph.node_roles, len(NODE_ROLES)).float()
        self._fractions = _fraction_map(graph, counts.group_ids)
        self._motif_layer = torch.arange(graph.num_layers).repeat_interleave(MOTIF_ROLES)
        self._motif_roles = F.one_hot(torch.arange(MOTIF_ROLES).repeat(graph.num_layers), MOTIF_ROLES).float()

    def _motif_widths(self, widths: Tensor) -> Tensor:
        """(outputs, inputs) per graph layer; a depthwise conv's weight has one input position, its motif spans
        its channels."""
        widths = widths[self._layers].float()
        return torch.where(self._depthwise, widths[:, :1].expand(-1, 2), widths)

    def __call__(self, group_counts: Tensor, allowed: float, progress: float) -> GraphState:
        """The state at these kept channels per group: `allowed` is the MAC budget as a fraction of dense,
        `progress` the step over max_steps."""
        widths = self.counts.layer_widths(group_counts)
        all_macs = self.counts.layer_macs(widths)
        share = all_macs[self._layers].float() / self.counts.total
        kept = self._motif_widths(widths)
        outputs, inputs = kept[:, :1], kept[:, 1:]
        layer_features = torch.cat([self._kind, inputs / self._dense[:, 1:], outputs / self._dense[:, :1],
                                    _log_width(inputs), _log_width(outputs), share[:, None],
                                    self._dense_share[:, None].float()], dim=1)
        _, weights, edges, edge_weights = quotient_motifs(inputs[:, 0])
        motif_x = torch.cat([self._motif_roles, layer_features[self._motif_layer]], dim=1)
        current = (self.counts.fixed_macs + int(all_macs.sum())) / self.counts.total
        group_fraction = torch.cat([group_counts.float() / self.counts.channels, torch.ones(1)])
        fraction = self._fractions @ group_fraction
        graph = self.graph
        mac_share = torch.where(graph.node_layer >= 0, share[graph.node_layer.clamp_min(0)], torch.zeros(()))
        globals_ = torch.tensor([current, allowed, progress]).expand(graph.num_nodes, 3)
        net_x = torch.cat([self._roles, fraction[:, None], _log_width(fraction * graph.node_channels)[:, None],
                           mac_share[:, None], globals_], dim=1)
        return GraphState(motif_x, weights, edges, edge_weights, self._motif_layer, net_x, graph)


def _fraction_map(graph: NetworkGraph, group_ids: Sequence[str]) -> Tensor:
    """M with kept fraction of every tensor = M @ [kept fraction per group, 1]: a tensor written by a module of
    a group has the group's; one that follows its inputs has their channel-weighted mean (a concatenation's
    exact fraction); the rest keep all channels."""
    index = {gid: i for i, gid in enumerate(group_ids)}
    rows = torch.zeros(graph.num_nodes, len(group_ids) + 1)
    for v, (group, inputs) in enumerate(zip(graph.node_group, graph.node_inputs, strict=True)):
        if group is not None:
            rows[v, index[group]] = 1.0
        elif inputs:
            weights = graph.node_channels[list(inputs)]
            rows[v] = (weights[:, None] * rows[list(inputs)]).sum(0) / weights.sum()
        else:
            rows[v, -1] = 1.0
    return rows


def collate(states: Sequence[GraphState]) -> GraphBatch:
    """Batch states of one architecture into one disjoint graph (every state's embedding stays its own)."""
    graph = states[0].graph
    layers, nodes, count = graph.num_layers, graph.num_nodes, len(states)
    motif_nodes = MOTIF_ROLES * layers
    edge_layer = graph.edge_layer.repeat(count)
    edge_state = torch.repeat_interleave(torch.arange(count), graph.edge_layer.numel())
    return GraphBatch(
        motif_x=torch.cat([s.motif_x for s in states]),
        motif_weight=torch.cat([s.motif_weight for s in states]),
        motif_edge_index=torch.cat([s.motif_edge_index + b * motif_nodes for b, s in enumerate(states)], dim=1),
        motif_edge_weight=torch.cat([s.motif_edge_weight for s in states]),
        motif_layer=torch.cat([s.motif_layer + b * layers for b, s in enumerate(states)]),
        net_x=torch.cat([s.net_x for s in states]),
        net_edge_index=torch.cat([graph.edge_index + b * nodes for b in range(count)], dim=1),
        net_edge_op=graph.edge_op.repeat(count),
        net_edge_layer=torch.where(edge_layer >= 0, edge_layer + edge_state * layers, -1),
        net_state=torch.repeat_interleave(torch.arange(count), nodes),
        states=count,
        layers=count * layers,
    )
