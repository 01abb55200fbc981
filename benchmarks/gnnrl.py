"""Recipe: gnnrl against its control, random_search, at equal distinct reward evaluations (and uniform), on CPU.

    python -m benchmarks.gnnrl [--settings digits_mlp mnist1d_cnn digits_resnet20] [--seeds 0 1 2 3 4]
        [--workdir DIR] [--output FILE] [--figure PNG] [--threads 1] [--gnnrl-episodes N] [OVERRIDE ...]

Per setting, the real CLI runs gnnrl (default budget: until 100 PPO updates) and uniform for every seed; then,
seed by seed, random_search with `method.evaluations` = the distinct reward evaluations gnnrl's search of that
seed made, so both searches spend exactly as many evaluations. Every run fine-tunes its masks in the pipeline's
finetune regime. The Markdown section gives per method the search cost, the best validation top-1 of the masked
model before fine-tuning (the search's reward + 100) and test top-1 after fine-tuning (mean ± std over seeds),
gnnrl - random_search paired by seed (report.stats.paired_test), and both searches' best validation top-1
against distinct evaluations (mean over seeds; also drawn into the figure). Runs are stored under the workdir's
cache, so a rerun with the same --workdir reuses what is complete. :func:`collect` runs and reads the runs,
:func:`render` formats them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from benchmarks.markdown import Provenance, parser, publish
from rgp_bench.report.stats import mean_std, paired_test

SECTION = "gnnrl"
SEARCHES = ("gnnrl", "random_search")
CURVE_POINTS = (1, 10, 30, 100, 300, 1000, 3000)


@dataclass(frozen=True)
class Setting:
    """A benchmark setting: the overrides that select data, model and budget, and what the table says about it."""

    name: str
    overrides: tuple[str, ...]
    description: str


SETTINGS: dict[str, Setting] = {
    "digits_mlp": Setting("digits_mlp", ("ratio=0.5",),
                          "digits, MLP 512 x 4 (4 channel groups, 4 actions), half the MACs removed, dense 30 epochs, "
                          "30 fine-tuning epochs (the default run)"),
    "mnist1d_cnn": Setting("mnist1d_cnn", ("experiment=mnist1d_compare_channels", "model=cnn1d"),
                           "MNIST-1D, the paper's CNN (3 groups of 25 channels, 3 actions), half the MACs removed, "
                           "dense 40 epochs, 40 fine-tuning epochs (experiment=mnist1d_compare_channels)"),
    "digits_resnet20": Setting("digits_resnet20", ("model=resnet20", "ratio=0.5"),
                               "digits (8 x 8), ResNet-20 (12 channel groups, 10 actions: a0 = the three residual "
                               "streams), half the MACs removed, dense 30 epochs, 30 fine-tuning epochs"),
}


@dataclass(frozen=True)
class RunRow:
    """The figures of one complete run that the tables show (read from its results.json)."""

    method: str
    seed: int
    test_top1: float  # after fine-tuning
    macs_removed: float
    search_seconds: float | None = None  # the search's, for gnnrl and random_search
    env_steps: int | None = None
    ppo_updates: int | None = None
    evaluations: int | None = None  # distinct reward evaluations
    best_val_top1: float | None = None  # before fine-tuning: the search's best reward + 100
    best_curve: tuple[tuple[int, float], ...] = ()  # (evaluations, best reward so far) at each improvement

    @classmethod
    def of(cls, record: dict[str, Any]) -> RunRow:
        """From a results.json record."""
        info = record.get("method_info") or {}
        search = info.get("search") or {}
        return cls(record["method"], record["seed"], record["accuracy"]["final"]["top1"],
                   record["cost"]["reduction"]["macs"], search.get("seconds"), search.get("env_steps"),
                   search.get("ppo_updates"), search.get("evaluations"), info.get("best_val_top1"),
                   tuple((int(n), float(reward)) for n, reward in info.get("best_curve") or ()))


@dataclass(frozen=True)
class GnnrlRows:
    """One run of the recipe: per setting its complete runs, the CLI commands that made them, and the figure."""

    provenance: Provenance  # machine holds machine() plus torch's version
    sections: dict[str, tuple[RunRow, ...]]
    commands: tuple[tuple[str, ...], ...]
    threads: int
    figure: str | None = None  # link to the best-so-far figure, once drawn

    def complete(self, seeds: Sequence[int]) -> bool:
        """Whether every setting has a complete run of every method for every seed."""
        return all(len(_by(rows, m)) == len(seeds) for rows in self.sections.values() for m in (*SEARCHES, "uniform"))


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "rgp_bench", *args]


def common(setting: Setting, workdir: Path, threads: int, extra: Sequence[str]) -> list[str]:
    return [*setting.overrides, "logger=none", "train.progress=false", "measure.latency.enabled=false",
            f"hardware.threads={threads}", f"cache_dir={workdir / 'cache'}", *extra]


def run_setting(setting: Setting, seeds: Sequence[int], workdir: Path, threads: int, gnnrl_episodes: str | None,
                extra: Sequence[str]) -> tuple[list[RunRow], list[list[str]]]:
    """Run the setting's searches and uniform; returns the complete runs and the commands that produced them."""
    root = workdir / setting.name
    base = common(setting, workdir, threads, extra)
    budget = [f"method.episodes={gnnrl_episodes}"] if gnnrl_episodes else []
    seed_list = ",".join(str(s) for s in seeds)
    commands = [cli("-m", "method=gnnrl", f"seed={seed_list}", *budget, *base, f"hydra.sweep.dir={root / 'gnnrl'}"),
                cli("-m", "method=uniform", f"seed={seed_list}", *base, f"hydra.sweep.dir={root / 'uniform'}")]
    for command in commands:
        subprocess.run(command, cwd=workdir, check=False)
    gnnrl = {r.seed: r for r in _records(root / "gnnrl")}
    for seed in seeds:
        if seed not in gnnrl:
            continue
        evaluations = gnnrl[seed].evaluations
        command = cli("method=random_search", f"method.evaluations={evaluations}", f"seed={seed}", *base,
                      f"hydra.run.dir={root / 'random_search' / f'seed{seed}'}")
        commands.append(command)
        subprocess.run(command, cwd=workdir, check=False)
    return _records(root), commands


