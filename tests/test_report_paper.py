"""Paper-grade figures: every figure kind rendered at a single column (3.5 in) has no text below 8 pt (read off its
SVG), a PDF and a 300 dpi PNG beside it, even compression ticks; every registered method has its own colour and
marker; the Pareto front treats noise as ties."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from tests.test_report_figures import rich_groups, rich_root  # noqa: F401  (module fixtures)

from rgp_bench.report import plots
from rgp_bench.report.aspl import AsplPoint, AsplStudy
from rgp_bench.report.groups import Group
from rgp_bench.report.plots.canvas import MIN_FONT, PNG_DPI, SINGLE_COLUMN
from rgp_bench.report.style import KNOWN, method_style, variant_look

_FONT = re.compile(r"font(?:-size)?:\s*(?:[a-z-]+\s+)*([\d.]+)px")


def svg_font_sizes(svg: Path) -> list[float]:
    """Every text size in an SVG written with text kept as text (svg.fonttype none: 1 px = 1 pt)."""
    return [float(m) for m in _FONT.findall(svg.read_text())]


def svg_width_inches(svg: Path) -> float:
    width = re.search(r'<svg[^>]*\swidth="([\d.]+)pt"', svg.read_text())
    assert width, "no width in pt"
    return float(width.group(1)) / 72


def _study() -> AsplStudy:
    pts = [AsplPoint(aspl=a, n=3, acc_mean=90 - a, acc_std=0.4) for a in (2.9, 3.5, 5.0, 8.4)]
    return AsplStudy(dataset="d", model="m", regime="scratch", method="rgp", nodes=64, degree=4, ratio=None,
                     epochs_total=40, graph="64_4", metric="best_val", n_runs=12, n_graphs=4, rho=-0.8,
                     rho_ci=[-0.95, -0.4], p_value=0.01, points=pts)


def _single_column_figures(groups: list[Group], out: Path) -> dict[str, Path]:
    mine = [g for g in groups if g.dataset == "cifar10" and not g.is_dense]
    weights = [g for g in mine if g.budget == "weights"]
    made = {
        "params": plots.tradeoff_plot(weights, (), "params", "best_val", "t", out / "params.png", SINGLE_COLUMN),
        "macs": plots.tradeoff_plot(mine, (), "macs", "best_val", "t", out / "macs.png", SINGLE_COLUMN),
        "speedup": plots.speedup_plot(mine, "best_val", "t", out / "speedup.png", SINGLE_COLUMN),
        "density": plots.density_plot([g for g in weights if g.ratio == 0.9], "t", out / "density.png",
                                      SINGLE_COLUMN),
        "aspl": plots.aspl_plot([_study()], (), "best_val", "t", out / "aspl.png", SINGLE_COLUMN),
    }
    for kind, path in made.items():
        assert isinstance(path, Path), f"{kind} not drawn: {path}"
    return made  # type: ignore[return-value]


def test_every_figure_kind_at_column_width_has_no_text_below_8pt(rich_groups: list[Group],  # noqa: F811
                                                                 tmp_path: Path) -> None:
    for kind, png in _single_column_figures(rich_groups, tmp_path).items():
        svg = plots.svg_path(png)
        sizes = svg_font_sizes(svg)
        assert sizes, f"{kind}: no text found in the SVG"
        assert min(sizes) >= MIN_FONT, f"{kind}: text at {min(sizes)} pt"
        assert svg_width_inches(svg) == pytest.approx(SINGLE_COLUMN)
        assert png.with_suffix(".pdf").read_bytes()[:5] == b"%PDF-"
        from PIL import Image

        with Image.open(png) as im:
            assert im.size[0] == pytest.approx(SINGLE_COLUMN * PNG_DPI, abs=2)


def test_compression_ticks_are_powers_of_two() -> None:
    assert plots.log2_ticks(0.8, 4.2) == [2.0, 4.0, 8.0, 16.0]
    narrow = plots.log2_ticks(0.1, 1.2)
    ratios = [b / a for a, b in itertools.pairwise(narrow)]
    assert len(narrow) >= 3 and max(ratios) == pytest.approx(min(ratios))  # evenly spaced on the log axis


def test_every_registered_method_has_its_own_colour_and_marker() -> None:
    from rgp_bench.methods import METHODS

    styles = {name: method_style(name) for name in METHODS}
    pairs = [(s.color.lower(), s.marker) for s in styles.values()]
    assert len(set(pairs)) == len(pairs), styles
    assert set(METHODS) <= set(KNOWN) | {"dense_finetune"}, "give every registered method a KNOWN style"
    assert len({s.color.lower() for s in KNOWN.values()}) == len(KNOWN)  # colours alone differ too


def test_variants_of_a_method_never_share_a_look() -> None:
    looks = [variant_look(i) for i in range(12)]
    assert len({(str(v.linestyle), v.fillstyle) for v in looks}) == len(looks)
    assert looks[0].linestyle == "-" and looks[0].fillstyle == "full"


def test_pareto_front_treats_differences_within_tolerance_as_ties() -> None:
    # random keeps one weight fewer than magnitude (x a hair larger) but is 2 points worse: with a tolerance on x it
    # no longer joins the front
    pts = [(3.0, 80.0), (3.0000001, 78.0), (4.0, 70.0)]
    assert plots.pareto_front(pts) == [0, 1, 2]
    assert plots.pareto_front(pts, x_tol=0.01, y_tol=0.1) == [0, 2]
    # within seed noise in accuracy at the same x: both stay (a tie)
    assert plots.pareto_front([(3.0, 80.0), (3.0, 79.8)], x_tol=0.01, y_tol=[0.3, 0.3]) == [1, 0]


def test_the_topology_figure_is_double_column_with_no_text_below_8pt(tmp_path: Path) -> None:
    import numpy as np
    from tests.test_topology_study import SIGNAL, _points

    from rgp_bench.report.plots.canvas import DOUBLE_COLUMN
    from rgp_bench.report.plots.topology import draw_topology
    from rgp_bench.report.topology_study import topology_study

    study = topology_study(_points(np.random.default_rng(0), slope=1.0, seeds=range(3), methods=3, cells=(0.9,)),
                           (SIGNAL,), resamples=10)
    (png,) = draw_topology(tmp_path, study, "best_val").values()
    assert isinstance(png, Path)
    svg = plots.svg_path(png)
    assert min(svg_font_sizes(svg)) >= MIN_FONT and svg_width_inches(svg) == pytest.approx(DOUBLE_COLUMN)
