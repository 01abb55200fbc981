"""`build_report`: collect runs, aggregate, plot and write results.csv, report.md, report.html, report.json.

The document is composed section by section (`SECTIONS`), each a function of the collected `ReportData`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rgp_bench.core.errors import UserError, choices_error
from rgp_bench.report import aggregate, plots, published, stats
from rgp_bench.report.collect import collect
from rgp_bench.report.columns import BY_NAME, ROW_COLUMNS
from rgp_bench.report.render import Document, fnum, interval, pct, pm, pval, signed, to_html, to_markdown

PROBLEM_STATUSES = ("failed", "incomplete", "missing", "duplicate")
# Aggregated columns the results table shows after the accuracy columns (headers and cells: report.columns).
RESULT_COLUMNS = ("params_reduction", "macs_reduction", "sparsity_achieved", "collapsed", "speedup", "epochs_total",
                  "search_seconds", "search_evaluations", "search_val_top1")
# Of those, the ones shown only when some group has a value (most runs have no search, some no latency).
OPTIONAL_COLUMNS = frozenset({"speedup", "search_seconds", "search_evaluations", "search_val_top1", "collapsed"})
# Columns of the results table that stay in view when it scrolls sideways: dataset, model, ratio, budget, method.
STICKY_COLUMNS = 5


@dataclass
class Report:
    """Everything a report shows, plus the files written."""

    rows: list[dict]  # tidy rows, one per completed run (as in results.csv)
    groups: list[dict]  # mean/std/n per (dataset, model, regime, ratio, method, variant)
    comparisons: list[dict]  # paired differences from the reference methods
    problems: list[dict]  # {"path", "status": failed|incomplete|missing|duplicate, "detail", "run"}
    # "csv", "markdown", "html", "json", plot names -> PNG paths and "<plot name>.svg" -> the SVG beside it
    files: dict[str, Path]
    metric: str = "best_val"
    aspl: list[dict] = field(default_factory=list)  # accuracy-vs-ASPL studies
    notes: list[str] = field(default_factory=list)  # things the reader should know (unchecked sweeps ...)
    references: tuple[str, ...] = ()
    skipped_plots: dict[str, str] = field(default_factory=dict)  # plot name -> why it was not drawn

    def counts(self) -> dict[str, int]:
        """Number of runs and groups, and of problems per status."""
        out = {"runs": len(self.rows), "groups": len(self.groups)}
        out.update({s: sum(p["status"] == s for p in self.problems) for s in PROBLEM_STATUSES})
        return out

    def summary(self) -> str:
        """One line for stdout / logs."""
        c = self.counts()
        probs = ", ".join(f"{c[s]} {s}" for s in PROBLEM_STATUSES if c[s] or s != "duplicate")
        where = self.files.get("html", self.files.get("markdown", ""))
        return f"report: {c['runs']} runs in {c['groups']} groups; {probs} -> {where}"


@dataclass
class ReportData:
    """What the sections of the document draw on."""

    paths: Sequence[str | Path]
    rows: list[dict]
    groups: list[dict]
    comparisons: list[dict]
    studies: list[dict]
    problems: list[dict]
    notes: list[str]
    sources: list[published.PublishedSource]
    pairs: list[tuple[str, str]]
    figures: Figures
    metric: str
    references: tuple[str, ...]
    sanity: list[dict] = field(default_factory=list)


@dataclass
class Figures:
    """The plots of every (dataset, model): kind -> PNG path for those drawn, kind -> reason for those skipped.

    Kinds: "params" and "macs" (accuracy vs reduction, weight budgets), "params_mac-budget" and
    "macs_mac-budget" (MAC budgets: never drawn with weight budgets, the same ratio means different budgets),
    "speedup", "aspl", and "density_r<ratio>" / "density_r<ratio>_mac-budget".
    """

    # (dataset, model) -> kind -> the PNG's path, or why the plot was skipped; plots with nothing to draw are absent
    kinds: dict[tuple[str, str], dict[str, Path | str]] = field(default_factory=dict)

    def of(self, pair: tuple[str, str], prefix: str | tuple[str, ...]) -> list[tuple[str, Path | str]]:
        """(kind, PNG path or skip reason) of the pair's plots whose kind starts with `prefix`, in order drawn."""
        return [(k, v) for k, v in self.kinds.get(pair, {}).items() if k.startswith(prefix)]

    def made(self) -> list[Path]:
        """Every PNG written."""
        return [v for kinds in self.kinds.values() for v in kinds.values() if isinstance(v, Path)]

    def skipped(self) -> dict[str, str]:
        """Plot name -> why it was not drawn."""
        return {_plot_name(pair, k): v for pair, kinds in self.kinds.items() for k, v in kinds.items()
                if isinstance(v, str)}


