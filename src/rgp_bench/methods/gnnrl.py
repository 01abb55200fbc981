"""GNN-RL (Yu, Mazaheri, Jannesari, ICML 2022; arXiv 2102.03214): PPO over a two-level graph of the network.

The network is a graph (rgp_bench.gnnrl.graph / features): one motif per conv/linear layer, sized by its
current channel counts, and the whole network with one edge per operation, rebuilt after every step. A
multi-stage GNN (encoder) embeds it for a PPO agent (ppo) whose actions are per-group preserve ratios; the
environment (env) masks the pretrained model and rewards the validation top-1 - 100. The best candidate,
rescaled to remove exactly `ratio` of the MACs, is fine-tuned by the pipeline. random_search is the control.
docs/gnnrl.md has the measurements. The decisions on the points the paper or the code leave open
(the paper and the authors' code, yusx-swapp/GNN-RL-Model-Compression):

1. Features: deterministic, no random noise. Motif nodes: role, layer kind, kept fraction and log width of
   the layer's inputs and outputs, current and dense MAC share. Network nodes: role, kept fraction and log
   width of the tensor, MAC share of its writer, current and allowed MACs / dense, step / max_steps.
   Conv/linear edges carry their motif's embedding; every other operation a learned nn.Embedding of its kind.
2. Granularity: the authors' motif (2n+2 nodes over n input channels) for every conv/linear layer, held as
   its 4-node quotient and its width (the n channel nodes are interchangeable, so the full motif's GCN
   embedding has a closed form over the quotient): any width, no cap and no cost. Level 2: one node per
   tensor and one edge per operation, read off torch.fx (residual adds and concatenations are nodes with
   several in-edges).
3. Actions: the authors' scheme: 5 steps of p <- clip(p (1 - a), lower_bound, 1), a ~ N(tanh mean, 0.5²)
   with a fixed std; an episode ends when the MAC budget is met. A candidate is then rescaled by one common
   factor to remove exactly `ratio` of the MACs (to one channel; pruning.channels.keep_for_policy).
4. Coupled channels: ratio and indices are shared within a channel group (ranked by the sum of its
   producers' L2 filter norms, the authors' criterion), so masks equal physical removal; every residual
   stream shares action 0 (the authors' a₀), every other prunable group has its own action. The action space
   is the authors': channel methods' layer set (pruning/layers.py) makes the stem's output channels prunable,
   so on the CIFAR ResNets a₀ covers the stem and every block's conv2 in all three stages (3n+1 actions), and
   VGG-16's 13 actions are its convs' outputs (the model declares its hidden FC layers fixed-width).
5. FLOPs: the project's MAC count of the applied masks (ChannelMacs, equal to the record's), all conv and
   linear layers, depthwise convs exact; `ratio` is the fraction of the model's MACs removed.
6. Reward: top-1 on the validation split (carved from training data; the test split is never reachable),
   minus 100; 0 for steps before the budget is met, -100 when the last step misses it. The same split every
   episode (train.limit_batches honoured). Masked channels output zero (BN γ/β masked); no BN recalibration.
   Fine-tuning inside the search is off by default; `method.search_finetune_batches=N` fine-tunes every
   candidate for N SGD steps on seeded training batches first (masks re-applied after each step). Identical
   keep sets are evaluated once (the reward is deterministic either way).
7. PPO: the authors' constants (action_std 0.5, K_epochs 10, eps_clip 0.2, gamma 0.99, lr 3e-4, update every
   100 environment steps, one Adam); states are batched as one disjoint graph (fixing the authors' torch.cat
   bug); eval mode when acting (no dropout), dropout 0.5 when updating; separate actor and critic encoders;
   the critic has no tanh. Budget: `episodes: auto` = until 100 PPO updates (10,000 environment steps at
   update_every 100, the episode in progress finished), a trained policy at a CPU-sized cost; the authors ran
   max_episodes = 15,000 (which always ran out), as the presets pin. No early stopping.
8. Selection: the best-reward candidate over the search (first of ties); the final policy's mean actions are
   played out and recorded (info.mean_policy, not evaluated). If no episode met the budget, the uniform
   policy rescaled to it is used (info.fallback).
9. Multi-pass pruning: not done; one search at the target (the presets use the README targets directly).
10. Fine-tuning: the pipeline's finetune regime with frozen masks, as for every method (only finetune is
    allowed); the presets pin the authors' recipe (SGD 0.9, cosine, lr 0.005, wd 4e-5, 200 epochs).
11. Architectures: any model the channel-group builder handles (every zoo model), with no per-architecture
    code; the lower bound is 0.1 everywhere (the authors' 0.9 for MobileNets cannot reach their MobileNet
    FLOPs targets under an exact count).
12. Reproducibility: the run seed drives the agent's init, the action noise, dropout and the random search;
    a search checkpoints every few episodes to the run's state_dir and resumes to the same result; report
    3 seeds (the presets sweep seed 0,1,2 on CIFAR).

Cost (no change of semantics): the search runs on one thread; states and the acting policy's mean are
computed once per state between two updates; the exact-budget rescale works on kept counts; one model copy is
masked in place; validation batches stay in memory (docs/gnnrl.md, "Where the time goes").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rgp_bench.config.choices import Budget, Regime
from rgp_bench.config.fields import AutoOr, Number, setting
from rgp_bench.gnnrl.ppo import PPOSettings
from rgp_bench.gnnrl.search import GnnrlSearcher, GnnrlSettings, gnnrl_budget
from rgp_bench.methods.base import MaskContext, MaskResult, MethodStyle, Need
from rgp_bench.methods.registry import register_method
from rgp_bench.methods.search import SearchCfg, check_search_budget, search_masks
from rgp_bench.pruning.layers import PrunableLayer

POSITIVE = Number(lo=1, integer=True)
LOWER_BOUND = Number(lo=0.0, hi=1.0, lo_open=True, hi_open=False)  # (0, 1]


@dataclass
class GnnrlCfg(SearchCfg):
    """Defaults: the authors' PPO constants, except the episode budget (docs/gnnrl.md)."""

    name: str = "gnnrl"
    # auto = until 100 PPO updates (10,000 environment steps at update_every 100); or a number of episodes
    # (the authors': 15000).
    episodes: Any = setting("auto", check=AutoOr(1))
    max_steps: int = setting(5, check=POSITIVE)
    # Preserve ratios are clipped to [lower_bound, 1] (the authors: 0.1 for ResNets and VGG, 0.9 for MobileNets).
    lower_bound: float = setting(0.1, check=LOWER_BOUND)
    action_std: float = setting(0.5, check=Number(lo=0.0, lo_open=True))
    k_epochs: int = setting(10, check=POSITIVE)
    eps_clip: float = setting(0.2, check=Number(lo=0.0, hi=1.0, lo_open=True))
    gamma: float = setting(0.99, check=Number(lo=0.0, hi=1.0, hi_open=False))
    lr: float = setting(3e-4, check=Number(lo=0.0, lo_open=True))
    # PPO update every this many environment steps (not episodes).
    update_every: int = setting(100, check=POSITIVE)


