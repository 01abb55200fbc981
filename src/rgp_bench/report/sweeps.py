"""A Hydra multirun's expected jobs: the cartesian product of its sweep overrides (`multirun.yaml`)."""

from __future__ import annotations

import itertools
from pathlib import Path

from rgp_bench.report.jobs import Job, job_value, normalize_value, override_key, read_yaml

# One expected job: sweep key -> normalised value (None: not enumerable, matches anything).
Combination = dict[str, str | None]


def expand_sweep(multirun_yaml: Path) -> tuple[list[Combination], list[str]]:
    """Expected job combinations of a Hydra multirun: the cartesian product of its sweep overrides.

    Returns (combinations, notes). A value of None means "not enumerable" (e.g. glob(), interval()) and
    matches anything. Notes explain what could not be checked.
    """
    doc = read_yaml(multirun_yaml)
    hydra = doc.get("hydra") if isinstance(doc, dict) else None
    if not isinstance(hydra, dict):
        return [], [f"{multirun_yaml}: unreadable or has no hydra section; missing runs not checked"]
    sweeper = hydra.get("sweeper")
    sweeper = sweeper if isinstance(sweeper, dict) else {}
    target = str(sweeper.get("_target_") or "BasicSweeper")
    if not target.endswith("BasicSweeper"):
        # Optuna/Ax/Nevergrad sample a budget of trials rather than a grid, so no grid can be "missing".
        return [], [f"{multirun_yaml}: sweeper {target} does not run a grid; missing runs not checked"]
    params = sweeper.get("params") or {}
    # Sweeps declared in config (`hydra.sweeper.params`) come first: a command-line override of the same key
    # replaces that axis, and a plain (non-sweep) override removes it, as Hydra does.
    task = [f"{k}={v}" for k, v in params.items()] if isinstance(params, dict) else []
    task += list((hydra.get("overrides") or {}).get("task") or [])

    from hydra.core.override_parser.overrides_parser import OverridesParser  # deferred: Hydra's parser is slow

    parser = OverridesParser.create()
    axes: dict[str, list[str | None]] = {}
    notes: list[str] = []
    for item in task:
        try:
            ov = parser.parse_overrides([str(item)])[0]
        except Exception as exc:  # Hydra raises several exception types for bad syntax
            notes.append(f"{multirun_yaml}: cannot parse override {item!r} ({type(exc).__name__}); ignored")
            continue
        key = override_key(ov.key_or_group) + (f"@{ov.package}" if ov.package else "")
        if key.startswith("hydra"):
            continue
        if not ov.is_sweep_override():
            axes.pop(key, None)
            continue
        try:
            axes[key] = [normalize_value(v) for v in ov.sweep_string_iterator()]
        except Exception:
            axes[key] = [None]
            notes.append(f"{multirun_yaml}: sweep {item!r} cannot be enumerated; that axis is not checked")
    keys = list(axes)
    combos = [dict(zip(keys, values, strict=True)) for values in itertools.product(*axes.values())]
    return combos, notes


def matches(job: Job, combo: Combination) -> bool:
    """Whether `job` ran the combination (a None value matches anything)."""
    return all(v is None or job_value(job, k) == v for k, v in combo.items())
