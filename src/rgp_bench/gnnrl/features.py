"""A GNN-RL state: the two-level graph with deterministic features, rebuilt from the current channel counts.

Level 1, one motif per conv/linear layer (the authors' conv motif, `motif_graph`): node 0 is the layer
input, nodes 1..n its n current input channels, nodes n+1..2n the per-channel conv results and node 2n+1
the summed output, with edges 0 -> i -> n+i -> 2n+1 (a depthwise conv has the same shape over its channels).
The n channel nodes of a motif are interchangeable (same features, same neighbours), so a GCN gives them
identical outputs; a state therefore holds each motif as its 4-node quotient (input, channel, result,
output) and its width n, from which the encoder computes exactly the full (2n+2)-node
motif's GCN embedding in closed form (encoder.MotifEncoder), at any width.
Every motif node carries its role, its layer's kind, kept fractions and log widths of the layer's inputs
and outputs, and the layer's current and dense share of the model's MACs.

Level 2, one node per tensor (graph.py): role, kept fraction and log width of the tensor's channels, the
MAC share of the layer that writes it, and three globals: current MACs / dense, allowed MACs / dense (the
budget) and the step within the episode. No random features anywhere. Its topology is fixed, so its
self-loops and symmetric normalisation are computed once per architecture (`NetworkTopology`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True)
class NetworkTopology:
    """Level 2's message-passing structure, fixed per architecture: the edges, each node's self-loop (feature 1,
    as in the authors' code) and the symmetric normalisation deg^-1/2(source) deg^-1/2(target) on in-degrees
    with the self-loops counted."""

    edge_index: Tensor  # long [2, E]
    edge_norm: Tensor  # float [E]
    loop_norm: Tensor  # float [N]
    edge_op: Tensor  # long [E], index into OP_KINDS
    edge_layer: Tensor  # long [E], the conv/linear layer of the edge, or -1
    nodes: int

    @classmethod
    def of(cls, graph: NetworkGraph) -> NetworkTopology:
        degree = torch.bincount(graph.edge_index[1], minlength=graph.num_nodes).float() + 1.0
        inv_sqrt = degree.pow(-0.5)
        return cls(graph.edge_index, inv_sqrt[graph.edge_index[0]] * inv_sqrt[graph.edge_index[1]], 1.0 / degree,
                   graph.edge_op, graph.edge_layer, graph.num_nodes)


@dataclass(frozen=True)
class GraphState:
    """One state's tensors: level 1, the motif quotients' node features [L, 4, MOTIF_FEATURES] and the motifs'
    widths n (current input channels); level 2, node features `net_x` over the fixed topology."""

    motif_x: Tensor  # float [L, 4, MOTIF_FEATURES]
    motif_width: Tensor  # float [L]
    net_x: Tensor  # float [N, NETWORK_FEATURES]
    topology: NetworkTopology


@dataclass(frozen=True)
class GraphBatch:
    """Several states as one disjoint graph: layers of state b are numbered b*L.., nodes offset likewise."""

    motif_x: Tensor  # [B*L, 4, MOTIF_FEATURES]
    motif_width: Tensor  # [B*L]
    net_x: Tensor  # [B*N, NETWORK_FEATURES]
    net_source: Tensor  # [B*E + B*N]: the edges of every state, then every node's self-loop
    net_target: Tensor
    net_norm: Tensor
    net_edge_op: Tensor  # [B*E]
    net_edge_layer: Tensor  # [B*E], into the B*L layers, or -1 for an operation without a motif
    net_state: Tensor  # long [B*N]: the state each level-2 node belongs to
    states: int

    def to(self, device: torch.device) -> GraphBatch:
        moved: dict[str, Any] = {k: v.to(device) if isinstance(v, Tensor) else v for k, v in self.__dict__.items()}
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
        self._motif_roles = F.one_hot(torch.arange(MOTIF_ROLES), MOTIF_ROLES).float().expand(graph.num_layers, -1, -1)
        self.topology = NetworkTopology.of(graph)
        self._mac_share = graph.node_layer.clamp_min(0)
        self._has_layer = (graph.node_layer >= 0)[:, None]

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
        motif_x = torch.cat([self._motif_roles, layer_features[:, None].expand(-1, MOTIF_ROLES, -1)], dim=2)
        current = (self.counts.fixed_macs + int(all_macs.sum())) / self.counts.total
        group_fraction = torch.cat([group_counts.float() / self.counts.channels, torch.ones(1)])
        fraction = self._fractions @ group_fraction
        mac_share = torch.where(self._has_layer, share[self._mac_share, None], 0.0)
        globals_ = torch.tensor([current, allowed, progress]).expand(self.graph.num_nodes, 3)
        net_x = torch.cat([self._roles, fraction[:, None], _log_width(fraction * self.graph.node_channels)[:, None],
                           mac_share, globals_], dim=1)
        return GraphState(motif_x, inputs[:, 0], net_x, self.topology)


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
    topology = states[0].topology
    count, nodes, layers = len(states), topology.nodes, states[0].motif_width.numel()
    edges = (topology.edge_index[:, None, :] + torch.arange(count)[:, None] * nodes).flatten(1)  # [2, B*E]
    loops = torch.arange(count * nodes)
    edge_layer = topology.edge_layer.repeat(count, 1)
    layer_offset = torch.arange(count)[:, None] * layers
    return GraphBatch(
        motif_x=torch.cat([s.motif_x for s in states]),
        motif_width=torch.cat([s.motif_width for s in states]),
        net_x=torch.cat([s.net_x for s in states]),
        net_source=torch.cat([edges[0], loops]),
        net_target=torch.cat([edges[1], loops]),
        net_norm=torch.cat([topology.edge_norm.repeat(count), topology.loop_norm.repeat(count)]),
        net_edge_op=topology.edge_op.repeat(count),
        net_edge_layer=torch.where(edge_layer >= 0, edge_layer + layer_offset, -1).flatten(),
        net_state=torch.arange(count).repeat_interleave(nodes),
        states=count,
    )
