"""Cost measurement: parameters and MACs, dense and effective."""

from rgp_bench.measure.costs import (
    CostReport,
    CostTotals,
    LayerCost,
    Reduction,
    measure_costs,
    reductions,
)
from rgp_bench.measure.macs import MAC_CONVENTION
from rgp_bench.measure.timer import Timer

__all__ = ["MAC_CONVENTION", "CostReport", "CostTotals", "LayerCost", "Reduction", "Timer", "measure_costs",
           "reductions"]