def build_report(
    paths: Sequence[str | Path],
    out_dir: str | Path,
    *,
    metric: str = "best_val",
    references: Sequence[str] = (),
    baselines_dir: str | Path | None = None,
    with_published: bool = True,
) -> Report:
    """Collect every run under `paths` and write the report files into `out_dir`.

    `metric` picks the accuracy the tables and plots use: "best_val" (test top-1 at the epoch with the best
    validation accuracy) or "final" (last epoch). Every method is compared, paired by seed, with each method
    in `references`. Published numbers come from `baselines_dir` (default: `published.default_dir()`);
    `with_published=False` leaves them out. Raises UserError for bad input (missing path, no runs, unknown
    metric, an invalid file in an explicitly given `baselines_dir`).
    """
    if metric not in aggregate.METRICS:
        raise choices_error("metric", metric, aggregate.METRICS)
    if baselines_dir is not None and not Path(baselines_dir).is_dir():
        raise UserError(f"baselines folder not found: {baselines_dir}")
    references = tuple(references)
    col = collect(paths)
    runs, dup_problems, copies = aggregate.deduplicate(col.runs)
    aggregate.assign_variants(runs)
    rows = sorted((r.row for r in runs), key=_row_order)
    groups = aggregate.group_rows(rows, metric)
    comparisons = aggregate.compare(groups, metric, references)
    studies = aggregate.aspl_studies(rows, metric)
    problems = col.problems + dup_problems
    notes = list(col.notes)
    if copies:
        notes.append(f"{copies} identical record cop{'y' if copies == 1 else 'ies'} dropped (a skipped rerun copies "
                     "the stored record into its new sweep folder): each run is counted once.")
    sources = _published_sources(baselines_dir, notes) if with_published else []

    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create output folder {out}: {exc.strerror or exc}") from exc
    files: dict[str, Path] = {"csv": _write_csv(out / "results.csv", rows)}
    pairs = sorted({(g["dataset"], g["model"]) for g in groups})
    figures = _plots(out, groups, studies, sources, pairs, metric)
    for png in figures.made():
        files[png.stem] = png
        files[f"{png.stem}.svg"] = plots.svg_path(png)
    skipped = figures.skipped()
    data = ReportData(paths, rows, groups, comparisons, studies, problems, notes, sources, pairs, figures, metric,
                      references, aggregate.sanity_checks(groups, metric))
    doc = Document("rgp-bench report")
    for section in SECTIONS:
        section(doc, data)

    report = Report(rows=aggregate.public(rows), groups=aggregate.public(groups), comparisons=comparisons,
                    problems=problems, files=files, metric=metric, aspl=studies, notes=notes, references=references,
                    skipped_plots=skipped)
    files["json"] = _write_json(out / "report.json", report)
    files["markdown"] = out / "report.md"
    files["markdown"].write_text(to_markdown(doc, out), encoding="utf-8")
    files["html"] = out / "report.html"
    files["html"].write_text(to_html(doc, base=out), encoding="utf-8")
    return report


