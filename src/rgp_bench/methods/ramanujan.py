"""`ramanujan`: RGP's block masks from a random regular graph chosen by the Ramanujan bound instead of by ASPL.

The graph critics' control for RGP (Hoang, Liu, Marculescu, Wang, ICLR 2023, "Revisiting Pruning at Initialization
through the Lens of Ramanujan Graph"; no code was released). Same node count n, degree k, layers, channel mapping
(`rgp.graph_layer_masks`, the RGP authors' `compute_densemask`) and training as `rgp`; the graph is a seeded random
connected k-regular graph (`rgp_bench.graphs.random_regular`) with μ̂ = max |λ| over its non-trivial adjacency
eigenvalues at most 2√(k − 1). `select: first` keeps the first of up to `draws` draws that meets the bound (the draw
with the largest Ramanujan gap 2√(k − 1) − μ̂ when none does, recorded as `ramanujan: false`); `select: best` keeps
the largest gap of all `draws` draws (equivalently the largest two-sided spectral gap k − μ̂).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rgp_bench.config.choices import Choice, Regime
from rgp_bench.config.fields import Number, setting
from rgp_bench.core.errors import UserError
from rgp_bench.graphs import GraphError, graph_metrics, random_regular
from rgp_bench.measure.spectra import GraphSpectrum, graph_spectrum
from rgp_bench.methods.base import MaskContext, MaskResult, MethodStyle
from rgp_bench.methods.registry import register_method
from rgp_bench.methods.rgp import GraphCfg, check_rgp, graph_layer_masks, graph_shape
from rgp_bench.pruning.layers import PrunableLayer

log = logging.getLogger(__name__)


class Select(Choice):
    first = "first"
    best = "best"



@dataclass
class RamanujanCfg(GraphCfg):
    """`nodes`, `degree` and `self_loops` mean exactly what they mean for rgp (GraphCfg)."""

    name: str = "ramanujan"
    # first: the first draw that meets the Ramanujan bound; best: the largest Ramanujan gap of all `draws` draws.
    select: Select = Select["first"]
    draws: int = setting(100, check=Number(lo=1, integer=True))


@dataclass(frozen=True)
class Draw:
    """The chosen graph: its draw index (0-based), adjacency and spectrum, and how many graphs were drawn."""

    index: int
    adjacency: np.ndarray
    spectrum: GraphSpectrum
    drawn: int


def draw_ramanujan(nodes: int, degree: int, draws: int, seed: int, select: str) -> Draw:
    """Seeded random connected `degree`-regular graphs on `nodes` nodes, chosen by their Ramanujan gap."""
    rng = np.random.default_rng(seed)
    best: Draw | None = None
    for index in range(draws):
        adjacency = random_regular(nodes, degree, rng)
        spectrum = graph_spectrum(adjacency)
        if best is None or spectrum.ramanujan_gap > best.spectrum.ramanujan_gap:
            best = Draw(index, adjacency, spectrum, index + 1)
        if select == "first" and spectrum.ramanujan:
            break
    assert best is not None  # draws >= 1
    return Draw(best.index, best.adjacency, best.spectrum, index + 1)


@register_method(RamanujanCfg, canonical_regime=Regime.scratch, style=MethodStyle("#cc6677", "o"),
                 block_structured=True, check=check_rgp,
                 description="RGP's block masks from a random regular graph that meets the Ramanujan bound")
def ramanujan_masks(cfg: RamanujanCfg, layers: Sequence[PrunableLayer], ratio: float, ctx: MaskContext) -> MaskResult:
    """RGP's node count and degree, a seeded Ramanujan (or best-of-N) k-regular graph, and RGP's block masks."""
    nodes, degree, note = graph_shape(cfg, layers, ratio)  # the same (n, k) rgp accepts
    try:
        draw = draw_ramanujan(nodes, degree, int(cfg.draws), ctx.seed, str(cfg.select))
    except GraphError as exc:
        raise UserError(str(exc)) from None
    spectrum = draw.spectrum
    if not spectrum.ramanujan:
        log.warning("none of %d random %d-regular graphs on %d nodes meets the Ramanujan bound; using the best "
                    "(mu_hat %.4f > %.4f)", draw.drawn, degree, nodes, spectrum.mu_hat, spectrum.ramanujan_bound)
    masks = graph_layer_masks(draw.adjacency, layers, self_loops=cfg.self_loops)
    info = {"nodes": nodes, "degree": degree, "nominal_ratio": 1.0 - (degree + int(cfg.self_loops)) / nodes,
            "nodes_note": note, "seed": ctx.seed, "select": str(cfg.select), "draws": draw.drawn,
            "chosen_draw": draw.index, "ramanujan": spectrum.ramanujan, "mu_hat": spectrum.mu_hat,
            "ramanujan_bound": spectrum.ramanujan_bound, "ramanujan_gap": spectrum.ramanujan_gap,
            **graph_metrics(draw.adjacency)}
    return MaskResult(masks, info)
