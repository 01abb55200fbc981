"""Random search over GNN-RL's policy space: the honest control for gnnrl.

Per-action preserve ratios are drawn uniformly from [lower_bound, 1] (the same actions as gnnrl: residual
streams share one), rescaled to remove exactly `ratio` of the MACs, masked and evaluated on the validation
split with gnnrl's reward; the best of `evaluations` candidates is kept. `evaluations: auto` is gnnrl's
default episode budget for the model, an upper bound on gnnrl's reward evaluations (gnnrl evaluates only
the episodes that meet the budget; both record their counts under info["search"]). Same environment, rescale,
reward and info layout as gnnrl (rgp_bench.gnnrl.env / search).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig

from rgp_bench.config.choices import Budget, Regime
from rgp_bench.config.fields import AutoOr, Number, setting
from rgp_bench.gnnrl.search import RandomSearcher, SearchCfg, search_masks
from rgp_bench.methods.base import MaskContext, MaskResult, Need
from rgp_bench.methods.registry import register_method
from rgp_bench.pruning.layers import PrunableLayer


@dataclass
class RandomSearchCfg(SearchCfg):
    name: str = "random_search"
    # auto = gnnrl's default episode budget for this model (gnnrl's `episodes: auto`); or an integer.
    evaluations: Any = setting("auto", check=AutoOr(1))
    lower_bound: float = setting(0.1, check=Number(lo=0.0, hi=1.0, lo_open=True, hi_open=False))


@register_method(RandomSearchCfg, canonical_regime=Regime.finetune, regimes=(Regime.finetune,), budget=Budget.macs,
                 needs=(Need.model, Need.evaluate, Need.train_batches),
                 description="random search over GNN-RL's per-group preserve ratios (its control)")
def random_search_masks(cfg: DictConfig, layers: Sequence[PrunableLayer], ratio: float,
                        ctx: MaskContext) -> MaskResult:
    """Keep the best of `evaluations` random policies (each rescaled to the exact MAC budget) by validation reward."""
    return search_masks("random_search", cfg, layers, ratio, ctx, float(cfg.lower_bound), cfg.evaluations,
                        lambda env: RandomSearcher(env, ctx.seed))