def _write_json(path: Path, report: Report) -> Path:
    summary = {
        "metric": report.metric,
        "counts": report.counts(),
        "groups": report.groups,
        "comparisons": report.comparisons,
        "aspl": report.aspl,
        "problems": report.problems,
        "notes": report.notes,
        "skipped_plots": report.skipped_plots,
    }
    path.write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    return path


def _row_order(r: dict[str, Any]) -> tuple:
    return (r["dataset"], r["model"], r["method"], r.get("variant", ""), -1.0 if r["ratio"] is None else r["ratio"],
            -1 if r["seed"] is None else r["seed"])


def _published_sources(baselines_dir: str | Path | None, notes: list[str]) -> list[published.PublishedSource]:
    try:
        return published.load_published(baselines_dir)
    except UserError as exc:
        if baselines_dir is not None:
            raise
        notes.append(f"published numbers left out: {exc}")  # auto-found folder; the report still matters
        return []


def _write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    extra = sorted({k for r in rows for k in r if not k.startswith("_")} - set(ROW_COLUMNS) - {"variant"})
    columns = [*ROW_COLUMNS, "variant", *extra]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: "" if r.get(k) is None else r[k] for k in columns})
    return path


def _plot_name(pair: tuple[str, str], kind: str) -> str:
    """File stem of a plot (and its key in Report.files): '<dataset>_<model>_<kind>'."""
    return f"{plots.safe_name(pair[0])}_{plots.safe_name(pair[1])}_{kind}"


def _basis_suffix(basis: str) -> tuple[str, str]:
    """(kind suffix, title note) of a budget basis: weight budgets have none."""
    return ("", "") if basis == "weights" else ("_mac-budget", ", MAC budgets")


def _plots(
    out: Path,
    groups: list[dict],
    studies: list[dict],
    sources: list[published.PublishedSource],
    pairs: list[tuple[str, str]],
    metric: str,
) -> Figures:
    """Write the plots of every (dataset, model) into out/plots (PNG and SVG)."""
    figs = Figures()
    for pair in pairs:
        ds, model = pair
        # Dense groups are not series (they sit at 0 reduction, 1×): each series draws its dense reference as a line.
        mine = [g for g in groups if (g["dataset"], g["model"]) == pair and not aggregate.is_dense(g)]
        pub = published.matching(sources, ds, model)
        kinds: dict[str, plots.PlotResult] = {}

        def path(kind: str, pair: tuple[str, str] = pair) -> Path:
            return out / "plots" / f"{_plot_name(pair, kind)}.png"

        bases = sorted({g["budget"] for g in mine}, key=lambda b: b != "weights")
        for basis in bases:
            suffix, note = _basis_suffix(basis)
            series = [g for g in mine if g["budget"] == basis]
            for axis in ("params", "macs"):
                kind = f"{axis}{suffix}"
                kinds[kind] = plots.tradeoff_plot(series, pub, axis, metric, f"{ds} / {model}{note}", path(kind))
        kinds["speedup"] = plots.speedup_plot(mine, metric, f"{ds} / {model}: accuracy vs measured speed-up",
                                              path("speedup"))
        for basis in bases:
            suffix, note = _basis_suffix(basis)
            for ratio in sorted({g["ratio"] for g in mine if g["budget"] == basis and g["ratio"] is not None}):
                kind = f"density_r{ratio:g}{suffix}"
                cell = [g for g in mine if g["budget"] == basis and g["ratio"] == ratio]
                kinds[kind] = plots.density_plot(cell, f"{ds} / {model}, ratio {ratio:g}{note}: kept fraction per "
                                                       "prunable layer", path(kind))
        st = [s for s in studies if (s["dataset"], s["model"]) == pair]
        if st:
            kinds["aspl"] = plots.aspl_plot(st, pub, metric, f"{ds} / {model}: accuracy vs ASPL", path("aspl"))
        figs.kinds[pair] = {k: r.reason if isinstance(r, plots.Skipped) else r for k, r in kinds.items()
                            if r is not None}
    return figs