def _records(directory: Path) -> list[RunRow]:
    """The complete runs under `directory`."""
    out = []
    for path in sorted(directory.glob("**/results.json")):
        record = json.loads(path.read_text())
        if record.get("status") == "complete":
            out.append(RunRow.of(record))
    return out


def _by(rows: Sequence[RunRow], method: str) -> dict[int, RunRow]:
    return {r.seed: r for r in rows if r.method == method}


def _stat(values: Sequence[float | None], digits: int = 2) -> str:
    mean, std, _ = mean_std(values)
    if mean is None:
        return "—"
    return f"{mean:.{digits}f}" if std is None else f"{mean:.{digits}f} ± {std:.{digits}f}"


def best_at(curve: Sequence[Sequence[float]], evaluations: int) -> float | None:
    """Best reward after `evaluations` distinct evaluations, from a run's best_curve (improvement points)."""
    found = [reward for n, reward in curve if n <= evaluations]
    return found[-1] if found else None


def method_table(rows: Sequence[RunRow]) -> str:
    """Per method over its seeds: search cost, best validation top-1 before and test top-1 after fine-tuning."""
    lines = ["| method | seeds | search s | env steps | PPO updates | distinct evaluations | best val top-1 before FT "
             "(%) | test top-1 after FT (%) | MACs removed |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for method in (*SEARCHES, "uniform"):
        runs = list(_by(rows, method).values())
        if not runs:
            continue
        lines.append(
            f"| {method} | {len(runs)} | {_stat([r.search_seconds for r in runs], 1)} | "
            f"{_stat([r.env_steps for r in runs], 0)} | {_stat([r.ppo_updates for r in runs], 0)} | "
            f"{_stat([r.evaluations for r in runs], 0)} | {_stat([r.best_val_top1 for r in runs])} | "
            f"{_stat([r.test_top1 for r in runs])} | {_stat([r.macs_removed for r in runs], 4)} |")
    return "\n".join(lines)


def _show(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def paired_table(rows: Sequence[RunRow]) -> str:
    """gnnrl - random_search, paired by seed: before fine-tuning (search reward) and after (test top-1)."""
    gnnrl, control = _by(rows, "gnnrl"), _by(rows, "random_search")
    seeds = sorted(set(gnnrl) & set(control))
    measures: tuple[tuple[str, Callable[[RunRow], float | None]], ...] = (
        ("best val top-1 before FT", lambda r: r.best_val_top1), ("test top-1 after FT", lambda r: r.test_top1))
    lines = ["| gnnrl - random_search | pairs | mean diff (pp) | std diff | t | p | gnnrl better on |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for label, get in measures:
        pairs = [(x, y) for s in seeds if (x := get(gnnrl[s])) is not None and (y := get(control[s])) is not None]
        test = paired_test([x for x, _ in pairs], [y for _, y in pairs])
        if test["std_diff"] is not None and test["std_diff"] < 1e-9:  # a constant difference (up to rounding)
            test["t"] = test["p_value"] = None
        wins = sum(x > y for x, y in pairs)
        lines.append(f"| {label} | {test['n_pairs']} | {_show(test['mean_diff'])} | {_show(test['std_diff'])} | "
                     f"{_show(test['t'])} | {_show(test['p_value'], 3)} | {wins} of {len(seeds)} seeds |")
    return "\n".join(lines)


def curve_points(rows: Sequence[RunRow]) -> list[int]:
    """Evaluation counts to read the best-so-far curves at: CURVE_POINTS below the fewest gnnrl made, and that."""
    counts = [r.evaluations for r in _by(rows, "gnnrl").values() if r.evaluations is not None]
    if not counts:
        return []
    return [n for n in CURVE_POINTS if n < min(counts)] + [min(counts)]


def _mean_best(runs: Sequence[RunRow], evaluations: int) -> list[float]:
    """The runs' best validation top-1 (%) after `evaluations` (runs without one yet left out)."""
    found = [best_at(r.best_curve, evaluations) for r in runs]
    return [v + 100.0 for v in found if v is not None]


def curve_table(rows: Sequence[RunRow]) -> str:
    """Mean over seeds of the best validation top-1 (%) after n distinct evaluations, per search."""
    points = curve_points(rows)
    lines = ["| best val top-1 (%) after n evaluations | " + " | ".join(str(n) for n in points) + " |",
             "|---|" + "---:|" * len(points)]
    for method in SEARCHES:
        runs = list(_by(rows, method).values())
        if runs:
            lines.append(f"| {method} | " + " | ".join(_stat(_mean_best(runs, n)) for n in points) + " |")
    return "\n".join(lines)


def draw(sections: dict[str, Sequence[RunRow]], path: Path) -> None:
    """One panel per setting: mean best validation top-1 against distinct evaluations (log scale), per search."""
    import matplotlib  # deferred: only the figure needs it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(sections), figsize=(4.2 * len(sections), 3.2), squeeze=False)
    for ax, (name, rows) in zip(axes[0], sections.items(), strict=True):
        points = curve_points(rows)
        if not points:
            continue
        grid = sorted({*range(1, points[-1] + 1, max(1, points[-1] // 200)), points[-1]})
        for method, style in zip(SEARCHES, ("-", "--"), strict=True):
            runs = list(_by(rows, method).values())
            values = []
            for n in grid:
                found = _mean_best(runs, n)
                values.append(sum(found) / len(found) if len(found) == len(runs) and runs else float("nan"))
            ax.plot(grid, values, style, label=method)
        ax.set_xscale("log")
        ax.set_title(name)
        ax.set_xlabel("distinct reward evaluations")
        ax.set_ylabel("best val top-1 before FT (%)")
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def collect(settings: Sequence[str], seeds: Sequence[int], workdir: Path, threads: int = 1,
            gnnrl_episodes: str | None = None, extra: Sequence[str] = (),
            command: str = "python -m benchmarks.gnnrl") -> GnnrlRows:
    """Run (or reuse, from `workdir`) every setting's runs and read the complete ones."""
    start = time.perf_counter()
    sections, commands = {}, []
    for name in settings:
        rows, run = run_setting(SETTINGS[name], seeds, workdir, threads, gnnrl_episodes, extra)
        sections[name] = tuple(rows)
        commands += run
    provenance = Provenance.here(command, time.perf_counter() - start, torch=torch.__version__)
    return GnnrlRows(provenance, sections, tuple(tuple(c) for c in commands), threads)


def render(rows: GnnrlRows) -> str:
    """The recipe's Markdown section (without markers)."""
    p, m = rows.provenance, rows.provenance.machine
    lines = [
        "## GNN-RL vs random search at equal distinct evaluations (`benchmarks.gnnrl`)",
        "",
        f"- Command: `{p.command}` (whole run {p.seconds / 60:.0f} min); it runs {len(rows.commands)} CLI commands: "
        "per setting `-m method=gnnrl` and `-m method=uniform` over the seeds, then per seed `method=random_search "
        "method.evaluations=N` with N the distinct reward evaluations of gnnrl's search of that seed.",
        f"- Date: {p.date}",
        f"- Machine: {m['cpu']}, {m['cores']} cores, shared with other jobs; {m['os']}; Python {m['python']}, torch "
        f"{m['torch']}; `hardware.threads={rows.threads}` (the searches run on one thread).",
        "- gnnrl: the default budget (until 100 PPO updates = 10,000 environment steps), the authors' PPO constants. "
        "Both searches share the environment, the exact-budget rescale and the reward (validation top-1 - 100 of "
        "the masked pretrained model); the search's best candidate is fine-tuned with frozen masks. `search s` is "
        "wall time on a shared machine.",
    ]
    if rows.figure:
        lines.append(f"- Figure: [{Path(rows.figure).name}]({rows.figure}) (best validation top-1 against distinct "
                     "evaluations, mean over seeds).")
    for name, section in rows.sections.items():
        lines += ["", f"### {name}: {SETTINGS[name].description}", "", method_table(section), "",
                  paired_table(section), "", curve_table(section)]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run, print the section and (with --output, once every run is complete) write it and its figure."""
    p = parser("python -m benchmarks.gnnrl", __doc__)
    p.add_argument("--settings", nargs="+", choices=sorted(SETTINGS), default=list(SETTINGS))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--workdir", type=Path, default=None, help="runs and caches (default: a temp dir); "
                   "a rerun with the same workdir reuses the complete runs")
    p.add_argument("--figure", default=None, help="write the best-so-far figure here (PNG); default with "
                   "--output: docs/figures/gnnrl_bench.png next to it")
    p.add_argument("--threads", type=int, default=1, help="hardware.threads of every run (default 1)")
    p.add_argument("--gnnrl-episodes", default=None, help="gnnrl's method.episodes (default: its auto budget)")
    p.add_argument("overrides", nargs="*", help="extra config overrides for every run")
    args = p.parse_args(argv)
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="gnnrl_bench_"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    command = " ".join(["python -m benchmarks.gnnrl", *(argv if argv is not None else sys.argv[1:])])
    rows = collect(args.settings, args.seeds, workdir, args.threads, args.gnnrl_episodes, args.overrides, command)
    figure = args.figure
    if figure is None and args.output:
        figure = str(Path(args.output).resolve().parent / "docs" / "figures" / "gnnrl_bench.png")
    if figure:
        draw(dict(rows.sections), Path(figure))
        rows = replace(rows, figure=(str(Path(figure).resolve().relative_to(Path(args.output).resolve().parent))
                                     if args.output else figure))
    complete = rows.complete(args.seeds)
    publish(SECTION, render(rows), args.output if complete else None)
    return 0 if complete else 1


if __name__ == "__main__":
    raise SystemExit(main())
