"""Aggregation over seeds: de-duplication, config variants, groups, paired comparisons, ASPL studies."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from rgp_bench.identity import VOLATILE_KEYS
from rgp_bench.report import stats
from rgp_bench.report.collect import Run, normalize_value

METRICS = ("best_val", "final")
REFERENCE_METHODS = ("magnitude", "random")
# Columns averaged per group (each gives <col>_mean and <col>_std).
NUMERIC = (
    "top1_final",
    "top5_final",
    "top1_best_val",
    "top5_best_val",
    "params_reduction",
    "macs_reduction",
    "prunable_params_reduction",
    "prunable_macs_reduction",
    "sparsity_achieved",
    "epochs_total",
)
GROUP_KEYS = ("dataset", "model", "regime", "ratio", "method", "variant")

# Config keys that never make two runs different experiments: identity/grouping keys, paths, logging and
# where the run executed.
_IGNORED_PREFIXES = ("hydra.", "logger.", "paths.", "wandb.")
# Keys that cannot change results come from the run identity (one list for run ids and reports).
_IGNORED_KEYS = frozenset(
    {
        *VOLATILE_KEYS,
        "seed",
        "ratio",
        "output_dir",
        "train.regime",
        "train.eval_batch_size",
        "method.name",
        "method.canonical_regime",
        "dataset.name",
        "model.name",
        "hardware.name",
        "hardware.device",
        "hardware.workers",
    }
)


def metric_column(metric: str) -> str:
    """The row column holding top-1 test accuracy for `metric` (best_val or final)."""
    return f"top1_{metric}"


def ratio_key(r: float | None) -> float | None:
    return None if r is None else round(float(r), 6)


def deduplicate(runs: Sequence[Run]) -> tuple[list[Run], list[dict[str, Any]]]:
    """Keep one run per run_id (the newest `created`); the others are returned as 'duplicate' problems.

    The same run_id means the same resolved config, so counting both would weigh that seed twice.
    """
    by_id: dict[Any, list[Run]] = defaultdict(list)
    kept: list[Run] = []
    for r in runs:
        if r.row.get("run_id"):
            by_id[r.row["run_id"]].append(r)
        else:
            kept.append(r)
    problems = []
    for rid, same in by_id.items():
        same.sort(key=lambda r: (str(r.row.get("created") or ""), str(r.job_dir)))
        kept.append(same[-1])
        problems += [
            {
                "path": str(r.job_dir),
                "status": "duplicate",
                "detail": f"same run_id {rid} as {same[-1].job_dir}; not counted",
                "run": "",
            }
            for r in same[:-1]
        ]
    kept.sort(key=lambda r: str(r.job_dir))
    return kept, problems


def _relevant(config: dict[str, Any]) -> dict[str, str]:
    return {
        k: normalize_value(v)
        for k, v in config.items()
        if k not in _IGNORED_KEYS and not k.startswith(_IGNORED_PREFIXES)
    }


def assign_variants(runs: Sequence[Run]) -> None:
    """Set row['variant'] so that runs with different settings are never averaged together.

    Within each (dataset, model, regime, ratio, method) cell, config keys whose value differs between runs
    (other than seed, paths, logging, device) split the cell; the same key set labels every run of that
    method, so lines across ratios stay connected. Example variant: 'start=ring'.
    """
    cells: dict[tuple, list[Run]] = defaultdict(list)
    for r in runs:
        row = r.row
        cells[(row["dataset"], row["model"], row["regime"], ratio_key(row["ratio"]), row["method"])].append(r)
    split_keys: dict[tuple, set[str]] = defaultdict(set)
    for (ds, model, regime, _ratio, method), members in cells.items():
        configs = [_relevant(m.config) for m in members]
        keys = set().union(*configs) if configs else set()
        seeds = [normalize_value(m.row.get("seed")) for m in members]
        varying = {
            k
            for k in keys
            if len({c.get(k) for c in configs}) > 1
            # a key interpolated from the seed (e.g. split_seed: ${seed}) is part of the seed, not a variant
            and any(c.get(k) != s for c, s in zip(configs, seeds, strict=True))
        }
        split_keys[(ds, model, regime, method)] |= varying
    for r in runs:
        row = r.row
        keys = sorted(split_keys[(row["dataset"], row["model"], row["regime"], row["method"])])
        cfg = _relevant(r.config)
        row["variant"] = ", ".join(f"{k.removeprefix('method.')}={cfg.get(k, 'unset')}" for k in keys)
        # Settings shared by every method (training budget, data, layers...): comparisons need them to agree.
        row["_settings"] = {k: v for k, v in cfg.items() if not k.startswith("method.")}


def label(row: dict[str, Any]) -> str:
    """Series name: the method, plus its variant when there is one."""
    return f"{row['method']} [{row['variant']}]" if row.get("variant") else str(row["method"])


def _sort_key(g: dict[str, Any]) -> tuple:
    return (
        g["dataset"],
        g["model"],
        -1.0 if g["ratio"] is None else g["ratio"],
        g["method"],
        g["variant"],
        g["regime"] or "",
    )


def group_rows(rows: Iterable[dict[str, Any]], metric: str) -> list[dict[str, Any]]:
    """Aggregate rows per (dataset, model, regime, ratio, method, variant): mean, std and n over seeds."""
    col = metric_column(metric)
    cells: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        cells[tuple(ratio_key(row[k]) if k == "ratio" else row.get(k) for k in GROUP_KEYS)].append(row)
    groups = []
    for key, members in cells.items():
        g: dict[str, Any] = dict(zip(GROUP_KEYS, key, strict=True))
        g["variant"] = g["variant"] or ""
        g["label"] = label(g)
        g["metric"] = metric
        g["_rows"] = members
        g["_settings"] = _common_settings(members)
        g["seeds"] = sorted({m["seed"] for m in members if m.get("seed") is not None})
        # Statistics are over seeds: several runs of one seed (e.g. on two devices) count once, averaged.
        per_seed = _per_seed(g, col)
        g["n"] = len(per_seed) if per_seed else len(members)
        g["acc_mean"], g["acc_std"], g["acc_n"] = stats.mean_std(list(per_seed.values()))
        for c in NUMERIC:
            g[f"{c}_mean"], g[f"{c}_std"], _ = stats.mean_std(list(_per_seed(g, c).values()) or
                                                             [m.get(c) for m in members])
        groups.append(g)
    groups.sort(key=_sort_key)
    return groups


def _common_settings(members: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The non-method settings with one value across all of a group's runs."""
    settings = [m.get("_settings", {}) for m in members]
    if not settings:
        return {}
    return {k: v for k, v in settings[0].items() if all(s.get(k) == v for s in settings[1:])}


