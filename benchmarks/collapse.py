"""Recipe for layer collapse (Tanaka et al., NeurIPS 2020, Fig. 1/Theorem 3, reproduced without training).

    python -m benchmarks.collapse [--seed 0] [--output FILE]

On the embedded default run (digits, MLP 64 -> 4 x 512 -> 10; its three 512 x 512 hidden layers are prunable),
masks every pruning-at-initialisation method at densities 1e-1, 1e-2, 1e-3 and 10^-3.5 of the prunable weights,
and prints a Markdown table: does the network collapse (no input-output path, or an empty layer), and the
kept fraction of the narrowest layer (:func:`collect` measures, :func:`render` formats). The published claim:
SynFlow never collapses; SNIP, GraSP and magnitude pruning do at the highest compressions.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from benchmarks.markdown import Provenance, parser, publish
from rgp_bench.config import conf_dir
from rgp_bench.config.choices import Regime
from rgp_bench.core.hardware import resolve_hardware
from rgp_bench.core.seeding import seed_everything
from rgp_bench.methods import METHODS as REGISTERED
from rgp_bench.methods import get_method
from rgp_bench.pruning.collapse import Collapse, layer_collapse
from rgp_bench.run.configs import register
from rgp_bench.run.pipeline import Bench, build_bench, mask_context

DENSITIES: tuple[float, ...] = (1e-1, 1e-2, 1e-3, 10**-3.5)
# (row label, method, overrides): the pruning-at-initialisation methods (every registered method that scores weights
# and trains from scratch), in registry order, then the references: magnitude at init and two data-free ones.
REFERENCES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("magnitude (global, at init)", "magnitude", ("method.scope=global",)),
    ("random (uniform per layer)", "random", ("method.scope=layer",)),
    ("erk", "erk", ()),
)  # fmt: skip
METHODS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    *((m.name, m.name, ()) for m in REGISTERED.values() if m.scored and m.canonical_regime == Regime.scratch),
    *REFERENCES,
)
BASE = ("hardware=cpu", "logger=none")
SECTION = "collapse"


@dataclass(frozen=True)
class Cell:
    """One (method, density) measurement."""

    label: str
    density: float
    collapse: Collapse
    seconds: float


def compose_cfg(*overrides: str) -> DictConfig:
    """The run config `python -m rgp_bench OVERRIDES` would compose."""
    register()
    with initialize_config_dir(str(conf_dir()), version_base="1.3"):
        return compose("config", overrides=[*BASE, *overrides])


def default_bench(seed: int = 0) -> tuple[DictConfig, Bench]:
    """The embedded default run's data, model (initialised under `seed`) and prunable layers."""
    cfg = compose_cfg(f"seed={seed}")
    hw = resolve_hardware(cfg.hardware)
    seed_everything(seed, hw.deterministic)
    return cfg, build_bench(cfg, hw)


def measure(methods: Sequence[tuple[str, str, Sequence[str]]] = METHODS, densities: Sequence[float] = DENSITIES,
            seed: int = 0) -> list[Cell]:
    """Mask the default model with every method at every density and check each mask set for collapse."""
    _, bench = default_bench(seed)
    cells = []
    for label, name, overrides in methods:
        method = get_method(name)
        for density in densities:
            cfg = compose_cfg(f"seed={seed}", f"method={name}", f"ratio={1.0 - density}", *overrides)
            start = time.perf_counter()
            result = method.compute_masks(cfg.method, bench.layers, cfg.ratio,
                                          mask_context(method, cfg, bench, resolve_hardware(cfg.hardware)))
            seconds = time.perf_counter() - start
            cells.append(Cell(label, density, layer_collapse(bench.model, bench.layers, result.masks,
                                                             bench.example), seconds))
    return cells


@dataclass(frozen=True)
class CollapseRows:
    """Every (method, density) cell of one run, and where it ran."""

    provenance: Provenance  # machine holds machine() plus torch's version
    cells: tuple[Cell, ...]


def collect(seed: int = 0, command: str = "python -m benchmarks.collapse") -> CollapseRows:
    """Measure every method at every density (see :func:`measure`)."""
    start = time.perf_counter()
    cells = measure(seed=seed)
    return CollapseRows(Provenance.here(command, time.perf_counter() - start, torch=torch.__version__), tuple(cells))


def _density(d: float) -> str:
    return "10^-3.5" if abs(d - 10**-3.5) < 1e-12 else f"{d:g}"


def _cell(c: Collapse) -> str:
    why = "no path" if c.no_path else (f"empty {', '.join(c.empty_layers)}" if c.empty_layers else "")
    verdict = f"**yes** ({why})" if c.collapsed else "no"
    return f"{verdict}, {c.narrowest[1]:.2e} ({c.narrowest[0]})"


def render(rows: CollapseRows) -> str:
    """The section: the table (method x density -> collapsed?, narrowest layer's kept fraction) and its provenance."""
    cells, p = rows.cells, rows.provenance
    densities = list(dict.fromkeys(c.density for c in cells))
    labels = list(dict.fromkeys(c.label for c in cells))
    by = {(c.label, c.density): c for c in cells}
    m = p.machine
    lines = [
        "## Layer collapse at extreme sparsity (SynFlow's finding)",
        "",
        f"`{p.command}` ({p.date}; {m['cpu']}, {m['cores']} cores, {m['os']}, Python {m['python']}, "
        f"torch {m['torch']})",
        "",
        "Collapsed = no input-output path survives, or a prunable layer keeps no weight. Each cell: collapsed?, "
        "then the kept fraction of the narrowest prunable layer (and its name). Default run: digits, MLP "
        "64 -> 4x512 -> 10, prunable = the three 512x512 hidden layers, seed 0, no training.",
        "",
        "| method | " + " | ".join(f"density {_density(d)}" for d in densities) + " | time (s) |",
        "|---|" + "---|" * (len(densities) + 1),
    ]
    for label in labels:
        row = [_cell(by[(label, d)].collapse) for d in densities]
        seconds = sum(by[(label, d)].seconds for d in densities)
        lines.append(f"| {label} | " + " | ".join(row) + f" | {seconds:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, print the section and (with --output) write it."""
    p = parser("python -m benchmarks.collapse", __doc__)
    p.add_argument("--seed", type=int, default=0, help="model init and training-batch seed (default 0)")
    args = p.parse_args(argv)
    command = "python -m benchmarks.collapse" + (f" --seed {args.seed}" if args.seed else "")
    publish(SECTION, render(collect(args.seed, command)), args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
