"""Accuracy against the measured inference speed-up, where records carry cost.latency, and the accuracy of the
equal-MAC dense twin (uniform trained from scratch at the same MACs) beside each sparse model where the runs have
one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from rgp_bench.report.figures import Pair
from rgp_bench.report.groups import Group
from rgp_bench.report.render import Document, TableColumn, pct, pm, signed
from rgp_bench.report.sections.base import ReportData, flagged, ratio_text, show_figures

# The twin: the method whose groups stand for a dense model of the same MACs, and how close its MAC reduction must
# be to the sparse group's (fraction of the dense model's MACs).
TWIN_METHOD = "uniform"
TWIN_REGIME = "scratch"
MAC_MATCH = 0.02


@dataclass(frozen=True)
class TwinMatch:
    """A sparse group with a latency measurement and the uniform (scratch) group at the nearest MAC reduction."""

    group: Group
    twin: Group

    @property
    def diff(self) -> float | None:
        a, b = self.group.acc.mean, self.twin.acc.mean
        return None if a is None or b is None else a - b


def _macs(g: Group) -> float | None:
    return g.stat("macs_reduction").mean


def twin_matches(groups: Sequence[Group]) -> list[TwinMatch]:
    """Each measured group (not uniform, not dense) with the uniform scratch group of the same dataset, model and
    total epochs whose MAC reduction is nearest to its own, when within MAC_MATCH."""
    twins = [g for g in groups if g.method == TWIN_METHOD and g.regime == TWIN_REGIME and g.default_variant
             and _macs(g) is not None and g.acc.mean is not None]
    out = []
    for g in groups:
        if g.is_dense or g.method == TWIN_METHOD or g.stat("speedup").mean is None or _macs(g) is None:
            continue
        near = [t for t in twins if (t.dataset, t.model, t.epochs) == (g.dataset, g.model, g.epochs)
                and abs((_macs(t) or 0.0) - (_macs(g) or 0.0)) <= MAC_MATCH]
        if near:
            out.append(TwinMatch(g, min(near, key=lambda t: abs((_macs(t) or 0.0) - (_macs(g) or 0.0)))))
    return out


def _times(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}×"


COLUMNS: tuple[TableColumn[TwinMatch], ...] = (
    TableColumn("dataset", lambda m: m.group.dataset),
    TableColumn("model", lambda m: m.group.model),
    TableColumn("ratio", lambda m: ratio_text(m.group.ratio), numeric=True),
    TableColumn("method", lambda m: flagged(m.group.label, m.group.off_target)),
    TableColumn("regime", lambda m: m.group.regime or "n/a"),
    TableColumn("MACs red.", lambda m: pct(_macs(m.group)), numeric=True),
    TableColumn("top-1", lambda m: pm(m.group.acc.mean, m.group.acc.std), numeric=True),
    TableColumn("speed-up", lambda m: _times(m.group.stat("speedup").mean), numeric=True),
    TableColumn("vs twin", lambda m: _times(m.group.stat("speedup_vs_twin").mean), numeric=True),
    TableColumn("twin ratio", lambda m: ratio_text(m.twin.ratio), numeric=True),
    TableColumn("twin MACs red.", lambda m: pct(_macs(m.twin)), numeric=True),
    TableColumn("twin top-1", lambda m: pm(m.twin.acc.mean, m.twin.acc.std), numeric=True),
    TableColumn("twin speed-up", lambda m: _times(m.twin.stat("speedup").mean), numeric=True),
    TableColumn("Δ top-1", lambda m: signed(m.diff), numeric=True),
)


def speedup_section(doc: Document, d: ReportData) -> None:
    """Accuracy against the measured inference speed-up, and the equal-MAC twin's accuracy beside it."""
    matches = twin_matches(d.groups)
    if not any(d.figures.of(pair, "speedup") for pair in d.pairs) and not matches:
        return
    doc.h2("Accuracy vs measured speed-up")
    doc.p("Speed-up: inference time of the dense model over the pruned one (cost.latency.speedup: the fastest "
          "deployable form, materialised where there is one, else the masked model, at the largest batch size), "
          "mean ± std over seeds, on the machine that ran them (each plot's title names device, threads and batch "
          "size); the dense model is at 1×, and points are labelled with their ratio where the label fits (with many "
          "methods, once per ratio). The MAC limit (dense MACs ÷ effective MACs: the speed-up that skipping every "
          "pruned multiply-add would give) is a dash-dot vertical line per ratio where its groups share it, else a "
          "short vertical tick in the method's colour at each group's limit. Masked models compute every "
          "weight, so only a materialised form (channels removed, block-sparse kernels) can be faster.")
    for pair in d.pairs:
        show_figures(doc, d.figures, pair, "speedup", partial(_alt, pair))
    if matches:
        doc.h3("Beside the equal-MAC dense twin")
        doc.p(f"Each measured group beside the `{TWIN_METHOD}` group trained from scratch ({TWIN_REGIME}) of the "
              f"same dataset, model and total epochs whose MAC reduction is nearest to its own, within "
              f"{MAC_MATCH:.0%} of the dense model's MACs: a dense model of the same MACs. Vs twin: the sparse "
              "model's measured speed-up over the equal-MAC twin (cost.latency.speedup_vs_twin); Δ top-1: the "
              "sparse model's mean minus the twin's, in points. A sparse model is worth deploying where it is "
              "both more accurate and at least as fast as its twin.")
        doc.columns_table(COLUMNS, matches)


def _alt(pair: Pair, _kind: str) -> str:
    return f"{pair[0]} / {pair[1]}: accuracy vs measured speed-up"
