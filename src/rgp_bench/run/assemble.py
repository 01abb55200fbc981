"""A run's record, assembled in one place from its identity, its plan and what its phases produced."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from rgp_bench.config.choices import Budget
from rgp_bench.core.hardware import Hardware
from rgp_bench.measure import MAC_CONVENTION, CostReport
from rgp_bench.methods import MaskResult, Method
from rgp_bench.pruning.collapse import Collapse
from rgp_bench.record.costs import Reduction
from rgp_bench.record.provenance import environment, now_iso
from rgp_bench.record.schema import (
    Accuracy,
    BudgetFacts,
    CollapseFacts,
    Cost,
    DenseCache,
    Epochs,
    HistoryRow,
    Latency,
    RunRecord,
    Sparsity,
)
from rgp_bench.record.topology import Topology
from rgp_bench.run.plan import RunPlan
from rgp_bench.train import PhaseResult


@dataclass(frozen=True)
class DensePhase:
    """The dense pretraining of the finetune regime: its epochs, its curve, its test scores and its cache entry."""

    epochs: int
    history: list[dict[str, Any]]
    test: dict[str, float]
    cache: DenseCache
    # Epochs restored from the pretraining's own checkpoint (a resumed pretraining); 0 on a cache hit.
    resumed_from: int = 0


@dataclass(frozen=True)
class Pruned:
    """The masks the run trains with, and whether they disconnect the network."""

    result: MaskResult
    collapse: Collapse


@dataclass(frozen=True)
class Measured:
    """The pruned model's costs, its prunable layers' sparsity and what pruning removed."""

    cost: CostReport
    achieved: float
    reduction: Reduction


@dataclass(frozen=True)
class Outcome:
    """What the phases of one run produced, for its record."""

    dense: DensePhase | None
    pruned: Pruned
    measured: Measured
    trained: PhaseResult
    accuracy: Accuracy
    latency: Latency | None
    topology: Topology | None = None


def assemble_record(identity: dict[str, Any], plan: RunPlan, method: Method, dense_cost: CostReport,
                    outcome: Outcome, *, timings: dict[str, float],
                    peak_memory_mib: dict[str, float] | None = None, config: dict[str, Any], hardware: Hardware,
                    out_dir: Path) -> RunRecord:
    """The run's record, from its identity, its plan and what its phases produced."""
    requested = identity["ratio"]
    cost, collapse = outcome.measured.cost, outcome.pruned.collapse
    achieved = outcome.measured.achieved
    dense = outcome.dense
    return RunRecord(
        **identity, created=now_iso(),
        epochs=Epochs(pretrain=plan.pretrain_epochs, train=plan.train.epochs, total=plan.total,
                      resumed_from=(dense.resumed_from if dense else 0) + outcome.trained.resumed_from),
        accuracy=outcome.accuracy,
        sparsity=Sparsity(requested=requested, achieved=achieved,
                          overall=1.0 - cost.total.params_nonzero / cost.total.params),
        collapse=CollapseFacts(collapsed=collapse.collapsed, no_path=collapse.no_path,
                               empty_layers=list(collapse.empty_layers), narrowest_layer=collapse.narrowest[0],
                               narrowest_kept=collapse.narrowest[1]),
        budget=BudgetFacts(basis=str(method.budget), requested=requested,
                           achieved=outcome.measured.reduction.macs if method.budget == Budget.macs else achieved),
        cost=Cost(mac_convention=MAC_CONVENTION, dense=dense_cost.total, pruned=cost.total,
                  prunable=cost.prunable, prunable_dense=dense_cost.prunable,
                  reduction=outcome.measured.reduction, layers=cost.layers, latency=outcome.latency),
        method_info=outcome.pruned.result.info,
        history=[HistoryRow(**row) for row in (dense.history if dense else []) + outcome.trained.history],
        dense_cache=dense.cache if dense else None,
        timings=timings,
        config=config,
        method_defaults=method_defaults(method),
        method_facts=method.facts,
        topology=outcome.topology,
        peak_memory_mib=dict(peak_memory_mib or {}),
        environment=environment(hardware.describe()),
        output_dir=str(out_dir.resolve()),
    )


def resolved_config(cfg: DictConfig) -> dict[str, Any]:
    """The run's config, resolved, with enums as strings: as the record and the saved model store it."""
    config = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    assert isinstance(config, dict)
    return {str(k): v for k, v in config.items()}


def method_defaults(method: Method) -> dict[str, Any]:
    """The method's own settings at their schema defaults (`name` aside), as the record stores them."""
    defaults = OmegaConf.to_container(OmegaConf.structured(method.schema), enum_to_str=True)
    assert isinstance(defaults, dict)
    return {str(k): v for k, v in defaults.items() if k != "name"}
