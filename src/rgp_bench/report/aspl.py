"""Accuracy against the graph's ASPL, for every method whose records carry `method_info.aspl`."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from rgp_bench.report import stats
from rgp_bench.report.columns import method_fact, metric_column
from rgp_bench.report.runs import Run
from rgp_bench.report.variants import ratio_key


@dataclass(frozen=True)
class AsplPoint:
    """The runs of one graph: its ASPL and their accuracy over seeds."""

    aspl: float
    n: int
    acc_mean: float
    acc_std: float | None


@dataclass(frozen=True)
class AsplStudy:
    """Runs of one method (same dataset, model, regime, nodes, degree and epochs) over several graphs."""

    dataset: str
    model: str
    regime: str
    method: str
    nodes: float | None
    degree: float | None
    # Only when the records give no degree: the ratio that stands for the graph's density.
    ratio: float | None
    epochs_total: int
    # '<nodes>_<degree>', or 'ratio <ratio>'
    graph: str
    metric: str
    n_runs: int
    n_graphs: int
    rho: float | None
    # Bootstrap 95 % interval of rho, resampling runs.
    rho_ci: list[float] | None
    p_value: float | None
    # By ASPL, ascending.
    points: list[AsplPoint]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def aspl_studies(runs: Iterable[Run], metric: str, min_graphs: int = 3) -> list[AsplStudy]:
    """Accuracy vs ASPL for every method whose records carry `method_info.aspl`: per (dataset, model, regime,
    method, nodes, degree, epochs) with at least `min_graphs` distinct ASPL values; mean ± std per graph and
    Spearman rho over runs.
    """
    column = metric_column(metric)
    cells: dict[tuple[Any, ...], list[tuple[float, float]]] = defaultdict(list)
    for r in runs:
        rec, aspl, acc = r.record, method_fact(r.record, "aspl"), r.value(column)
        if aspl is None or acc is None:
            continue
        degree = method_fact(rec, "degree")
        key = (rec.dataset, rec.model, rec.regime, rec.method, method_fact(rec, "nodes"), degree,
               None if degree is not None else ratio_key(rec.ratio), rec.epochs.total)
        cells[key].append((float(aspl), acc))
    studies = []
    for (ds, model, regime, method, nodes, degree, ratio, epochs), members in sorted(cells.items(),
                                                                                   key=lambda kv: str(kv[0])):
        by_graph: dict[float, list[float]] = defaultdict(list)
        for aspl, acc in members:
            by_graph[round(aspl, 6)].append(acc)
        if len(by_graph) < min_graphs:
            continue
        points = [_point(aspl, by_graph[aspl]) for aspl in sorted(by_graph)]
        xs, ys = [aspl for aspl, _ in members], [acc for _, acc in members]
        corr = stats.spearman(xs, ys)
        ci = stats.bootstrap_spearman_ci(xs, ys)
        name = f"{nodes}_{degree}" if nodes is not None and degree is not None else f"ratio {ratio}"
        studies.append(AsplStudy(dataset=ds, model=model, regime=regime, method=method, nodes=nodes, degree=degree,
                                 ratio=ratio, epochs_total=epochs, graph=name, metric=metric, n_runs=len(members),
                                 n_graphs=len(points), rho=corr["rho"], rho_ci=None if ci is None else list(ci),
                                 p_value=corr["p_value"], points=points))
    return studies


def _point(aspl: float, accuracies: list[float]) -> AsplPoint:
    """The graph's point: mean, std (stats.mean_std) and number of its runs' accuracies (at least one)."""
    _, std, n = stats.mean_std(accuracies)
    return AsplPoint(aspl, n, statistics.fmean(accuracies), std)
