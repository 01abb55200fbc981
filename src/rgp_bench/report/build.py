"""`build_report`: collect runs, aggregate, plot and write results.csv, report.md, report.html, report.json."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rgp_bench.errors import UserError, choices_error
from rgp_bench.report import aggregate, plots
from rgp_bench.report import baselines as bl
from rgp_bench.report.collect import ROW_COLUMNS, collect
from rgp_bench.report.render import Document, fnum, pct, pm, pval, signed, to_html, to_markdown

PROBLEM_STATUSES = ("failed", "incomplete", "missing", "duplicate")


@dataclass
class Report:
    """Everything a report shows, plus the files written."""

    rows: list[dict]  # tidy rows, one per completed run (as in results.csv)
    groups: list[dict]  # mean/std/n per (dataset, model, regime, ratio, method, variant)
    comparisons: list[dict]  # paired differences from magnitude and random
    problems: list[dict]  # {"path", "status": failed|incomplete|missing|duplicate, "detail", "run"}
    files: dict[str, Path]  # "csv", "markdown", "html", "json", and plot names -> paths
    metric: str = "best_val"
    aspl: list[dict] = field(default_factory=list)  # accuracy-vs-ASPL studies (rgp)
    notes: list[str] = field(default_factory=list)  # things the reader should know (unchecked sweeps ...)

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


def build_report(
    paths: Sequence[str | Path],
    out_dir: str | Path,
    *,
    metric: str = "best_val",
    baselines_dir: str | Path | None = None,
    published: bool = True,
) -> Report:
    """Collect every run under `paths` and write the report files into `out_dir`.

    `metric` picks the accuracy the tables and plots use: "best_val" (test top-1 at the epoch with the best
    validation accuracy) or "final" (last epoch). Published numbers come from `baselines_dir` (default:
    `baselines.default_dir()`); `published=False` leaves them out. Raises UserError for bad input (missing
    path, no runs, unknown metric, an invalid file in an explicitly given `baselines_dir`).
    """
    if metric not in aggregate.METRICS:
        raise choices_error("metric", metric, aggregate.METRICS)
    if baselines_dir is not None and not Path(baselines_dir).is_dir():
        raise UserError(f"baselines folder not found: {baselines_dir}")
    col = collect(paths)
    runs, dup_problems = aggregate.deduplicate(col.runs)
    aggregate.assign_variants(runs)
    rows = sorted(
        (r.row for r in runs),
        key=lambda r: (
            r["dataset"],
            r["model"],
            r["method"],
            r.get("variant", ""),
            -1.0 if r["ratio"] is None else r["ratio"],
            -1 if r["seed"] is None else r["seed"],
        ),
    )
    groups = aggregate.group_rows(rows, metric)
    comparisons = aggregate.compare(groups, metric)
    studies = aggregate.aspl_studies(rows, metric)
    problems = col.problems + dup_problems
    notes = list(col.notes)
    sources: list[bl.BaselineSource] = []
    if published:
        try:
            sources = bl.load_baselines(baselines_dir)
        except UserError as exc:
            if baselines_dir is not None:
                raise
            notes.append(f"published numbers left out: {exc}")  # auto-found folder; the report still matters

    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create output folder {out}: {exc.strerror or exc}") from exc
    files: dict[str, Path] = {}
    files["csv"] = _write_csv(out / "results.csv", rows)

    doc = Document("rgp-bench report")
    pairs = sorted({(g["dataset"], g["model"]) for g in groups})
    plot_files = _plots(out, groups, studies, sources, pairs, metric, files)
    _compose(doc, paths, rows, groups, comparisons, studies, problems, notes, sources, pairs, plot_files, metric)

    report = Report(
        rows=rows,
        groups=aggregate.public(groups),
        comparisons=comparisons,
        problems=problems,
        files=files,
        metric=metric,
        aspl=studies,
        notes=notes,
    )
    files["json"] = out / "report.json"
    files["json"].write_text(
        json.dumps(
            {
                "metric": metric,
                "counts": report.counts(),
                "groups": report.groups,
                "comparisons": comparisons,
                "aspl": studies,
                "problems": problems,
                "notes": notes,
            },
            indent=2,
            default=str,
        ),
        encoding="utf-8",
    )
    files["markdown"] = out / "report.md"
    files["markdown"].write_text(to_markdown(doc, out), encoding="utf-8")
    files["html"] = out / "report.html"
    files["html"].write_text(to_html(doc), encoding="utf-8")
    return report


def _write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    extra = sorted({k for r in rows for k in r} - set(ROW_COLUMNS) - {"variant"})
    columns = [*ROW_COLUMNS, "variant", *extra]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: "" if r.get(k) is None else r[k] for k in columns})
    return path


def _plots(
    out: Path,
    groups: list[dict],
    studies: list[dict],
    sources: list[bl.BaselineSource],
    pairs: list[tuple[str, str]],
    metric: str,
    files: dict[str, Path],
) -> dict[tuple[str, str], dict[str, Path]]:
    """Write the plots of every (dataset, model); return {(dataset, model): {"params"|"macs"|"aspl": path}}."""
    made: dict[tuple[str, str], dict[str, Path]] = {}
    for ds, model in pairs:
        mine = [g for g in groups if (g["dataset"], g["model"]) == (ds, model)]
        pub = bl.matching(sources, ds, model)
        stem = out / "plots" / f"{plots.safe_name(ds)}_{plots.safe_name(model)}"
        kinds: dict[str, Path | None] = {
            axis: plots.tradeoff_plot(mine, pub, axis, metric, f"{ds} / {model}", Path(f"{stem}_{axis}.png"))
            for axis in ("params", "macs")
        }
        st = [s for s in studies if (s["dataset"], s["model"]) == (ds, model)]
        if st:
            kinds["aspl"] = plots.aspl_plot(
                st, pub, metric, f"{ds} / {model}: accuracy vs ASPL (rgp)", Path(f"{stem}_aspl.png")
            )
        made[(ds, model)] = {k: p for k, p in kinds.items() if p is not None}
        files.update({p.stem: p for p in made[(ds, model)].values()})
    return made


def _seeds(seeds: Sequence[int]) -> str:
    return ",".join(str(s) for s in seeds) or "n/a"


def _ratio(r: float | None) -> str:
    return "n/a" if r is None else f"{r:g}"


def _compose(
    doc: Document,
    paths: Sequence[str | Path],
    rows: list[dict],
    groups: list[dict],
    comparisons: list[dict],
    studies: list[dict],
    problems: list[dict],
    notes: list[str],
    sources: list[bl.BaselineSource],
    pairs: list[tuple[str, str]],
    plot_files: dict[tuple[str, str], dict[str, Path]],
    metric: str,
) -> None:
    other = "final" if metric == "best_val" else "best_val"
    counts = {s: sum(p["status"] == s for p in problems) for s in PROBLEM_STATUSES}
    doc.p(
        f"Inputs: {', '.join(f'`{p}`' for p in paths)}. {len(rows)} completed runs in {len(groups)} groups; "
        + ", ".join(f"{n} {s}" for s, n in counts.items() if n or s != "duplicate")
        + ". Every run is in `results.csv` (one row per run)."
    )
    doc.p(
        f"Accuracy: {plots.METRIC_TEXT[metric]}. `best_val` is the test accuracy at the epoch with the best "
        "validation accuracy (ties: lower validation loss; validation carved from the training set); "
        "`final` is the last epoch. The test split is never used to pick an epoch. Reductions are exact counts "
        "from each run (fraction of the dense model removed; 1 MAC = one fused multiply-add). ± is the sample "
        "standard deviation over seeds."
    )

    doc.h2("Results by group (mean ± std over seeds)")
    doc.table(
        [
            "dataset",
            "model",
            "ratio",
            "method",
            "regime",
            "n",
            "seeds",
            f"top-1 {metric}",
            f"top-5 {metric}",
            f"top-1 {other}",
            "params red.",
            "MACs red.",
            "sparsity (prunable)",
            "epochs",
        ],
        [
            [
                g["dataset"],
                g["model"],
                _ratio(g["ratio"]),
                g["label"],
                g["regime"] or "n/a",
                str(g["n"]),
                _seeds(g["seeds"]),
                pm(g["acc_mean"], g["acc_std"]),
                pm(g[f"top5_{metric}_mean"], g[f"top5_{metric}_std"]),
                pm(g[f"top1_{other}_mean"], g[f"top1_{other}_std"]),
                pct(g["params_reduction_mean"]),
                pct(g["macs_reduction_mean"]),
                pct(g["sparsity_achieved_mean"]),
                fnum(g["epochs_total_mean"], 0),
            ]
            for g in groups
        ],
        numeric=(2, 5, 7, 8, 9, 10, 11, 12, 13),
    )

    doc.h2("Differences from magnitude and random (paired by seed)")
    doc.p(
        "Difference = method − reference in test top-1 points, over the seeds both have, at the same "
        "(dataset, model, ratio). p is a paired t-test across seeds (scipy.stats.ttest_rel); n/a with fewer "
        "than 2 pairs or when every pair differs by the same amount. The regimes may differ (scratch: "
        "pruned at init then trained; finetune: trained dense, pruned, fine-tuned), so check the training "
        "budgets too."
    )
    if comparisons:
        doc.table(
            [
                "dataset",
                "model",
                "ratio",
                "method",
                "regime",
                "reference",
                "ref. regime",
                "pairs",
                "method mean",
                "reference mean",
                "mean diff",
                "std diff",
                "t",
                "p",
            ],
            [
                [
                    c["dataset"],
                    c["model"],
                    _ratio(c["ratio"]),
                    c["method"],
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
                for c in comparisons
            ],
            numeric=(2, 7, 8, 9, 10, 11, 12, 13),
        )
    else:
        doc.p("No magnitude or random runs at a matching (dataset, model, ratio), so nothing to compare.")

    doc.h2("Accuracy vs parameter and MAC reduction")
    doc.p(
        "Lines: this benchmark's runs, mean ± std over seeds. Markers: published numbers from `baselines/` "
        "for the same dataset and model, labelled with their source and convention (nominal reductions "
        "overstate the exact ones; see the table below)."
    )
    for ds, model in pairs:
        made = [(k, plot_files[(ds, model)][k]) for k in ("params", "macs") if k in plot_files[(ds, model)]]
        if made:
            doc.h3(f"{ds} / {model}")
        for kind, p in made:
            doc.image(p, f"{ds} / {model}: accuracy vs {'parameter' if kind == 'params' else 'MAC'} reduction")

    doc.h2("Accuracy vs ASPL (rgp)")
    if studies:
        doc.p(
            "Groups of rgp runs (same dataset, model, regime, nodes, degree and epochs) with at least 3 "
            "distinct graph ASPL values. Spearman's rho is over runs (scipy.stats.spearmanr); the paper "
            "claims a negative correlation."
        )
        doc.table(
            ["dataset", "model", "graph", "regime", "epochs", "runs", "graphs", "ASPL range", "Spearman rho", "p"],
            [
                [
                    s["dataset"],
                    s["model"],
                    s["graph"],
                    s["regime"] or "n/a",
                    str(s["epochs_total"]),
                    str(s["n_runs"]),
                    str(s["n_graphs"]),
                    f"{s['points'][0]['aspl']:.3f} – {s['points'][-1]['aspl']:.3f}",
                    signed(s["rho"], 3),
                    pval(s["p_value"]),
                ]
                for s in studies
            ],
            numeric=(4, 5, 6, 8, 9),
        )
        for ds, model in pairs:
            if "aspl" in plot_files[(ds, model)]:
                doc.image(plot_files[(ds, model)]["aspl"], f"{ds} / {model}: accuracy vs ASPL (rgp)")
    else:
        doc.p("No group of rgp runs has 3 or more distinct ASPL values (method_info.aspl).")

    _published_section(doc, sources, pairs)

    doc.h2("Failed, incomplete and missing runs")
    if problems:
        order = {s: i for i, s in enumerate(PROBLEM_STATUSES)}
        doc.table(
            ["status", "run", "detail", "path"],
            [
                [p["status"], p.get("run", ""), p["detail"], p["path"]]
                for p in sorted(problems, key=lambda p: (order.get(p["status"], 9), p["path"], p["detail"]))
            ],
        )
    else:
        doc.p("None: every job found has a results.json and no sweep combination is missing.")
    if notes:
        doc.h2("Notes")
        for n in notes:
            doc.p(n)


def _published_section(doc: Document, sources: list[bl.BaselineSource], pairs: list[tuple[str, str]]) -> None:
    doc.h2("Published reference numbers")
    matched = [(s, e) for ds, model in pairs for s, e in bl.matching(sources, ds, model)]
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
