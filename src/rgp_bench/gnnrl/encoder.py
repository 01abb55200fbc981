"""The authors' multi-stage GNN (m-GNN) and the actor-critic built on it.

Stage 1 embeds every level-1 motif (GCN, tanh, mean-pool, linear, tanh): one 20-d vector per layer, which
becomes that layer's edge feature on level 2. Stage 2 passes messages over the whole-network graph, where
the message from u to v is norm_uv * W(x_u ⊙ e_uv) (the authors' multi_stage_conv), then tanh, dropout,
mean-pool, linear and tanh: a 50-d embedding per state. The actor and the critic have separate encoders.
Sizes are the authors' (20 / 50 / 50, actor hidden 200).

Both stages are written as plain tensor arithmetic on precomputed structure (features.py): the motif GCN in
closed form over the 4-node quotient, the network's message passing over its fixed, pre-normalised edges.
That is exactly PyG's GCNConv on the full motif and the authors' MessagePassing layer (tests/test_gnnrl.py
checks both against torch_geometric), at a fraction of the per-call overhead: a search runs tens of thousands
of forward passes on graphs of a few hundred nodes. The GCN's parameters live in a torch_geometric GCNConv, so
this module imports torch_geometric (several seconds) and is imported only when a search runs.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor, nn

from rgp_bench.gnnrl.features import MOTIF_FEATURES, NETWORK_FEATURES, GraphBatch
from rgp_bench.gnnrl.graph import OP_KINDS

with warnings.catch_warnings():  # torch_geometric's import warns about torch.jit deprecations
    warnings.simplefilter("ignore")
    from torch_geometric.nn import GCNConv

EMBED = 20
HIDDEN = 50
GRAPH_EMBED = 50
ACTOR_HIDDEN = 200


class MotifEncoder(nn.Module):
    """Stage 1: one embedding per motif (= per layer): GCN, tanh, mean over the motif's nodes, linear, tanh.

    GCN (self-loops, symmetric normalisation on in-degrees) on the full motif over n channels, with h = x W:
    the input node has in-degree 1 (its self-loop), each channel and result node 2, the output node n + 1, so
    input: h_i; channel: h_c/2 + h_i/√2; result: h_r/2 + h_c/2; output: h_o/(n+1) + n h_r/√(2(n+1)); plus the
    bias. The n channel (and result) nodes are equal, so the mean over all 2n + 2 nodes weighs them by n.
    """

    def __init__(self, in_features: int = MOTIF_FEATURES, hidden: int = HIDDEN, out: int = EMBED) -> None:
        super().__init__()
        self.conv = GCNConv(in_features, hidden)  # its parameters (lin without bias, then bias) are used below
        self.out = nn.Linear(hidden, out)

    def forward(self, x: Tensor, width: Tensor) -> Tensor:
        """Embeddings [L, out] of motifs with quotient node features x [L, 4, F] (input, channel, result, output)
        over `width` [L] channels."""
        h = self.conv.lin(x)
        n = width[:, None]
        h_in, h_ch, h_res, h_out = h.unbind(1)
        conv = torch.stack([h_in, 0.5 * h_ch + h_in / 2**0.5, 0.5 * (h_res + h_ch),
                            h_out / (n + 1) + n * h_res / torch.sqrt(2 * (n + 1))], dim=1)
        t = torch.tanh(conv + self.conv.bias)
        pooled = (t[:, 0] + n * (t[:, 1] + t[:, 2]) + t[:, 3]) / (2 * n + 2)
        return torch.tanh(self.out(pooled))


class EdgeFeatureConv(nn.Module):
    """Stage 2 message passing with edge features: sum over in-edges of norm * W(x_source ⊙ edge), self-loops
    included with edge feature 1 (the authors' multi_stage_conv)."""

    def __init__(self, channels: int = EMBED, out: int = HIDDEN) -> None:
        super().__init__()
        self.lin = nn.Linear(channels, out)

    def forward(self, x: Tensor, source: Tensor, target: Tensor, norm: Tensor, edge_attr: Tensor) -> Tensor:
        """x [N, C]; edges `source` -> `target` with `norm` (self-loops last, their features appended here)."""
        loops = torch.ones(source.numel() - edge_attr.shape[0], edge_attr.shape[1], dtype=x.dtype, device=x.device)
        messages = norm[:, None] * self.lin(x[source] * torch.cat([edge_attr, loops]))
        return torch.zeros(x.shape[0], messages.shape[1], dtype=x.dtype, device=x.device).index_add_(0, target,
                                                                                                   messages)


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
        motif = self.motifs(batch.motif_x, batch.motif_width)
        with_motif = batch.net_edge_layer >= 0
        edge_attr = torch.where(with_motif[:, None], motif[batch.net_edge_layer.clamp_min(0)],
                                self.ops(batch.net_edge_op))
        x = torch.tanh(self.nodes(batch.net_x))
        h = torch.tanh(self.conv(x, batch.net_source, batch.net_target, batch.net_norm, edge_attr))
        h = self.dropout(h)
        pooled = torch.zeros(batch.states, h.shape[1], dtype=h.dtype, device=h.device).index_add_(0, batch.net_state, h)
        pooled = pooled / torch.bincount(batch.net_state, minlength=batch.states).clamp_min(1)[:, None].to(h.dtype)
        return torch.tanh(self.out(pooled))


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