def _comparable(g: dict[str, Any], h: dict[str, Any]) -> bool:
    """Two groups may be paired only if every setting both pin down agrees (e.g. the same train.epochs)."""
    a, b = g["_settings"], h["_settings"]
    return all(a[k] == b[k] for k in a.keys() & b.keys())


def _per_seed(group: dict[str, Any], col: str) -> dict[int, float]:
    vals: dict[int, list[float]] = defaultdict(list)
    for m in group["_rows"]:
        if m.get("seed") is not None and m.get(col) is not None:
            vals[m["seed"]].append(m[col])
    # Several runs with one seed (different run_ids, e.g. another device) are averaged before pairing.
    return {s: sum(v) / len(v) for s, v in vals.items()}


def compare(
    groups: Sequence[dict[str, Any]], metric: str, references: Sequence[str] = REFERENCE_METHODS
) -> list[dict[str, Any]]:
    """Each group against every `references` group at the same (dataset, model, ratio), paired by seed.

    Only groups whose shared settings agree are paired (an rgp variant at 30 epochs is never compared with
    magnitude at 100). Regimes may differ between the two sides (both are reported). Differences are
    method minus reference.
    """
    col = metric_column(metric)
    out = []
    for g in groups:
        for ref in references:
            for h in groups:
                if h is g or h["method"] != ref:
                    continue
                # random vs magnitude would only mirror magnitude vs random
                if g["method"] in references and references.index(g["method"]) > references.index(ref):
                    continue
                if (h["dataset"], h["model"], h["ratio"]) != (g["dataset"], g["model"], g["ratio"]):
                    continue
                if not _comparable(g, h):
                    continue
                a, b = _per_seed(g, col), _per_seed(h, col)
                seeds = sorted(set(a) & set(b))
                res = stats.paired_test([a[s] for s in seeds], [b[s] for s in seeds])
                out.append(
                    {
                        "dataset": g["dataset"],
                        "model": g["model"],
                        "ratio": g["ratio"],
                        "method": g["label"],
                        "regime": g["regime"],
                        "reference": h["label"],
                        "reference_regime": h["regime"],
                        "metric": metric,
                        "seeds": seeds,
                        "method_mean": stats.mean_std([a[s] for s in seeds])[0],
                        "reference_mean": stats.mean_std([b[s] for s in seeds])[0],
                        **res,
                    }
                )
    return out


def aspl_studies(rows: Iterable[dict[str, Any]], metric: str, min_graphs: int = 3) -> list[dict[str, Any]]:
    """Accuracy vs ASPL for rgp runs: per (dataset, model, regime, nodes, degree, epochs) with at least
    `min_graphs` distinct ASPL values; mean ± std per graph and Spearman rho over runs.
    """
    col = metric_column(metric)
    cells: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        aspl = r.get("method_info.aspl")
        if r.get("method") != "rgp" or not isinstance(aspl, int | float) or r.get(col) is None:
            continue
        degree = r.get("method_info.degree")
        key = (
            r["dataset"],
            r["model"],
            r["regime"],
            r.get("method_info.nodes"),
            degree,
            None if degree is not None else ratio_key(r["ratio"]),
            r.get("epochs_total"),
        )
        cells[key].append(r)
    studies = []
    for (ds, model, regime, nodes, degree, ratio, epochs), members in sorted(cells.items(), key=lambda kv: str(kv[0])):
        by_graph: dict[float, list[float]] = defaultdict(list)
        for m in members:
            by_graph[round(float(m["method_info.aspl"]), 6)].append(m[col])
        if len(by_graph) < min_graphs:
            continue
        points = []
        for aspl in sorted(by_graph):
            mean, std, n = stats.mean_std(by_graph[aspl])
            points.append({"aspl": aspl, "n": n, "acc_mean": mean, "acc_std": std})
        corr = stats.spearman([float(m["method_info.aspl"]) for m in members], [m[col] for m in members])
        name = f"{nodes}_{degree}" if nodes is not None and degree is not None else f"ratio {ratio}"
        studies.append(
            {
                "dataset": ds,
                "model": model,
                "regime": regime,
                "nodes": nodes,
                "degree": degree,
                "ratio": ratio,
                "epochs_total": epochs,
                "graph": name,
                "metric": metric,
                "n_runs": len(members),
                "n_graphs": len(points),
                "rho": corr["rho"],
                "p_value": corr["p_value"],
                "points": points,
            }
        )
    return studies


def public(groups: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Groups without the private `_rows` back-references (for the API, JSON and CSV)."""
    return [{k: v for k, v in g.items() if not k.startswith("_")} for g in groups]
