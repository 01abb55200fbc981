"""The authors' multi-stage GNN (m-GNN) and the actor-critic built on it, with torch_geometric.

Stage 1 embeds every level-1 motif (GCN, tanh, mean-pool, linear, tanh): one 20-d vector per layer, which
becomes that layer's edge feature on level 2. Stage 2 passes messages over the whole-network graph, where
the message from u to v is norm_uv * W(x_u ⊙ e_uv) (the authors' multi_stage_conv), then tanh, dropout,
mean-pool, linear and tanh: a 50-d embedding per state. The actor and the critic have separate encoders.
Sizes are the authors' (20 / 50 / 50, actor hidden 200).

This module imports torch_geometric (several seconds), so it is imported only when a search runs.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor, nn

from rgp_bench.gnnrl.features import MOTIF_FEATURES, NETWORK_FEATURES, GraphBatch
from rgp_bench.gnnrl.graph import OP_KINDS

with warnings.catch_warnings():  # torch_geometric's import warns about torch.jit deprecations
    warnings.simplefilter("ignore")
    from torch_geometric.nn import GCNConv, MessagePassing, global_add_pool, global_mean_pool
    from torch_geometric.utils import add_self_loops, degree

EMBED = 20
HIDDEN = 50
GRAPH_EMBED = 50
ACTOR_HIDDEN = 200


class MotifEncoder(nn.Module):
    """Stage 1: one embedding per motif (= per layer), from its quotient graph (features.py)."""

    def __init__(self, in_features: int = MOTIF_FEATURES, hidden: int = HIDDEN, out: int = EMBED) -> None:
        super().__init__()
        self.conv = GCNConv(in_features, hidden)
        self.out = nn.Linear(hidden, out)

    def forward(self, x: Tensor, weight: Tensor, edge_index: Tensor, edge_weight: Tensor, layer: Tensor,
                layers: int) -> Tensor:
        """Embeddings of motif quotients: GCN with the edge weights, then the mean over the full motif's nodes."""
        h = torch.tanh(self.conv(x, edge_index, edge_weight))
        pooled = global_add_pool(h * weight[:, None], layer, size=layers)
        pooled = pooled / global_add_pool(weight[:, None], layer, size=layers)
        return torch.tanh(self.out(pooled))


class EdgeFeatureConv(MessagePassing):
    """Stage 2 message passing with edge features: sum over in-edges of norm * W(x_source ⊙ edge)."""

    def __init__(self, channels: int = EMBED, out: int = HIDDEN) -> None:
        super().__init__(aggr="add")
        self.lin = nn.Linear(channels, out)

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor) -> Tensor:
        # Self-loops carry the feature 1 (so a node keeps its own state), as in the authors' code.
        edge_index, edge_attr = add_self_loops(edge_index, edge_attr, fill_value=1.0, num_nodes=x.size(0))
        deg = degree(edge_index[1], x.size(0), dtype=x.dtype)
        inv_sqrt = deg.pow(-0.5).masked_fill(deg == 0, 0.0)
        norm = inv_sqrt[edge_index[0]] * inv_sqrt[edge_index[1]]
        return self.propagate(edge_index, x=x, edge_attr=edge_attr, norm=norm)

    def message(self, x_j: Tensor, edge_attr: Tensor, norm: Tensor) -> Tensor:
        return norm[:, None] * self.lin(x_j * edge_attr)


class MultiStageEncoder(nn.Module):
    """Both stages: a batch of states to one GRAPH_EMBED-d embedding per state."""

    def __init__(self, dropout: float = 0.5) -> None:
        super().__init__()
        self.motifs = MotifEncoder()
        self.nodes = nn.Linear(NETWORK_FEATURES, EMBED)
        self.ops = nn.Embedding(len(OP_KINDS), EMBED)  # learned features of the edges without a motif
        self.conv = EdgeFeatureConv()
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(HIDDEN, GRAPH_EMBED)

    def forward(self, batch: GraphBatch) -> Tensor:
        motif = self.motifs(batch.motif_x, batch.motif_weight, batch.motif_edge_index, batch.motif_edge_weight,
                            batch.motif_layer, batch.layers)
        with_motif = batch.net_edge_layer >= 0
        edge_attr = torch.where(with_motif[:, None], motif[batch.net_edge_layer.clamp_min(0)],
                                self.ops(batch.net_edge_op))
        x = torch.tanh(self.nodes(batch.net_x))
        h = self.dropout(torch.tanh(self.conv(x, batch.net_edge_index, edge_attr)))
        return torch.tanh(self.out(global_mean_pool(h, batch.net_state, size=batch.states)))


class ActorCritic(nn.Module):
    """Actor: encoder -> 200 -> ReLU -> `actions` -> tanh (the action mean). Critic: its own encoder -> 1."""

    def __init__(self, actions: int) -> None:
        super().__init__()
        self.actor_encoder = MultiStageEncoder()
        self.actor = nn.Sequential(nn.Linear(GRAPH_EMBED, ACTOR_HIDDEN), nn.ReLU(), nn.Linear(ACTOR_HIDDEN, actions),
                                   nn.Tanh())
        self.critic_encoder = MultiStageEncoder()
        self.critic = nn.Linear(GRAPH_EMBED, 1)  # no tanh (unlike the authors'): normalised returns exceed ±1

    def mean(self, batch: GraphBatch) -> Tensor:
        """Action means, [states, actions]."""
        return self.actor(self.actor_encoder(batch))

    def value(self, batch: GraphBatch) -> Tensor:
        """State values, [states]."""
        return self.critic(self.critic_encoder(batch)).squeeze(-1)

    def forward(self, batch: GraphBatch) -> tuple[Tensor, Tensor]:
        return self.mean(batch), self.value(batch)
