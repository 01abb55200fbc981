"""graph2nn's released results as the topology section's yardstick: how strongly accuracy follows a graph measure
when it does (You et al., ICML 2020: 52 relational graphs, 5-layer 512-d MLP on CIFAR-10; baselines/README.md)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from scipy.stats import spearmanr

from rgp_bench.core.errors import UserError
from rgp_bench.report.render import pval, signed

FILE = "graph2nn_mlp_cifar10.csv"
MEASURES = ("path_length", "clustering")
BASELINE_ROW = "complete"  # the notebook's baseline run, not one of the relational graphs


@dataclass(frozen=True)
class Graph2nnReference:
    """Spearman's rho (and p) of top-1 accuracy against each graph measure over graph2nn's relational graphs."""

    path: Path
    graphs: int
    rho: dict[str, float]
    p: dict[str, float]

    def sentence(self) -> str:
        """One line for the report: the correlations, where they come from."""
        parts = " and ".join(f"{m.replace('_', ' ')} {signed(self.rho[m])} (p = {pval(self.p[m])})" for m in MEASURES)
        return (f"For scale, how strongly accuracy follows a graph measure where it does: over graph2nn's released "
                f"results (You et al., ICML 2020: {self.graphs} relational graphs of a 5-layer 512-d MLP on CIFAR-10; "
                f"`{self.path.name}` in the baselines folder), Spearman's ρ of top-1 accuracy with {parts}.")


def load_graph2nn(baselines_dir: Path | None) -> Graph2nnReference | None:
    """The reference from `baselines_dir/graph2nn_mlp_cifar10.csv`, or None where there is no such file.

    Raises UserError when the file is there but unreadable (a missing column, a non-number)."""
    if baselines_dir is None or not (baselines_dir / FILE).is_file():
        return None
    path = baselines_dir / FILE
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = [r for r in csv.DictReader(fh) if r["graph"] != BASELINE_ROW]
        accuracy = [100.0 - float(r["top1_error_mean"]) for r in rows]
        columns = {m: [float(r[m]) for r in rows] for m in MEASURES}
    except (KeyError, ValueError) as exc:
        raise UserError(f"{path}: unreadable graph2nn table ({type(exc).__name__}: {exc})") from None
    if len(rows) < 3:
        raise UserError(f"{path}: {len(rows)} relational graph(s); a correlation needs at least 3")
    tests = {m: spearmanr(columns[m], accuracy) for m in MEASURES}
    return Graph2nnReference(path, len(rows), {m: float(t.statistic) for m, t in tests.items()},
                             {m: float(t.pvalue) for m, t in tests.items()})
