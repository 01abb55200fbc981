"""Mean ± std over seeds per group, each report group with its dense reference row; the best mean at each
(dataset, model, ratio, budget) is highlighted."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rgp_bench.report.columns import BY_NAME, Column
from rgp_bench.report.dense import ResultRow, with_dense_rows
from rgp_bench.report.groups import Group
from rgp_bench.report.render import Document, TableColumn, pm, signed
from rgp_bench.report.sections.base import OFF_TARGET_NOTE, ReportData, flagged, listing, ratio_text, seeds_text

# Aggregated columns the results table shows after the accuracy columns (headers and cells: report.columns).
RESULT_COLUMNS = ("params_reduction", "macs_reduction", "sparsity_achieved", "collapsed", "speedup", "epochs_total",
                  "search_seconds", "search_evaluations", "search_val_top1")
# Of those, the ones shown only when some group has a value (most runs have no search, some no latency).
OPTIONAL_COLUMNS = frozenset({"speedup", "search_seconds", "search_evaluations", "search_val_top1", "collapsed"})


def results_section(doc: Document, d: ReportData) -> None:
    """Mean ± std over seeds per group, each report group with its dense reference row; the best mean at each
    (dataset, model, ratio, budget) is highlighted."""
    shown = [BY_NAME[c] for c in RESULT_COLUMNS
             if c not in OPTIONAL_COLUMNS or any(g.stat(c).mean for g in d.groups)]  # (collapsed: only if any)
    has_dense = any(g.is_dense for g in d.groups)
    doc.h2("Results by group (mean ± std over seeds)")
    doc.p(_explanation(d, shown, has_dense))
    doc.columns_table(_columns(d.metric, shown, has_dense), with_dense_rows(d.groups))
    _dense_notes(doc, d.groups, has_dense)


def _explanation(d: ReportData, shown: Sequence[Column], has_dense: bool) -> str:
    text = (f"Bold: the highest mean top-1 ({d.metric}) of the methods at one (dataset, model, ratio, budget); "
            "n is the number of seeds.")
    if has_dense:
        text += (" Dense rows: the unpruned model (method=dense, method=dense_finetune) in the same regime and for "
                 "the same total epochs as the pruned groups it stands above (one dense run serves every ratio and "
                 "budget basis; it is never bold). Δ dense: the group's mean top-1 minus that dense mean, in points.")
    names = {c.name for c in shown}
    if "speedup" in names:
        batch = BY_NAME["speedup_batch"]
        batches = sorted({r.value(batch) for r in d.runs if r.value(batch) is not None})
        text += (" Measured speed-up: inference time of the dense model over the pruned one (materialised form "
                 f"where there is one, else masked), at batch size {listing([str(b) for b in batches], 'or')} "
                 "(cost.latency).")
    if "collapsed" in names:
        text += (" Collapsed: the fraction of runs whose masks disconnect the input from the output or leave a "
                 "prunable layer empty (record field collapse).")
    if any(g.off_target for g in d.groups):
        text += (" " + OFF_TARGET_NOTE + " Such groups are never bold.")
    if "search_seconds" in names:
        text += (" Search s and search evaluations: wall-clock seconds and distinct reward evaluations of the "
                 "method's search (method_info.search); search val top-1: its best candidate's validation top-1 "
                 "before fine-tuning (method_info.best_val_top1), the number that tells search methods apart.")
    return text


def _of_group(cell: Callable[[Group], str]) -> Callable[[ResultRow], str]:
    """A cell that shows a group's (or a reference row's dense group's) value, and nothing on a `missing` row."""
    return lambda r: "" if r.group is None else cell(r.group)


def _accuracy(r: ResultRow) -> str:
    if r.group is None:
        return "none at mixed epochs" if r.epochs is None else f"none at {r.epochs} epochs"
    return pm(r.group.acc.mean, r.group.acc.std)


def _best(r: ResultRow) -> bool:
    return r.group is not None and r.group.best


def _delta(r: ResultRow) -> str:
    if r.reference:
        return "ref."
    if r.group is None:
        return ""
    return "n/a" if r.group.dense_diff is None else signed(r.group.dense_diff)


def _stat_cell(column: Column) -> Callable[[Group], str]:
    cell = column.cell
    assert cell is not None, f"{column.name} has no cell"
    return lambda g: cell(g.stat(column.name))


def _columns(metric: str, shown: Sequence[Column], has_dense: bool) -> list[TableColumn[ResultRow]]:
    """The results table's columns: the group, its accuracy, Δ dense (with dense runs) and the `shown` columns."""
    other = "final" if metric == "best_val" else "best_val"
    return [
        TableColumn("dataset", lambda r: r.dataset, sticky=True),
        TableColumn("model", lambda r: r.model, sticky=True),
        TableColumn("ratio", lambda r: ratio_text(r.ratio), numeric=True, sticky=True),
        TableColumn("budget", lambda r: r.budget, sticky=True),
        TableColumn("method", lambda r: "dense" if r.group is None else flagged(r.group.label, r.group.off_target),
                    sticky=True),
        TableColumn("regime", lambda r: r.regime or "n/a"),
        TableColumn("n", lambda r: "0" if r.group is None else str(r.group.n), numeric=True),
        TableColumn("seeds", lambda r: "n/a" if r.group is None else seeds_text(r.group.seeds)),
        TableColumn(f"top-1 {metric}", _accuracy, numeric=True, highlight=_best),
        TableColumn(f"top-5 {metric}", _of_group(_stat_cell(BY_NAME[f"top5_{metric}"])), numeric=True),
        TableColumn(f"top-1 {other}", _of_group(_stat_cell(BY_NAME[f"top1_{other}"])), numeric=True),
        *([TableColumn("Δ dense", _delta, numeric=True)] if has_dense else []),
        *(TableColumn(c.header, _of_group(_stat_cell(c)), numeric=True) for c in shown),
    ]


def _dense_notes(doc: Document, groups: Sequence[Group], has_dense: bool) -> None:
    """Which report groups have no dense reference at their epochs (or that no dense run was given at all)."""
    pruned = [g for g in groups if not g.is_dense]
    if not pruned:
        return
    if not has_dense:
        doc.p("No dense reference: these runs include no method=dense. Add method=dense (scratch regime) and "
              "method=dense_finetune (finetune regime) to the sweep to compare every group with the unpruned model "
              "trained for the same epochs.")
        return
    missing: dict[tuple[str, str, str], list[str]] = {}
    for g in pruned:
        if g.dense_missing:
            missing.setdefault((g.dataset, g.model, g.dense_missing), []).append(f"{g.label} at {ratio_text(g.ratio)}")
    for (dataset, model, why), where in missing.items():
        doc.p(f"{dataset} / {model}: {why} ({', '.join(dict.fromkeys(where))}); Δ dense is n/a there. A dense run "
              "of other epochs is never used in its place.")