def _show(doc: Document, figures: Figures, pair: tuple[str, str], prefix: str | tuple[str, ...],
          alt: Callable[[str], str]) -> None:
    """The pair's plots of kinds starting with `prefix`: an image each, or a line saying why it was skipped."""
    for kind, what in figures.of(pair, prefix):
        if isinstance(what, Path):
            doc.image(what, alt(kind), plots.svg_path(what))
        else:
            doc.p(f"{alt(kind)}: not drawn, {what}; the results table has these numbers.")


def _seeds(seeds: Sequence[int]) -> str:
    return ",".join(str(s) for s in seeds) or "n/a"


OFF_TARGET_NOTE = (f"†: at least one run of the group achieved a reduction more than "
                   f"{aggregate.OFF_TARGET_TOLERANCE:.0%} away from its ratio on its budget basis (e.g. RGP's "
                   "degree k >= 2 of n nodes caps the sparsity at 1 - 2/n); its sparsity and reduction columns say "
                   "what it pruned.")


def _flagged(label: str, off_target: bool) -> str:
    return f"{label} †" if off_target else label


def _ratio(r: float | None) -> str:
    return "n/a" if r is None else f"{r:g}"


def _listing(names: Sequence[str], joiner: str) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {joiner} {names[-1]}"


# --------------------------------------------------------------------------------------------- sections
def intro_section(doc: Document, d: ReportData) -> None:
    """What was read, and how accuracy and reductions are defined."""
    counts = {s: sum(p["status"] == s for p in d.problems) for s in PROBLEM_STATUSES}
    doc.p(
        f"Inputs: {', '.join(f'`{p}`' for p in d.paths)}. {len(d.rows)} completed runs in {len(d.groups)} groups; "
        + ", ".join(f"{n} {s}" for s, n in counts.items() if n or s != "duplicate")
        + ". Every run is in `results.csv` (one row per run)."
    )
    doc.p(
        f"Accuracy: {plots.METRIC_TEXT[d.metric]}. `best_val` is the test accuracy at the epoch with the best "
        "validation accuracy (ties: lower validation loss; validation carved from the training set); "
        "`final` is the last epoch. The test split is never used to pick an epoch. Reductions are exact counts "
        "from each run (fraction of the dense model removed; 1 MAC = one fused multiply-add). ± is the sample "
        "standard deviation over seeds."
    )


def results_section(doc: Document, d: ReportData) -> None:
    """Mean ± std over seeds per group, each report group with its dense reference row; the best mean at each
    (dataset, model, ratio, budget) is highlighted."""
    other = "final" if d.metric == "best_val" else "best_val"
    shown = [BY_NAME[c] for c in RESULT_COLUMNS
             if c not in OPTIONAL_COLUMNS or any(g[f"{c}_mean"] for g in d.groups)]  # (collapsed: only if any)
    has_dense = any(aggregate.is_dense(g) for g in d.groups)
    doc.h2("Results by group (mean ± std over seeds)")
    text = (f"Bold: the highest mean top-1 ({d.metric}) of the methods at one (dataset, model, ratio, budget); "
            "n is the number of seeds.")
    if has_dense:
        text += (" Dense rows: the unpruned model (method=dense, method=dense_finetune) in the same regime and for "
                 "the same total epochs as the pruned groups it stands above (one dense run serves every ratio and "
                 "budget basis; it is never bold). Δ dense: the group's mean top-1 minus that dense mean, in points.")
    if any(c.name == "speedup" for c in shown):
        batches = sorted({r["speedup_batch"] for r in d.rows if r.get("speedup_batch") is not None})
        text += (" Measured speed-up: inference time of the dense model over the pruned one (materialised form "
                 f"where there is one, else masked), at batch size {_listing([str(b) for b in batches], 'or')} "
                 "(cost.latency).")
    if any(c.name == "collapsed" for c in shown):
        text += (" Collapsed: the fraction of runs whose masks disconnect the input from the output or leave a "
                 "prunable layer empty (record field collapse).")
    if any(g["off_target"] for g in d.groups):
        text += (" " + OFF_TARGET_NOTE + " Such groups are never bold.")
    if any(c.name == "search_seconds" for c in shown):
        text += (" Search s and search evaluations: wall-clock seconds and distinct reward evaluations of the "
                 "method's search (method_info.search); search val top-1: its best candidate's validation top-1 "
                 "before fine-tuning (method_info.best_val_top1), the number that tells search methods apart.")
    doc.p(text)
    entries = aggregate.with_dense_rows(d.groups)
    acc_col = 8
    extra = ["Δ dense"] if has_dense else []
    first_shown = 11 + len(extra)
    doc.table(
        ["dataset", "model", "ratio", "budget", "method", "regime", "n", "seeds", f"top-1 {d.metric}",
         f"top-5 {d.metric}", f"top-1 {other}", *extra, *(c.header for c in shown)],
        [_result_cells(e, d.metric, other, shown, has_dense) for e in entries],
        numeric=(2, 6, acc_col, 9, 10, *range(11, first_shown + len(shown))),
        highlight=[(i, acc_col) for i, e in enumerate(entries) if e.get("best")],
        sticky=STICKY_COLUMNS,
    )
    _dense_notes(doc, d.groups, has_dense)


