"""Random search over GNN-RL's policy space: the honest control for gnnrl.

Per-action preserve ratios are drawn uniformly from [lower_bound, 1] (the same actions as gnnrl: residual
streams share one), rescaled to remove exactly `ratio` of the MACs, masked and evaluated on the validation
split with gnnrl's reward; draws go on until `evaluations` distinct keep sets are evaluated (or 3 draws per
requested evaluation are spent: a small policy space has fewer), and the best is kept. `evaluations: auto` is
10,000, the number of environment steps of gnnrl's default search: an upper bound on gnnrl's distinct reward
evaluations, so the control is never short of budget, and its `best_curve` (best reward against distinct
evaluations) gives its best at gnnrl's count; `method.evaluations=N` runs the exact equal-evaluation control
(benchmarks.gnnrl does). Same environment, rescale, reward and info layout as gnnrl (rgp_bench.gnnrl.env
/ search).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rgp_bench.config.choices import Budget, Regime
from rgp_bench.config.fields import AutoOr, Number, setting
from rgp_bench.gnnrl.search import RandomSearcher, random_search_budget
from rgp_bench.methods.base import MaskContext, MaskResult, MethodStyle, Need
from rgp_bench.methods.registry import register_method
from rgp_bench.methods.search import SearchCfg, check_search_budget, search_masks
from rgp_bench.pruning.layers import PrunableLayer


@dataclass
class RandomSearchCfg(SearchCfg):
    name: str = "random_search"
    # Distinct reward evaluations: auto = 10,000 (gnnrl's default environment steps), or an integer.
    evaluations: Any = setting("auto", check=AutoOr(1))
    lower_bound: float = setting(0.1, check=Number(lo=0.0, hi=1.0, lo_open=True, hi_open=False))


@register_method(RandomSearchCfg, canonical_regime=Regime.finetune, style=MethodStyle("#882255", "X"),
                 regimes=(Regime.finetune,), budget=Budget.macs,
                 needs=(Need.model, Need.evaluate, Need.train_batches), check=check_search_budget,
                 description="random search over GNN-RL's per-group preserve ratios (its control)")
def random_search_masks(cfg: RandomSearchCfg, layers: Sequence[PrunableLayer], ratio: float,
                        ctx: MaskContext) -> MaskResult:
    """Keep the best of `evaluations` distinct random policies (each rescaled to the exact MAC budget) by validation
    reward."""
    return search_masks("random_search", cfg, layers, ratio, ctx, float(cfg.lower_bound),
                        random_search_budget(cfg.evaluations), cfg.evaluations,
                        lambda env: RandomSearcher(env, ctx.seed))
