"""CPU benchmark of gnnrl against its control, random_search, at equal distinct reward evaluations (and uniform).

    python -m benchmarks.gnnrl [--settings digits_mlp mnist1d_cnn digits_resnet20] [--seeds 0 1 2 3 4]
        [--workdir DIR] [--output FILE] [--figure PNG] [--threads 1] [--gnnrl-episodes N] [OVERRIDE ...]

Per setting, the real CLI runs gnnrl (default budget: until 100 PPO updates) and uniform for every seed; then,
seed by seed, random_search with `method.evaluations` = the distinct reward evaluations gnnrl's search of that
seed made, so both searches spend exactly as many evaluations. Every run fine-tunes its masks in the pipeline's
finetune regime. The Markdown section gives per method the search cost, the best validation top-1 of the masked
model before fine-tuning (the search's reward + 100) and test top-1 after fine-tuning (mean ± std over seeds),
gnnrl - random_search paired by seed (report.stats.paired_test), and both searches' best validation top-1
against distinct evaluations (mean over seeds; also drawn into the figure). Runs are stored under the workdir's
cache, so a rerun with the same --workdir reuses what is complete.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from benchmarks.markdown import machine, write_section
from rgp_bench.report.stats import mean_std, paired_test

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


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "rgp_bench", *args]


def common(setting: Setting, workdir: Path, threads: int, extra: Sequence[str]) -> list[str]:
    return [*setting.overrides, "logger=none", "train.progress=false", "measure.latency.enabled=false",
            f"hardware.threads={threads}", f"cache_dir={workdir / 'cache'}", *extra]


def run_setting(setting: Setting, seeds: Sequence[int], workdir: Path, threads: int, gnnrl_episodes: str | None,
                extra: Sequence[str]) -> tuple[list[dict[str, Any]], list[list[str]]]:
    """Run the setting's searches and uniform; returns the records and the commands that produced them."""
    root = workdir / setting.name
    base = common(setting, workdir, threads, extra)
    budget = [f"method.episodes={gnnrl_episodes}"] if gnnrl_episodes else []
    seed_list = ",".join(str(s) for s in seeds)
    commands = [cli("-m", "method=gnnrl", f"seed={seed_list}", *budget, *base, f"hydra.sweep.dir={root / 'gnnrl'}"),
                cli("-m", "method=uniform", f"seed={seed_list}", *base, f"hydra.sweep.dir={root / 'uniform'}")]
    for command in commands:
        subprocess.run(command, cwd=workdir, check=False)
    gnnrl = {r["seed"]: r for r in _records(root / "gnnrl")}
    for seed in seeds:
        if seed not in gnnrl:
            continue
        evaluations = gnnrl[seed]["method_info"]["search"]["evaluations"]
        command = cli("method=random_search", f"method.evaluations={evaluations}", f"seed={seed}", *base,
                      f"hydra.run.dir={root / 'random_search' / f'seed{seed}'}")
        commands.append(command)
        subprocess.run(command, cwd=workdir, check=False)
    return _records(root), commands


def _records(directory: Path) -> list[dict[str, Any]]:
    out = []
    for path in sorted(directory.glob("**/results.json")):
        record = json.loads(path.read_text())
        if record.get("status") == "complete":
            out.append(record)
    return out


def _by(records: Sequence[dict[str, Any]], method: str) -> dict[int, dict[str, Any]]:
    return {r["seed"]: r for r in records if r["method"] == method}


def _stat(values: Sequence[float | None], digits: int = 2) -> str:
    mean, std, _ = mean_std(values)
    if mean is None:
        return "—"
    return f"{mean:.{digits}f}" if std is None else f"{mean:.{digits}f} ± {std:.{digits}f}"


def best_at(curve: Sequence[Sequence[float]], evaluations: int) -> float | None:
    """Best reward after `evaluations` distinct evaluations, from a record's best_curve (improvement points)."""
    found = [reward for n, reward in curve if n <= evaluations]
    return found[-1] if found else None


