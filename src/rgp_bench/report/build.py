"""`build_report`, the pipeline: collect runs, group and compare them, plot, and write results.csv, report.md,
report.html and report.json.

The document is composed section by section (`report.sections.SECTIONS`), each a function of the collected
`ReportData`.
"""

from __future__ import annotations

import csv
import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rgp_bench.core.errors import UserError, choices_error
from rgp_bench.report import published
from rgp_bench.report.aspl import AsplStudy, aspl_studies
from rgp_bench.report.collect import collect
from rgp_bench.report.columns import METRICS, ROW_COLUMNS
from rgp_bench.report.compare import Comparison, SanityCheck, compare, sanity_checks
from rgp_bench.report.dedupe import deduplicate
from rgp_bench.report.dense import match_dense
from rgp_bench.report.emphasis import ALPHA, mark_best
from rgp_bench.report.figures import Figures, draw_figures
from rgp_bench.report.graph2nn import Graph2nnReference, load_graph2nn
from rgp_bench.report.groups import Group, group_runs, natural_key
from rgp_bench.report.plots import pdf_path, svg_path
from rgp_bench.report.plots.topology import draw_topology
from rgp_bench.report.problems import PROBLEM_STATUSES, Problem
from rgp_bench.report.render import Document, to_html, to_markdown
from rgp_bench.report.runs import Run
from rgp_bench.report.sections import SECTIONS, ReportData
from rgp_bench.report.sections.compact import SUMMARY_FILE, compact_blocks, legend_text
from rgp_bench.report.topology_study import runs_study
from rgp_bench.report.variants import assign_variants


@dataclass
class Report:
    """What a report shows, in the form report.json gives it, plus the files written."""

    rows: list[dict[str, Any]]  # tidy rows, one per completed run (as in results.csv)
    groups: list[dict[str, Any]]  # mean/std/n per (dataset, model, regime, ratio, budget, method, variant)
    comparisons: list[dict[str, Any]]  # paired differences from the reference methods
    problems: list[dict[str, Any]]  # {"path", "status": failed|incomplete|missing|duplicate, "detail", "run"}
    # "csv", "markdown", "summary" (the compact tables), "html", "json", plot names -> PNG paths, and
    # "<plot name>.svg" / "<plot name>.pdf" -> the SVG and PDF beside it
    files: dict[str, Path]
    metric: str = "best_val"
    aspl: list[dict[str, Any]] = field(default_factory=list)  # accuracy-vs-ASPL studies
    notes: list[str] = field(default_factory=list)  # things the reader should know (unchecked sweeps ...)
    references: tuple[str, ...] = ()
    skipped_plots: dict[str, str] = field(default_factory=dict)  # plot name -> why it was not drawn
    topology: dict[str, Any] | None = None  # the topology study (report.topology_study), None without panels
    best_tests: int = 0  # paired tests behind the results table's bold and tied marks (report.emphasis)

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
    references: Sequence[str] = (),
    baselines_dir: str | Path | None = None,
    with_published: bool = True,
    figures: bool = True,
) -> Report:
    """Collect every run under `paths` and write the report files into `out_dir`.

    `metric` picks the accuracy the tables and plots use: "best_val" (test top-1 at the epoch with the best
    validation accuracy) or "final" (last epoch). Every method is compared, paired by seed, with each method
    in `references`. Published numbers come from `baselines_dir` (default: `published.default_dir()`);
    `with_published=False` leaves them out; `figures=False` writes the tables without drawing any plot (the
    figure-only sections are left out and a note says how to draw them). Raises UserError for bad input (missing
    path, no runs, unknown metric, an invalid file in an explicitly given `baselines_dir`).
    """
    if metric not in METRICS:
        raise choices_error("metric", metric, METRICS)
    if baselines_dir is not None and not Path(baselines_dir).is_dir():
        raise UserError(f"baselines folder not found: {baselines_dir}")
    references = tuple(references)
    found = analyse(paths, metric, references)
    notes = found.notes
    sources = _published_sources(baselines_dir, notes) if with_published else []
    graph2nn = _graph2nn(baselines_dir, notes) if with_published else None

    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create output folder {out}: {exc.strerror or exc}") from exc
    files: dict[str, Path] = {"csv": _write_csv(out / "results.csv", found.runs)}
    pairs = sorted({(g.dataset, g.model) for g in found.groups})
    if figures:
        drawn = draw_figures(out, found.groups, found.studies, sources, pairs, metric)
    else:
        drawn = Figures()
        notes.append("figures not drawn (asked for tables only); to draw them: python -m rgp_bench.report "
                     + " ".join(shlex.quote(str(p)) for p in paths) + f" --out {shlex.quote(str(out))}")
    for png in drawn.made():
        files[png.stem] = png
        files[f"{png.stem}.svg"] = svg_path(png)
        files[f"{png.stem}.pdf"] = pdf_path(png)
    topology = runs_study(found.runs, metric)
    topology_plots = draw_topology(out, topology, metric) if figures else {}
    files.update({p.stem: p for p in topology_plots.values() if isinstance(p, Path)})
    data = ReportData(paths, found.runs, found.groups, found.comparisons, found.studies, found.problems, notes,
                      sources, pairs, drawn, metric, references, found.sanity, topology, topology_plots,
                      found.best_tests, graph2nn)
    doc = Document("rgp-bench report")
    for section in SECTIONS:
        section(doc, data)

    report = Report(rows=[r.row for r in found.runs], groups=[g.to_dict() for g in found.groups],
                    comparisons=[c.to_dict() for c in found.comparisons],
                    problems=[p.to_dict() for p in found.problems], files=files, metric=metric,
                    aspl=[s.to_dict() for s in found.studies], notes=notes, references=references,
                    skipped_plots=drawn.skipped(), topology=topology.to_dict() if topology.points else None,
                    best_tests=found.best_tests)
    files["json"] = _write_json(out / "report.json", report)
    files["markdown"] = out / "report.md"
    files["markdown"].write_text(to_markdown(doc, out), encoding="utf-8")
    files["summary"] = out / SUMMARY_FILE
    summary = compact_blocks(data)
    summary.blocks.insert(0, ("p", legend_text(metric)))
    files["summary"].write_text(to_markdown(summary, out), encoding="utf-8")
    files["html"] = out / "report.html"
    files["html"].write_text(to_html(doc, base=out), encoding="utf-8")
    return report