def _result_cells(e: dict[str, Any], metric: str, other: str, shown: Sequence[Any], has_dense: bool) -> list[str]:
    """One row of the results table: a group, a dense reference row, or a row saying there is no dense reference."""
    head = [e["dataset"], e["model"], _ratio(e["ratio"]), e["budget"]]
    if e.get("_missing"):
        epochs = "mixed epochs" if e["epochs"] is None else f"{e['epochs']} epochs"
        return [*head, aggregate.DENSE, e["regime"] or "n/a", "0", "n/a", f"none at {epochs}", "", "",
                *([""] if has_dense else []), *("" for c in shown if c.cell is not None)]
    if e.get("_reference"):
        delta = ["ref."]
    else:
        delta = [signed(e["dense_diff"]) if e["dense_diff"] is not None else "n/a"] if has_dense else []
    return [
        *head,
        _flagged(e["label"], e["off_target"]),
        e["regime"] or "n/a",
        str(e["n"]),
        _seeds(e["seeds"]),
        pm(e["acc_mean"], e["acc_std"]),
        pm(e[f"top5_{metric}_mean"], e[f"top5_{metric}_std"]),
        pm(e[f"top1_{other}_mean"], e[f"top1_{other}_std"]),
        *delta,
        *(c.cell(e[f"{c.name}_mean"], e[f"{c.name}_std"]) for c in shown if c.cell is not None),
    ]


def _dense_notes(doc: Document, groups: Sequence[dict[str, Any]], has_dense: bool) -> None:
    """Which report groups have no dense reference at their epochs (or that no dense run was given at all)."""
    pruned = [g for g in groups if not aggregate.is_dense(g)]
    if not pruned:
        return
    if not has_dense:
        doc.p("No dense reference: these runs include no method=dense. Add method=dense (scratch regime) and "
              "method=dense_finetune (finetune regime) to the sweep to compare every group with the unpruned model "
              "trained for the same epochs.")
        return
    missing: dict[tuple[str, str, str], list[str]] = {}
    for g in pruned:
        if g["dense_missing"]:
            missing.setdefault((g["dataset"], g["model"], g["dense_missing"]), []).append(
                f"{g['label']} at {_ratio(g['ratio'])}")
    for (dataset, model, why), where in missing.items():
        doc.p(f"{dataset} / {model}: {why} ({', '.join(dict.fromkeys(where))}); Δ dense is n/a there. A dense run "
              "of other epochs is never used in its place.")


