"""What the two channel-policy search methods (gnnrl, random_search) share as methods: their settings, the
pre-flight check of the MAC budget, and the run of a search from the method context to the best candidate's masks.
The searches themselves are rgp_bench.gnnrl.search. Not a method itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import torch
from omegaconf import DictConfig, OmegaConf

from rgp_bench.config.fields import Number, setting
from rgp_bench.gnnrl.checkpoint import fingerprint
from rgp_bench.gnnrl.env import ChannelEnv, RewardFinetune
from rgp_bench.gnnrl.search import SearchBudget, Searcher, SearchRun, run_search, search_info
from rgp_bench.methods.base import MaskContext, MaskResult, MethodCfg
from rgp_bench.methods.channel import channel_problem, channel_result
from rgp_bench.pruning.layers import PrunableLayer


@dataclass
class SearchCfg(MethodCfg):
    """Settings every channel-policy search (gnnrl, random_search) has: fine-tuning inside the search."""

    # 0 (default) rewards each candidate as masked; N fine-tunes it first for N SGD steps (momentum 0.9) on
    # seeded training batches, as the authors' --finetune option does. Each reward then costs N training steps.
    search_finetune_batches: int = setting(0, check=Number(lo=0, integer=True))
    search_finetune_lr: float = setting(0.01, check=Number(lo=0.0, lo_open=True))


class SearchSettings(Protocol):
    """What the shared search code reads of a search method's settings (gnnrl's, random_search's)."""

    name: str
    lower_bound: float
    search_finetune_batches: int
    search_finetune_lr: float


def reward_finetune(cfg: SearchSettings, ctx: MaskContext) -> RewardFinetune | None:
    """The in-search fine-tuning `cfg` asks for, on the run's training batches; None when off."""
    batches = int(cfg.search_finetune_batches)
    return RewardFinetune(batches, float(cfg.search_finetune_lr), ctx.train_batches) if batches else None


def check_search_budget(cfg: SearchSettings, layers: Sequence[PrunableLayer], ratio: float, model: torch.nn.Module,
                        example: torch.Tensor) -> None:
    """Pre-flight for the search methods: `ratio` of the MACs is reachable with keep fractions in
    [method.lower_bound, 1] on these layers' channel groups (the environment's own check, before any training)."""
    problem = channel_problem(layers, MaskContext(seed=0, model=model, example=example))
    ChannelEnv(problem, ratio, float(cfg.lower_bound), lambda _model: 0.0, str(cfg.name))


def search_masks(label: str, cfg: SearchSettings, layers: Sequence[PrunableLayer], ratio: float, ctx: MaskContext,
                 lower: float, budget: SearchBudget, setting: Any, make_searcher: Callable[[ChannelEnv], Searcher]
                 ) -> MaskResult:
    """Run a search method end to end: channel groups, environment, search, the best candidate's masks.

    `budget` says when the search stops (`setting` is the method's own budget setting, recorded as given);
    `make_searcher(env)` builds the searcher (inside the seeded RNG).
    """
    problem = channel_problem(layers, ctx)
    assert ctx.example is not None
    env = ChannelEnv(problem, ratio, lower, ctx.evaluate, label, reward_finetune(cfg, ctx))
    # Runs pass a DictConfig; a caller may pass a plain mapping of the settings.
    settings = OmegaConf.to_container(cfg) if isinstance(cfg, DictConfig) else dict(cast(Mapping[str, Any], cfg))
    key = fingerprint(method=settings, ratio=ratio, seed=ctx.seed, budget=vars(budget),
                      groups=[(g.id, g.channels, g.prunable) for g in problem.groups])
    where = SearchRun(seed=ctx.seed, device=ctx.device, state_dir=ctx.state_dir, progress=ctx.progress, log=ctx.log)
    result = run_search(lambda: make_searcher(env), env, budget, where, label, key)
    return channel_result(problem, layers, env.budget(result.best), search_info(env, result, budget, setting))