def method_table(records: Sequence[dict[str, Any]]) -> str:
    """Per method over its seeds: search cost, best validation top-1 before and test top-1 after fine-tuning."""
    lines = ["| method | seeds | search s | env steps | PPO updates | distinct evaluations | best val top-1 before FT "
             "(%) | test top-1 after FT (%) | MACs removed |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for method in (*SEARCHES, "uniform"):
        runs = list(_by(records, method).values())
        if not runs:
            continue
        search = [r["method_info"].get("search", {}) for r in runs]
        lines.append(
            f"| {method} | {len(runs)} | {_stat([s.get('seconds') for s in search], 1)} | "
            f"{_stat([s.get('env_steps') for s in search], 0)} | {_stat([s.get('ppo_updates') for s in search], 0)} | "
            f"{_stat([s.get('evaluations') for s in search], 0)} | "
            f"{_stat([r['method_info'].get('best_val_top1') for r in runs])} | "
            f"{_stat([r['accuracy']['final']['top1'] for r in runs])} | "
            f"{_stat([r['cost']['reduction']['macs'] for r in runs], 4)} |")
    return "\n".join(lines)


def paired_table(records: Sequence[dict[str, Any]]) -> str:
    """gnnrl - random_search, paired by seed: before fine-tuning (search reward) and after (test top-1)."""
    gnnrl, control = _by(records, "gnnrl"), _by(records, "random_search")
    seeds = sorted(set(gnnrl) & set(control))
    rows = [("best val top-1 before FT", lambda r: r["method_info"]["best_val_top1"]),
            ("test top-1 after FT", lambda r: r["accuracy"]["final"]["top1"])]
    lines = ["| gnnrl - random_search | pairs | mean diff (pp) | std diff | t | p | gnnrl better on |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for label, get in rows:
        a, b = [get(gnnrl[s]) for s in seeds], [get(control[s]) for s in seeds]
        test = paired_test(a, b)
        if test["std_diff"] is not None and test["std_diff"] < 1e-9:  # a constant difference (up to rounding)
            test["t"] = test["p_value"] = None

        def show(value: float | None, digits: int = 2) -> str:
            return "—" if value is None else f"{value:.{digits}f}"

        wins = sum(x > y for x, y in zip(a, b, strict=True))
        lines.append(f"| {label} | {test['n_pairs']} | {show(test['mean_diff'])} | {show(test['std_diff'])} | "
                     f"{show(test['t'])} | {show(test['p_value'], 3)} | {wins} of {len(seeds)} seeds |")
    return "\n".join(lines)


def curve_points(records: Sequence[dict[str, Any]]) -> list[int]:
    """Evaluation counts to read the best-so-far curves at: CURVE_POINTS below the fewest gnnrl made, and that."""
    counts = [r["method_info"]["search"]["evaluations"] for r in _by(records, "gnnrl").values()]
    if not counts:
        return []
    return [n for n in CURVE_POINTS if n < min(counts)] + [min(counts)]


def curve_table(records: Sequence[dict[str, Any]]) -> str:
    """Mean over seeds of the best validation top-1 (%) after n distinct evaluations, per search."""
    points = curve_points(records)
    lines = ["| best val top-1 (%) after n evaluations | " + " | ".join(str(n) for n in points) + " |",
             "|---|" + "---:|" * len(points)]
    for method in SEARCHES:
        runs = list(_by(records, method).values())
        if not runs:
            continue
        cells = []
        for n in points:
            values = [best_at(r["method_info"]["best_curve"], n) for r in runs]
            cells.append(_stat([None if v is None else v + 100.0 for v in values]))
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def draw(sections: dict[str, list[dict[str, Any]]], path: Path) -> None:
    """One panel per setting: mean best validation top-1 against distinct evaluations (log scale), per search."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(sections), figsize=(4.2 * len(sections), 3.2), squeeze=False)
    for ax, (name, records) in zip(axes[0], sections.items(), strict=True):
        points = curve_points(records)
        if not points:
            continue
        grid = sorted({*range(1, points[-1] + 1, max(1, points[-1] // 200)), points[-1]})
        for method, style in zip(SEARCHES, ("-", "--"), strict=True):
            runs = list(_by(records, method).values())
            values = []
            for n in grid:
                found = [best_at(r["method_info"]["best_curve"], n) for r in runs]
                found = [v + 100.0 for v in found if v is not None]
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


def report(sections: dict[str, list[dict[str, Any]]], commands: list[list[str]], seconds: float, threads: int,
           figure: str | None) -> str:
    """The benchmark's Markdown section."""
    info = machine()
    lines = [
        "## GNN-RL vs random search at equal distinct evaluations (`benchmarks.gnnrl`)",
        "",
        f"- Command: `python -m benchmarks.gnnrl {' '.join(sys.argv[1:])}`".rstrip() + f" (whole run "
        f"{seconds / 60:.0f} min); it runs {len(commands)} CLI commands: per setting `-m method=gnnrl` and "
        "`-m method=uniform` over the seeds, then per seed `method=random_search method.evaluations=N` with N the "
        "distinct reward evaluations of gnnrl's search of that seed.",
        f"- Date: {_dt.datetime.now(_dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Machine: {info['cpu']}, {info['cores']} cores, shared with other jobs; {info['os']}; Python "
        f"{info['python']}, torch {torch.__version__}; `hardware.threads={threads}` (the searches run on one thread).",
        "- gnnrl: the default budget (until 100 PPO updates = 10,000 environment steps), the authors' PPO constants. "
        "Both searches share the environment, the exact-budget rescale and the reward (validation top-1 - 100 of "
        "the masked pretrained model); the search's best candidate is fine-tuned with frozen masks. `search s` is "
        "wall time on a shared machine.",
    ]
    if figure:
        lines.append(f"- Figure: [{Path(figure).name}]({figure}) (best validation top-1 against distinct "
                     "evaluations, mean over seeds).")
    for name, records in sections.items():
        lines += ["", f"### {name}: {SETTINGS[name].description}", "", method_table(records), "",
                  paired_table(records), "", curve_table(records)]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gnnrl", description=__doc__.split("\n")[0])
    parser.add_argument("--settings", nargs="+", choices=sorted(SETTINGS), default=list(SETTINGS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--workdir", type=Path, default=None, help="runs and caches (default: a temp dir); "
                        "a rerun with the same workdir reuses the complete runs")
    parser.add_argument("--output", help="also write the section (between its markers) into this file")
    parser.add_argument("--figure", default=None, help="write the best-so-far figure here (PNG); default with "
                        "--output: docs/figures/gnnrl_bench.png next to it")
    parser.add_argument("--threads", type=int, default=1, help="hardware.threads of every run (default 1)")
    parser.add_argument("--gnnrl-episodes", default=None, help="gnnrl's method.episodes (default: its auto budget)")
    parser.add_argument("overrides", nargs="*", help="extra config overrides for every run")
    args = parser.parse_args(argv)
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="gnnrl_bench_"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    figure = args.figure
    if figure is None and args.output:
        figure = str(Path(args.output).resolve().parent / "docs" / "figures" / "gnnrl_bench.png")
    start = time.perf_counter()
    sections, commands = {}, []
    for name in args.settings:
        records, run = run_setting(SETTINGS[name], args.seeds, workdir, args.threads, args.gnnrl_episodes,
                                   args.overrides)
        sections[name] = records
        commands += run
    shown_figure = None
    if figure:
        draw(sections, Path(figure))
        shown_figure = (str(Path(figure).resolve().relative_to(Path(args.output).resolve().parent))
                        if args.output else figure)
    section = report(sections, commands, time.perf_counter() - start, args.threads, shown_figure)
    print(section)
    complete = all(len(_by(records, m)) == len(args.seeds) for records in sections.values()
                   for m in (*SEARCHES, "uniform"))
    if args.output and complete:
        write_section(args.output, "gnnrl", section)
    return 0 if complete else 1


if __name__ == "__main__":
    raise SystemExit(main())