def sanity_section(doc: Document, d: ReportData) -> None:
    """Sanity-checked runs against the same method without the check (only when there are any)."""
    if not d.sanity:
        return
    doc.h2("Sanity checks (paired by seed)")
    doc.p(
        "Each sanity-checked group against the same method, settings and ratio without the check: `shuffle` "
        "permutes each layer's mask within the layer (keeping layer densities), `reinit` draws new weights under "
        "the same masks, `invert` keeps the lowest-scored weights. A method whose accuracy does not drop under "
        "`shuffle` (the paired mean difference is not below zero by more than its standard error) learns only "
        "its layer densities, not which weights to keep (Frankle et al., ICLR 2021; Su et al., NeurIPS 2020)."
    )
    doc.table(
        ["dataset", "model", "ratio", "budget", "method", "check", "pairs", "plain", "checked", "diff", "p",
         "verdict"],
        [[c["dataset"], c["model"], _ratio(c["ratio"]), c["budget"], c["method"], c["check"], str(c["n_pairs"]),
          fnum(c["plain_mean"]), fnum(c["check_mean"]), signed(c["mean_diff"]), pval(c["p_value"]),
          "learns only layer densities" if c["learns_only_densities"] else ""] for c in d.sanity],
        numeric=(2, 6, 7, 8, 9, 10),
    )


def differences_section(doc: Document, d: ReportData) -> None:
    """Each method minus each reference method, paired by seed, with a paired t-test."""
    refs = list(d.references)
    doc.h2(f"Differences from {_listing(refs, 'and')} (paired by seed)" if refs else "Differences (paired by seed)")
    if not refs:
        doc.p("No reference methods were given (`--reference METHOD,...`, or `reference` of the sweep's "
              "`sweep_report` callback), so nothing is compared.")
        return
    doc.p(
        "Difference = method − reference in test top-1 points, over the seeds both have, at the same "
        "(dataset, model, ratio) on the same budget basis (weights or MACs). p is a paired t-test across seeds "
        "(scipy.stats.ttest_rel); n/a with fewer than 2 pairs or when every pair differs by the same amount. "
        "The regimes may differ (scratch: pruned at init then trained; finetune: trained dense, pruned, "
        "fine-tuned), so check the training budgets too."
        + (" The reference `dense` is each group's dense reference: the unpruned model in the same regime and for "
           "the same total epochs (one dense run serves every ratio); groups without one are not compared with it."
           if aggregate.DENSE in refs else "")
        + (" " + OFF_TARGET_NOTE + " Its difference is not a comparison at equal budget."
           if any(c["off_target"] for c in d.comparisons) else "")
    )
    if not d.comparisons:
        doc.p(f"No {_listing(refs, 'or')} runs at a matching (dataset, model, ratio), so nothing to compare.")
        return
    doc.table(
        ["dataset", "model", "ratio", "method", "regime", "reference", "ref. regime", "pairs", "method mean",
         "reference mean", "mean diff", "std diff", "t", "p"],
        [
            [
                c["dataset"],
                c["model"],
                _ratio(c["ratio"]),
                _flagged(c["method"], c["off_target"]),
                c["regime"] or "n/a",
                c["reference"],
                c["reference_regime"] or "n/a",
                str(c["n_pairs"]),
                fnum(c["method_mean"]),
                fnum(c["reference_mean"]),
                signed(c["mean_diff"]),
                fnum(c["std_diff"]),
                fnum(c["t"]),
                pval(c["p_value"]),
            ]
            for c in d.comparisons
        ],
        numeric=(2, 7, 8, 9, 10, 11, 12, 13),
    )


