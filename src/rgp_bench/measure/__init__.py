"""Cost measurement: parameters and MACs, dense and effective."""

from rgp_bench.measure.costs import MAC_CONVENTION, CostReport, LayerCost, measure_costs, reductions

__all__ = ["MAC_CONVENTION", "CostReport", "LayerCost", "measure_costs", "reductions"]
