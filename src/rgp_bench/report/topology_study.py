"""Does a mask's topology predict accuracy? The pre-registered test of conf/experiment/topology_study.yaml.

For each measure of the record's `topology` block (layer measures averaged over the prunable layers), Spearman's rho
with test accuracy within each (dataset, model, ratio) cell, and the partial rho controlling for the per-layer
density profile: the ranks of the measure and of the accuracy are each regressed on the principal components of the
cell's per-layer densities (with an intercept) and the residuals correlated; its p from Student's t with n − 2 − k
degrees of freedom (k components), as scipy's spearmanr does for k = 0. Cells are pooled by Fisher's z weighted by n
− 3 − k. The 95 % interval is a percentile bootstrap of the pooled partial rho over all seeds (runs resampled within
cells), where every cell has at least MIN_BOOTSTRAP_RUNS runs. Discovery (seeds 0–4) and confirmation (seeds 5–9)
are tested apart, each with Holm's correction over the measures; a measure's claim holds only when the partial rho
has the predicted sign and is significant in both.

Pure: it reads typed records (no torch) and uses numpy and scipy only.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from rgp_bench.record.schema import RunRecord
from rgp_bench.record.topology import Topology
from rgp_bench.report.stats import holm, paired_test


@dataclass(frozen=True)
class Hypothesis:
    """A measure and the sign of its correlation with accuracy its paper predicts (+1 or −1)."""

    measure: str
    sign: int
    source: str
    regular_only: bool = False  # defined only for masks whose node graph is regular (ASPL)


# The pre-registration; conf/experiment/topology_study.yaml declares the same list (a test checks they agree).
HYPOTHESES: tuple[Hypothesis, ...] = (
    Hypothesis("aspl", -1, "Chen et al., TNNLS 2023 (RGP)", regular_only=True),
    Hypothesis("ramanujan_gap", +1, "Hoang et al., ICLR 2023a (who report no significant relation)"),
    Hypothesis("spectral_gap", +1, "Hoang et al., ICLR 2023a"),
    Hypothesis("weighted_spectral_gap", +1, "Hoang et al., NeurIPS 2023b"),
    Hypothesis("log10_effective_paths", +1, "Pham et al., NeurIPS 2023 (NPB)"),
    Hypothesis("effective_nodes", +1, "Pham et al., NeurIPS 2023 (NPB)"),
)
DISCOVERY_SEEDS = frozenset(range(0, 5))
CONFIRMATION_SEEDS = frozenset(range(5, 10))
ALPHA = 0.05
BOOTSTRAP_RESAMPLES = 1000
# Fewer runs in a cell and resamples with replacement repeat most of them: the interval spans nearly [-1, +1] and
# says nothing (a 12-run default sweep gave [-1.000, +1.000]), at most of the report's cost. The study has 10 seeds.
MIN_BOOTSTRAP_RUNS = 10
# A uniform (equal-MAC twin) run joins the weight-budget cell whose rgp run removed this close a MAC fraction.
TWIN_MAC_TOLERANCE = 0.02
# (dataset, model, ratio): the runs a correlation is computed within.
Cell = tuple[str, str, float]


def measures_of(topology: Topology) -> dict[str, float | None]:
    """The study's scalar measures of one run's topology panel (None where a measure is not defined)."""
    def layer_mean(name: str) -> float | None:
        values = [getattr(layer, name) for layer in topology.layers]
        finite = [float(v) for v in values if v is not None and math.isfinite(v)]
        return float(np.mean(finite)) if finite and len(finite) == len(values) else None

    graph, network = topology.node_graph, topology.network
    aspl = graph.aspl if graph is not None and graph.regular and graph.aspl is not None else None
    return {
        "aspl": aspl,
        "ramanujan_gap": layer_mean("ramanujan_gap"),
        "spectral_gap": layer_mean("spectral_gap"),
        "weighted_spectral_gap": layer_mean("weighted_spectral_gap"),
        "log10_effective_paths": network.log10_paths if network is not None else None,
        "effective_nodes": float(network.effective_nodes) if network is not None else None,
    }


@dataclass(frozen=True)
class Point:
    """One run of the study: its cell, its label, seed, accuracy, measures and per-layer density profile."""

    dataset: str
    model: str
    ratio: float
    label: str  # method, with the sanity check when there is one ("rgp+shuffle")
    seed: int
    accuracy: float
    measures: dict[str, float | None]
    density: dict[str, float]
    twin: bool = False  # the equal-MAC dense twin (a MAC-budget uniform run placed in this cell)

    @property
    def cell(self) -> Cell:
        return self.dataset, self.model, self.ratio


def study_points(records: Iterable[tuple[RunRecord, float, str]]) -> list[Point]:
    """The points of (record, accuracy, series label) triples with a topology panel (the label names the method and
    its variant, e.g. "rgp [start=random]"; the sanity check is added to it); a uniform run joins the cell whose
    rgp runs removed the same fraction of the MACs (within TWIN_MAC_TOLERANCE), and is left out when none
    did."""
    records = [(r, a, name) for r, a, name in records
               if r.topology is not None and math.isfinite(a) and r.method != "dense"]
    rgp_macs: dict[Cell, list[float]] = defaultdict(list)
    for r, _, _ in records:
        if r.method == "rgp" and r.sanity == "none":  # every rgp graph of a ratio has its degree, hence its MACs
            rgp_macs[(r.dataset, r.model, r.ratio)].append(r.cost.reduction.macs)
    points = []
    for r, acc, name in records:
        ratio: float | None = r.ratio
        if r.budget.basis == "macs":
            near = [(abs(float(np.mean(m)) - r.budget.achieved), cell[2]) for cell, m in rgp_macs.items()
                    if cell[:2] == (r.dataset, r.model)]
            ratio = min(near)[1] if near and min(near)[0] <= TWIN_MAC_TOLERANCE else None
        if ratio is None:
            continue
        assert r.topology is not None
        label = name if r.sanity == "none" else f"{name}+{r.sanity}"
        points.append(Point(r.dataset, r.model, ratio, label, r.seed, acc, measures_of(r.topology), r.topology.density,
                            twin=r.budget.basis == "macs"))
    return points


# ------------------------------------------------------------------------------------------------- statistics
def density_components(profiles: Sequence[dict[str, float]], max_components: int) -> np.ndarray:
    """The principal components (scores, n × k) of the per-layer density profiles; a layer a profile lacks is
    unpruned (1.0). Components with no variance are dropped, and at most `max_components` are kept."""
    names = sorted({name for p in profiles for name in p})
    d = np.array([[p.get(name, 1.0) for name in names] for p in profiles], dtype=float).reshape(len(profiles), -1)
    return principal_components(d, max_components)


def principal_components(d: np.ndarray, max_components: int) -> np.ndarray:
    """The principal component scores (n × k) of the rows of `d`, without the components of no variance."""
    d = d - d.mean(axis=0)
    if max_components <= 0 or not d.size:
        return np.zeros((d.shape[0], 0))
    u, s, _ = np.linalg.svd(d, full_matrices=False)
    keep = s > 1e-9 * max(1.0, float(s.max(initial=0.0)))
    return (u * s)[:, keep][:, :max_components]


def _residuals(values: np.ndarray, covariates: np.ndarray) -> np.ndarray:
    design = np.column_stack([np.ones(len(values)), covariates])
    coef, *_ = np.linalg.lstsq(design, values, rcond=None)
    return values - design @ coef


def ranks(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """1-based ranks, ties given their average rank (scipy.stats.rankdata's default, without its overhead)."""
    a = np.asarray(values, dtype=float)
    order = np.argsort(a, kind="mergesort")
    ordered = a[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(a)]
    out = np.empty(len(a))
    out[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return out


def partial_rho(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray,
                covariates: np.ndarray | None = None) -> tuple[float | None, int]:
    """(rho, k): Spearman's rho of x and y after regressing both ranks on `covariates` (n × k, with an intercept;
    None: plain Spearman). rho is None when undefined (a constant residual, or n − 2 − k < 1)."""
    cov = np.zeros((len(x), 0)) if covariates is None else np.asarray(covariates, dtype=float)
    k = cov.shape[1]
    if len(x) - 2 - k < 1 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None, k
    rx, ry = _residuals(ranks(x), cov), _residuals(ranks(y), cov)
    norm = math.sqrt(float(rx @ rx) * float(ry @ ry))
    if norm <= 1e-9 * len(x) ** 2:  # a measure the density profile determines: nothing left to correlate
        return None, k
    return float(np.clip(rx @ ry / norm, -1.0, 1.0)), k


def partial_spearman(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray,
                     covariates: np.ndarray | None = None) -> tuple[float | None, float | None, int]:
    """(rho, two-sided p, k): `partial_rho` with its p from Student's t with n − 2 − k degrees of freedom (for
    k = 0 exactly scipy.stats.spearmanr's p)."""
    from scipy.stats import t

    rho, k = partial_rho(x, y, covariates)
    if rho is None:
        return None, None, k
    if abs(rho) >= 1.0:
        return rho, 0.0, k
    df = len(x) - 2 - k
    stat = rho * math.sqrt(df / (1.0 - rho * rho))
    return rho, float(2.0 * t.sf(abs(stat), df)), k


def fisher_mean(cells: Sequence[tuple[float, int]]) -> tuple[float, float] | None:
    """(mean Fisher z, total weight) of per-cell (rho, weight = n − 3 − k), over cells of weight >= 1."""
    usable = [(r, w) for r, w in cells if w >= 1]
    if not usable:
        return None
    z = np.arctanh(np.clip([r for r, _ in usable], -0.999999, 0.999999))
    w = np.array([w for _, w in usable], dtype=float)
    return float((w * z).sum() / w.sum()), float(w.sum())


def fisher_pool(cells: Sequence[tuple[float, int]]) -> tuple[float | None, float | None]:
    """(pooled rho, two-sided p) of per-cell (rho, weight = n − 3 − k) by Fisher's z; None without a usable cell."""
    from scipy.stats import norm

    mean = fisher_mean(cells)
    if mean is None:
        return None, None
    z, weight = mean
    return math.tanh(z), float(2.0 * norm.sf(abs(z) * math.sqrt(weight)))


# ------------------------------------------------------------------------------------------------- the study
@dataclass
class Pooled:
    """A measure's correlation over some seeds: per cell and pooled."""

    rho: float | None
    p: float | None
    n: int  # runs
    cells: int  # cells that entered the pool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CellResult:
    """A measure within one (dataset, model, ratio) cell, all seeds."""

    dataset: str
    model: str
    ratio: float
    n: int
    components: int  # density principal components regressed out
    rho: float | None  # plain Spearman
    p: float | None
    partial_rho: float | None
    partial_p: float | None


@dataclass
class MeasureResult:
    """One row of the study: the hypothesis, the pooled partial rho over all seeds with its bootstrap CI, the plain
    rho, discovery and confirmation (Holm-adjusted p) and the verdict."""

    hypothesis: Hypothesis
    partial: Pooled
    plain: Pooled
    ci: tuple[float, float] | None
    discovery: Pooled
    confirmation: Pooled
    p_discovery: float | None = None  # Holm-adjusted over the measures
    p_confirmation: float | None = None
    verdict: str = "n/a"
    cells: list[CellResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"measure": self.hypothesis.measure, "predicted_sign": self.hypothesis.sign,
                "source": self.hypothesis.source, "partial": self.partial.to_dict(), "plain": self.plain.to_dict(),
                "ci": list(self.ci) if self.ci else None, "discovery": self.discovery.to_dict(),
                "confirmation": self.confirmation.to_dict(), "p_discovery": self.p_discovery,
                "p_confirmation": self.p_confirmation, "verdict": self.verdict,
                "cells": [asdict(c) for c in self.cells]}


@dataclass(frozen=True)
class TwinComparison:
    """A sparse series against the equal-MAC dense twin of its cell, paired by seed (all seeds)."""

    dataset: str
    model: str
    ratio: float
    label: str
    twin: str
    pairs: int
    mean: float
    twin_mean: float
    diff: float  # series − twin, in accuracy points
    p: float | None  # paired t-test
    p_holm: float | None = None  # Holm over every comparison of the study


def twin_comparisons(points: Sequence[Point]) -> list[TwinComparison]:
    """Each sparse series of a cell against that cell's equal-MAC dense twin, paired by seed; Holm-corrected over
    all of them. Answers the reviewer's question: is a sparse topology better than a narrower dense network?"""
    cells: dict[Cell, dict[str, dict[int, Point]]] = defaultdict(lambda: defaultdict(dict))
    for p in points:
        cells[p.cell][p.label][p.seed] = p
    found = []
    for cell, series in sorted(cells.items()):
        twins = {label: runs for label, runs in series.items() if any(p.twin for p in runs.values())}
        for twin_label, twin in sorted(twins.items()):
            for label, runs in sorted(series.items()):
                seeds = sorted(set(runs) & set(twin))
                if label in twins or len(seeds) < 2:
                    continue
                ours, theirs = [runs[s].accuracy for s in seeds], [twin[s].accuracy for s in seeds]
                test = paired_test(ours, theirs)
                found.append(TwinComparison(*cell, label, twin_label, len(seeds), float(np.mean(ours)),
                                            float(np.mean(theirs)), float(test["mean_diff"]), test["p_value"]))
    return [replace(c, p_holm=p) for c, p in zip(found, holm([c.p for c in found]), strict=True)]


@dataclass
class TopologyStudy:
    """The whole study: one result per measure, the sparse series against their equal-MAC dense twin, and the points
    it was computed from."""

    results: list[MeasureResult]
    points: list[Point]
    twins: list[TwinComparison] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"alpha": ALPHA, "discovery_seeds": sorted(DISCOVERY_SEEDS),
                "confirmation_seeds": sorted(CONFIRMATION_SEEDS), "results": [r.to_dict() for r in self.results],
                "twins": [asdict(t) for t in self.twins]}


def _cells(points: Sequence[Point], measure: str) -> dict[Cell, list[Point]]:
    cells: dict[Cell, list[Point]] = defaultdict(list)
    for p in points:
        if p.measures.get(measure) is not None:
            cells[p.cell].append(p)
    return dict(sorted(cells.items()))


def _cell_rho(members: Sequence[Point], measure: str, partial: bool) -> tuple[float | None, float | None, int]:
    x = [float(p.measures[measure]) for p in members]  # type: ignore[arg-type]
    y = [p.accuracy for p in members]
    cov = density_components([p.density for p in members], len(members) - 4) if partial else None
    return partial_spearman(x, y, cov)


def pooled(points: Sequence[Point], measure: str, partial: bool) -> Pooled:
    """The measure's rho pooled over its cells (Fisher's z), plain or partial on the density profile; with one
    usable cell, that cell's rho and its t-test p."""
    usable = []
    for members in _cells(points, measure).values():
        rho, p, k = _cell_rho(members, measure, partial)
        if rho is not None and len(members) - 3 - k >= 1:
            usable.append((rho, p, len(members), k))
    n = sum(u[2] for u in usable)
    if len(usable) == 1:
        return Pooled(usable[0][0], usable[0][1], n, 1)
    rho, p = fisher_pool([(r, size - 3 - k) for r, _, size, k in usable])
    return Pooled(rho, p, n, len(usable))


def bootstrap_ci(points: Sequence[Point], measure: str, *, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0,
                 level: float = 0.95) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the pooled partial rho: runs resampled with replacement within each cell,
    from a seeded generator (the same interval on every call); resamples where rho is undefined are dropped. None
    when a cell has fewer than MIN_BOOTSTRAP_RUNS runs or most resamples leave rho undefined."""
    cells = []
    for members in _cells(points, measure).values():
        names = sorted({name for p in members for name in p.density})
        cells.append((np.array([float(p.measures[measure]) for p in members]),  # type: ignore[arg-type]
                      np.array([p.accuracy for p in members]),
                      np.array([[p.density.get(name, 1.0) for name in names] for p in members])))
    if not cells or any(len(x) < MIN_BOOTSTRAP_RUNS for x, _, _ in cells):
        return None
    rng = np.random.default_rng(seed)
    rhos = []
    for _ in range(resamples):
        entries = []
        for x, y, d in cells:
            i = rng.integers(0, len(x), len(x))
            rho, k = partial_rho(x[i], y[i], principal_components(d[i], len(x) - 4))
            if rho is not None and len(x) - 3 - k >= 1:
                entries.append((rho, len(x) - 3 - k))
        mean = fisher_mean(entries)
        if mean is not None:
            rhos.append(entries[0][0] if len(entries) == 1 else math.tanh(mean[0]))
    if len(rhos) < resamples // 2:
        return None
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(rhos, [tail, 100 - tail])
    return float(low), float(high)


def verdict(hypothesis: Hypothesis, discovery: Pooled, confirmation: Pooled, p_discovery: float | None,
            p_confirmation: float | None, alpha: float = ALPHA) -> str:
    """"holds" (predicted sign, significant after correction, in both halves), "contradicted" (the opposite sign,
    significant in both), "not supported" (anything else) or "n/a" (a half has no defined rho)."""
    if discovery.rho is None or confirmation.rho is None or p_discovery is None or p_confirmation is None:
        return "n/a"
    both = p_discovery < alpha and p_confirmation < alpha
    signs = {int(np.sign(discovery.rho)), int(np.sign(confirmation.rho))}
    if both and signs == {hypothesis.sign}:
        return "holds"
    if both and signs == {-hypothesis.sign}:
        return "contradicted"
    return "not supported"


def topology_study(points: Sequence[Point], hypotheses: Sequence[Hypothesis] = HYPOTHESES, *,
                   resamples: int = BOOTSTRAP_RESAMPLES) -> TopologyStudy:
    """Run the pre-registered test on `points` (see the module docstring)."""
    discovery = [p for p in points if p.seed in DISCOVERY_SEEDS]
    confirmation = [p for p in points if p.seed in CONFIRMATION_SEEDS]
    results = []
    for h in hypotheses:
        cells = [CellResult(dataset, model, ratio, len(m), _cell_components(m), *_cell_rho(m, h.measure, False)[:2],
                            *_cell_rho(m, h.measure, True)[:2])
                 for (dataset, model, ratio), m in _cells(points, h.measure).items()]
        results.append(MeasureResult(h, pooled(points, h.measure, True), pooled(points, h.measure, False),
                                     bootstrap_ci(points, h.measure, resamples=resamples),
                                     pooled(discovery, h.measure, True), pooled(confirmation, h.measure, True),
                                     cells=cells))
    for half in ("discovery", "confirmation"):
        adjusted = holm([getattr(r, half).p for r in results])
        for r, p in zip(results, adjusted, strict=True):
            setattr(r, f"p_{half}", p)
    for r in results:
        r.verdict = verdict(r.hypothesis, r.discovery, r.confirmation, r.p_discovery, r.p_confirmation)
    return TopologyStudy(results, list(points), twin_comparisons(points))


def _cell_components(members: Sequence[Point]) -> int:
    return density_components([p.density for p in members], len(members) - 4).shape[1]


def runs_study(runs: Iterable[Any], metric: str, *, resamples: int = BOOTSTRAP_RESAMPLES) -> TopologyStudy:
    """The study over the report's runs (`rgp_bench.report.runs.Run`), with accuracy by `metric`."""
    from rgp_bench.report.columns import metric_column

    column = metric_column(metric)
    pairs = []
    for run in runs:
        value = run.value(column)
        if isinstance(value, int | float):
            pairs.append((run.record, float(value), _without_sanity(run.label)))
    return topology_study(study_points(pairs), resamples=resamples)


def _without_sanity(label: str) -> str:
    """A series label without its `sanity=...` setting ("rgp [start=ring, sanity=none]" -> "rgp [start=ring]"):
    the study adds the sanity check itself ("+shuffle")."""
    label = re.sub(r"(, )?sanity=[^,\]]*", "", label).replace("[, ", "[")
    return label.replace(" []", "")