def tradeoff_section(doc: Document, d: ReportData) -> None:
    """Accuracy against parameter and MAC reduction, with published markers."""
    doc.h2("Accuracy vs parameter and MAC reduction")
    doc.p(
        "Lines: this benchmark's runs, mean ± std over seeds, one colour and marker per method (the same in "
        "every report); each point is labelled with its number of seeds n, and single-seed points are hollow. "
        "Points of different methods at the same reduction are spread slightly sideways. The x axis is spaced "
        "by compression (dense ÷ remaining, log scale, on top); the grey band is the Pareto front of the "
        "group means (no other group is both more reduced and more accurate); the horizontal lines are the "
        "plotted groups' dense references (method=dense and dense_finetune runs in the same regime and for the same "
        "total epochs; the legend names each regime and epoch count that has none). Large markers: published "
        "numbers from `baselines/` for the same dataset and model, labelled with their source and convention "
        "(nominal reductions overstate the exact ones; see the table below; `~` and a dashed edge mark "
        "approximate readings)."
    )
    for pair in d.pairs:
        kinds = d.figures.of(pair, ("params", "macs"))
        if kinds:
            doc.h3(f"{pair[0]} / {pair[1]}")
        _show(doc, d.figures, pair, ("params", "macs"), lambda kind, pair=pair: _tradeoff_alt(pair, kind))


def _tradeoff_alt(pair: tuple[str, str], kind: str) -> str:
    what = "parameter" if kind.startswith("params") else "MAC"
    budgets = " (MAC-budget methods)" if kind.endswith("_mac-budget") else ""
    return f"{pair[0]} / {pair[1]}: accuracy vs {what} reduction{budgets}"


def speedup_section(doc: Document, d: ReportData) -> None:
    """Accuracy against the measured inference speed-up, where records carry cost.latency."""
    if not any(d.figures.of(pair, "speedup") for pair in d.pairs):
        return
    doc.h2("Accuracy vs measured speed-up")
    doc.p("Speed-up: inference time of the dense model over the pruned one (cost.latency.speedup: the "
          "materialised form where there is one, else the masked model), mean ± std over seeds, on the machine "
          "that ran them; the dense model is at 1×. Masked models compute every weight, so only a materialised "
          "form (channels removed, block-sparse kernels) can be faster.")
    for pair in d.pairs:
        _show(doc, d.figures, pair, "speedup", lambda _k, pair=pair: f"{pair[0]} / {pair[1]}: accuracy vs measured "
              "speed-up")


def density_section(doc: Document, d: ReportData) -> None:
    """The kept fraction of every prunable layer, per method, at each ratio."""
    if not any(d.figures.of(pair, "density") for pair in d.pairs):
        return
    doc.h2("Kept fraction per prunable layer")
    doc.p("Density (fraction of weights kept) of each prunable layer in model order, from cost.layers, mean over "
          "seeds (band: ± std); one line per method at each ratio. For weight budgets the dashed line is the "
          "uniform allocation 1 − ratio.")
    for pair in d.pairs:
        if d.figures.of(pair, "density"):
            doc.h3(f"{pair[0]} / {pair[1]}")
        _show(doc, d.figures, pair, "density", lambda kind, pair=pair: _density_alt(pair, kind))


def _density_alt(pair: tuple[str, str], kind: str) -> str:
    ratio = kind.removeprefix("density_r").removesuffix("_mac-budget")
    budgets = ", MAC budget" if kind.endswith("_mac-budget") else ""
    return f"{pair[0]} / {pair[1]}, ratio {ratio}{budgets}: kept fraction per prunable layer"


def aspl_section(doc: Document, d: ReportData) -> None:
    """Accuracy against the graph's ASPL, for every method whose records carry method_info.aspl."""
    doc.h2("Accuracy vs ASPL")
    if not d.studies:
        doc.p("No group of runs has 3 or more distinct graph ASPL values (method_info.aspl).")
        return
    doc.p(
        "Groups of runs of one method (same dataset, model, regime, nodes, degree and epochs) with at least 3 "
        "distinct graph ASPL values. Spearman's rho is over runs (scipy.stats.spearmanr), with a percentile "
        f"bootstrap 95 % confidence interval ({stats.BOOTSTRAP_RESAMPLES} resamples of the runs, seeded); the RGP "
        "paper claims a negative correlation."
    )
    doc.table(
        ["dataset", "model", "method", "graph", "regime", "epochs", "runs", "graphs", "ASPL range", "Spearman rho",
         "95 % CI", "p"],
        [
            [
                s["dataset"],
                s["model"],
                s["method"],
                s["graph"],
                s["regime"] or "n/a",
                str(s["epochs_total"]),
                str(s["n_runs"]),
                str(s["n_graphs"]),
                f"{s['points'][0]['aspl']:.3f} – {s['points'][-1]['aspl']:.3f}",
                signed(s["rho"], 3),
                interval(s["rho_ci"], 3),
                pval(s["p_value"]),
            ]
            for s in d.studies
        ],
        numeric=(5, 6, 7, 9, 10, 11),
    )
    for pair in d.pairs:
        _show(doc, d.figures, pair, "aspl", lambda _k, pair=pair: f"{pair[0]} / {pair[1]}: accuracy vs ASPL")


