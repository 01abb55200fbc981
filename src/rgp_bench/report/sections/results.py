"""Mean ± std over seeds per group, each report group with its dense reference row, in a main table (accuracy,
reductions, speed-up) and a details table (seeds, other accuracies, sparsity, epochs, search, latency details) so
that each fits a laptop screen; the best of a cell is bold only when a Holm-corrected paired test says so
(report.emphasis), a tied group is marked."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rgp_bench.report.columns import BY_NAME, Column
from rgp_bench.report.dense import ResultRow, with_dense_rows
from rgp_bench.report.emphasis import CORRECTION_TEXT
from rgp_bench.report.groups import Group
from rgp_bench.report.render import Document, TableColumn, pm, signed
from rgp_bench.report.sections.base import OFF_TARGET_NOTE, ReportData, flagged, listing, ratio_text, seeds_text

# Aggregated columns of the main table after the accuracy (headers and cells: report.columns), and of the details
# table; of those, the OPTIONAL ones are shown only when some group has a value.
MAIN_COLUMNS = ("params_reduction", "macs_reduction", "aspl", "speedup", "fraction_of_limit", "speedup_vs_twin")
DETAIL_COLUMNS = ("sparsity_achieved", "collapsed", "epochs_total", "search_seconds", "search_evaluations",
                  "search_val_top1", "mac_limit", "speedup_vs_compiled", "latency_efficiency")
RESULT_COLUMNS = MAIN_COLUMNS + DETAIL_COLUMNS
OPTIONAL_COLUMNS = frozenset({"speedup", "fraction_of_limit", "speedup_vs_twin", "search_seconds",
                              "search_evaluations", "search_val_top1", "collapsed", "aspl", "mac_limit",
                              "speedup_vs_compiled", "latency_efficiency"})
TIED_MARK = "≈"
NOISY_MARK = "~"


def results_section(doc: Document, d: ReportData) -> None:
    """Mean ± std over seeds per group, each report group with its dense reference row, in a main and a details
    table; bold and tied marks from report.emphasis."""
    def shown(names: Sequence[str]) -> list[Column]:
        return [BY_NAME[c] for c in names
                if c not in OPTIONAL_COLUMNS or any(g.stat(c).mean for g in d.groups)]  # (collapsed: only if any)

    main, details = shown(MAIN_COLUMNS), shown(DETAIL_COLUMNS)
    has_dense = any(g.is_dense for g in d.groups)
    rows = with_dense_rows(d.groups)
    doc.h2("Results by group (mean ± std over seeds)")
    doc.p(_explanation(d, [*main, *details], has_dense))
    doc.columns_table(_columns(d.metric, main, has_dense), rows)
    _dense_notes(doc, d.groups, has_dense)
    doc.h3("Details")
    doc.p("The same rows: seeds, the other accuracies, sparsity, epochs and, where recorded, the search, the graph's "
          "ASPL and the latency details.")
    doc.columns_table(_detail_columns(d.metric, details), rows)


def _explanation(d: ReportData, shown: Sequence[Column], has_dense: bool) -> str:
    text = (f"Bold: the highest mean top-1 ({d.metric}) of its cell (same dataset, model, ratio, budget basis, "
            "regime and total epochs), only when a paired t-test across seeds shows it better than every other group "
            f"of the cell, {CORRECTION_TEXT} ({d.best_tests} test{'s' if d.best_tests != 1 else ''}: the highest "
            f"mean of each cell against each other group). {TIED_MARK}: a tied group, the highest mean of a cell "
            "and the groups that no such test tells apart from it (fewer than 2 seeds, or a constant difference, "
            "cannot be tested). n is the number of seeds.")
    if has_dense:
        text += (" Dense rows: the unpruned model (method=dense, method=dense_finetune) in the same regime and for "
                 "the same total epochs as the pruned groups it stands above (one dense run serves every ratio and "
                 "budget basis; it is never bold). Δ dense: the group's mean top-1 minus that dense mean, in points.")
    names = {c.name for c in shown}
    if "speedup" in names:
        batch = BY_NAME["speedup_batch"]
        batches = sorted({r.value(batch) for r in d.runs if r.value(batch) is not None})
        text += (" Measured speed-up: inference time of the dense model over the pruned one (the fastest deployable "
                 "form: materialised where there is one, else masked), at batch size "
                 f"{listing([str(b) for b in batches], 'or')} (cost.latency.speedup); {NOISY_MARK} after it: some "
                 "run's measurement stayed noisy (cost.latency.noisy).")
    if "fraction_of_limit" in names:
        text += (" Of MAC limit: the speed-up as a fraction of dense MACs ÷ effective MACs, what skipping every pruned "
                 "MAC would give (cost.latency.fraction_of_limit).")
    if "speedup_vs_twin" in names:
        text += (" Vs twin: the speed-up over a dense model with the same MACs (cost.latency.speedup_vs_twin): above "
                 "1× the sparse form runs faster than simply making the model smaller.")
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
    tied = r.group.tied and not r.reference
    return pm(r.group.acc.mean, r.group.acc.std) + (f" {TIED_MARK}" if tied else "")


def _speedup(g: Group) -> str:
    cell = BY_NAME["speedup"].cell
    assert cell is not None
    noisy = g.stat("speedup_noisy").mean
    return cell(g.stat("speedup")) + (f" {NOISY_MARK}" if noisy else "")


def _best(r: ResultRow) -> bool:
    return r.group is not None and r.group.best and not r.reference


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


def _keys() -> list[TableColumn[ResultRow]]:
    return [
        TableColumn("dataset", lambda r: r.dataset, sticky=True),
        TableColumn("model", lambda r: r.model, sticky=True),
        TableColumn("ratio", lambda r: ratio_text(r.ratio), numeric=True, sticky=True),
        TableColumn("budget", lambda r: r.budget, sticky=True),
        TableColumn("method", lambda r: "dense" if r.group is None else flagged(r.group.label, r.group.off_target),
                    sticky=True),
        TableColumn("regime", lambda r: r.regime or "n/a"),
    ]


def _columns(metric: str, shown: Sequence[Column], has_dense: bool) -> list[TableColumn[ResultRow]]:
    """The main table's columns: the group, its accuracy, Δ dense (with dense runs) and the `shown` columns."""
    return [
        *_keys(),
        TableColumn("n", lambda r: "0" if r.group is None else str(r.group.n), numeric=True),
        TableColumn(f"top-1 {metric}", _accuracy, numeric=True, highlight=_best),
        *([TableColumn("Δ dense", _delta, numeric=True)] if has_dense else []),
        *(TableColumn(c.header, _of_group(_speedup if c.name == "speedup" else _stat_cell(c)), numeric=True)
          for c in shown),
    ]


def _detail_columns(metric: str, shown: Sequence[Column]) -> list[TableColumn[ResultRow]]:
    """The details table's columns: the group, its seeds, the other accuracies and the `shown` columns."""
    other = "final" if metric == "best_val" else "best_val"
    return [
        *_keys(),
        TableColumn("seeds", lambda r: "n/a" if r.group is None else seeds_text(r.group.seeds)),
        TableColumn(f"top-5 {metric}", _of_group(_stat_cell(BY_NAME[f"top5_{metric}"])), numeric=True),
        TableColumn(f"top-1 {other}", _of_group(_stat_cell(BY_NAME[f"top1_{other}"])), numeric=True),
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