@dataclass
class Analysis:
    """The runs under the report's paths, grouped over seeds and compared (everything but figures and files)."""

    runs: list[Run]
    groups: list[Group]
    comparisons: list[Comparison]
    studies: list[AsplStudy]
    sanity: list[SanityCheck]
    problems: list[Problem]
    notes: list[str]
    # How many paired tests decided the results table's emphasis (report.emphasis).
    best_tests: int = 0


def analyse(paths: Sequence[str | Path], metric: str, references: Sequence[str] = ()) -> Analysis:
    """Read every run under `paths` (once per run id), split its method into variants, group over seeds, give each
    group its dense reference and compare groups (UserError when no run is found)."""
    col = collect(paths)
    runs, duplicates, copies = deduplicate(col.runs)
    assign_variants(runs)
    runs.sort(key=_run_order)
    groups = group_runs(runs, metric)
    match_dense(groups)
    best_tests = mark_best(groups, metric)
    notes = list(col.notes)
    if copies:
        notes.append(f"{copies} identical record cop{'y' if copies == 1 else 'ies'} dropped (a skipped rerun copies "
                     "the stored record into its new sweep folder): each run is counted once.")
    return Analysis(runs, groups, compare(groups, metric, references), aspl_studies(runs, metric),
                    sanity_checks(groups, metric), col.problems + duplicates, notes, best_tests)


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
        "topology": report.topology,
        # How `best` and `tied` of the groups were decided (report.emphasis).
        "emphasis": {"test": "paired t-test across seeds, highest mean of a cell against each other group",
                     "correction": "holm", "alpha": ALPHA, "tests": report.best_tests},
    }
    path.write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    return path


def _run_order(r: Run) -> tuple[Any, ...]:
    rec = r.record
    return rec.dataset, rec.model, rec.method, natural_key(r.variant), rec.ratio, rec.seed


def _published_sources(baselines_dir: str | Path | None, notes: list[str]) -> list[published.PublishedSource]:
    try:
        return published.load_published(baselines_dir)
    except UserError as exc:
        if baselines_dir is not None:
            raise
        notes.append(f"published numbers left out: {exc}")  # auto-found folder; the report still matters
        return []


def _graph2nn(baselines_dir: str | Path | None, notes: list[str]) -> Graph2nnReference | None:
    try:
        return load_graph2nn(Path(baselines_dir) if baselines_dir is not None else published.default_dir())
    except UserError as exc:
        if baselines_dir is not None:
            raise
        notes.append(f"graph2nn reference left out: {exc}")
        return None


def _write_csv(path: Path, runs: Sequence[Run]) -> Path:
    rows = [r.row for r in runs]
    extra = sorted({k for r in rows for k in r} - set(ROW_COLUMNS) - {"variant"})
    columns = [*ROW_COLUMNS, "variant", *extra]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: "" if r.get(k) is None else r[k] for k in columns})
    return path