def problems_section(doc: Document, d: ReportData) -> None:
    """Failed, incomplete, missing and duplicate runs."""
    doc.h2("Failed, incomplete and missing runs")
    if not d.problems:
        doc.p("None: every job found has a results.json and no sweep combination is missing.")
        return
    order = {s: i for i, s in enumerate(PROBLEM_STATUSES)}
    doc.table(
        ["status", "run", "detail", "path"],
        [
            [p["status"], p.get("run", ""), p["detail"], p["path"]]
            for p in sorted(d.problems, key=lambda p: (order.get(p["status"], 9), p["path"], p["detail"]))
        ],
    )


def notes_section(doc: Document, d: ReportData) -> None:
    """Things the reader should know."""
    if d.notes:
        doc.h2("Notes")
        for n in d.notes:
            doc.p(n)


def published_section(doc: Document, d: ReportData) -> None:
    """Published numbers for the same datasets and models, with their sources and conventions."""
    sources, pairs = d.sources, d.pairs
    doc.h2("Published reference numbers")
    matched = [(s, e) for ds, model in pairs for s, e in published.matching(sources, ds, model)]
    if not sources:
        doc.p("No baselines folder was found (set RGP_BENCH_BASELINES or run from the repository root).")
        return
    if not matched:
        doc.p(
            f"None of the {sum(len(s.entries) for s in sources)} published entries in {len(sources)} sources "
            "matches a dataset/model of these runs."
        )
        return
    doc.p(
        "Copied from the sources below, never re-measured: conventions differ from this benchmark (nominal "
        "vs exact reductions, FLOPs vs MACs, unknown epoch selection). Values read off a figure carry about "
        "±0.2 points; `~` marks harder readings."
    )
    doc.table(
        ["source", "dataset", "model", "method", "label", "params red.", "MACs red.", "top-1", "top-5", "ASPL"],
        [
            [
                s.short,
                e.dataset,
                e.model,
                e.method,
                e.label,
                pct(e.params_reduction),
                pct(e.macs_reduction),
                ("~" if e.approximate else "") + fnum(e.top1),
                fnum(e.top5),
                fnum(e.aspl, 3),
            ]
            for s, e in matched
        ],
        numeric=(5, 6, 7, 8, 9),
    )
    used = {s.source["id"]: s for s, _ in matched}
    for s in used.values():
        c, src = s.convention, s.source
        ref = "; ".join(f"{k} {src[k]}" for k in ("arxiv", "doi", "url", "commit") if src.get(k))
        doc.p(
            f"{s.short}: {' '.join(str(src['citation']).split())} {src['where']}. {ref}. Convention: "
            f"{c['reduction']} reduction, cost in {c['cost_unit']}, ratio of {c['ratio_basis']} "
            f"({c['published_as']}), accuracy {'/'.join(c['accuracy'])} at {c['accuracy_epoch']} epoch"
            + (f", read off a figure (±{c.get('uncertainty')})" if c["read_off_figure"] else "")
            + "."
        )


SECTIONS: tuple[Callable[[Document, ReportData], None], ...] = (
    intro_section,
    results_section,
    differences_section,
    sanity_section,
    tradeoff_section,
    speedup_section,
    density_section,
    aspl_section,
    published_section,
    problems_section,
    notes_section,
)
