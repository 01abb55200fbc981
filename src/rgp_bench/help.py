"""`python -m rgp_bench --help`: the config groups and their options, a few example commands, where to read more."""

from __future__ import annotations

from rgp_bench.config.location import GROUPS
from rgp_bench.run.configs import group_options

EXAMPLES = (
    ("one run (digits, MLP)", "python -m rgp_bench method=rgp ratio=0.9"),
    ("a sweep with its report", "python -m rgp_bench -m method=rgp,magnitude,random ratio=0.5,0.9 seed=0,1,2"),
    ("MNIST-1D, the paper's CNN", "python -m rgp_bench dataset=mnist1d model=cnn1d method=rgp ratio=0.9"),
    ("channel pruning to half the MACs", "python -m rgp_bench method=uniform ratio=0.5"),
    ("a paper preset", "python -m rgp_bench -m experiment=rgp_cifar10_resnet56"),
    ("print the resolved config", "python -m rgp_bench --cfg job method=magnitude"),
    ("a report over runs", "python -m rgp_bench.report multirun/ outputs/"),
)


def help_text() -> str:
    """The help page (no `*_schema` entries: those are the typed schemas behind each group)."""
    lines = ["rgp-bench: a reproducible benchmark for neural-network pruning (RGP, GNN-RL and baselines).", "",
             "usage: python -m rgp_bench [-m] [KEY=VALUE ...]      (or: rgp-bench ...)", "", "config groups:"]
    width = max(len(g) for g in GROUPS)
    for group in GROUPS:
        lines.append(f"  {group:<{width}}  {', '.join(group_options(group))}")
    lines += ["", "top-level keys: ratio, seed, cache_dir, skip_complete, layers.*", "", "examples:"]
    lines += [f"  {cmd}\n      {what}" for what, cmd in EXAMPLES]
    lines += ["", "Every setting and its default: python -m rgp_bench --cfg job; what each means and its valid range:",
              "the README.md of rgp-bench (sections Running, Config groups, Sweeps, Reports).",
              "Hydra's own flags (--multirun, --cfg, --info, ...): python -m rgp_bench --hydra-help"]
    return "\n".join(lines)