def settings_of(cfg: GnnrlCfg) -> GnnrlSettings:
    """The search settings of a gnnrl config."""
    ppo = PPOSettings(action_std=float(cfg.action_std), k_epochs=int(cfg.k_epochs), eps_clip=float(cfg.eps_clip),
                      gamma=float(cfg.gamma), lr=float(cfg.lr), update_every=int(cfg.update_every))
    return GnnrlSettings(max_steps=int(cfg.max_steps), ppo=ppo)


@register_method(GnnrlCfg, canonical_regime=Regime.finetune, style=MethodStyle("#cc79a7", "P"),
                 regimes=(Regime.finetune,), budget=Budget.macs,
                 needs=(Need.model, Need.evaluate, Need.train_batches), check=check_search_budget,
                 description="GNN-RL: PPO channel pruning policies over a two-level network graph (ICML 2022)")
def gnnrl_masks(cfg: GnnrlCfg, layers: Sequence[PrunableLayer], ratio: float, ctx: MaskContext) -> MaskResult:
    """Search per-group preserve ratios with PPO on the validation reward; the best, rescaled to remove exactly
    `ratio` of the MACs, gives the channel masks."""
    settings = settings_of(cfg)
    budget = gnnrl_budget(cfg.episodes, settings.ppo.update_every)
    example = ctx.example
    assert example is not None, "MaskContext.example is always supplied"
    return search_masks("gnnrl", cfg, layers, ratio, ctx, float(cfg.lower_bound), budget, cfg.episodes,
                        lambda env: GnnrlSearcher(env, example, settings, ctx.seed, ctx.device))
