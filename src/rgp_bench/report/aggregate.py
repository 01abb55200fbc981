"""Aggregation over seeds: de-duplication, config variants, groups, paired comparisons, ASPL studies."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from rgp_bench.config.choices import Budget
from rgp_bench.config.facts import covered, keys_without
from rgp_bench.config.fields import Effect
from rgp_bench.report import stats
from rgp_bench.report.collect import Run, normalize_value
from rgp_bench.report.columns import AGGREGATED

METRICS = ("best_val", "final")
GROUP_KEYS = ("dataset", "model", "regime", "ratio", "budget", "method", "variant")
# The budget basis of the dense reference (method=dense): it prunes nothing, so its runs serve every ratio.
UNPRUNED = str(Budget.none)
DENSE = "dense"  # its name as a reference method (--reference dense)
# Settings that cannot change the dense model's training: which layers a method may prune, a sanity check of the
# masks, how latency is measured. A dense run is the reference of pruned runs that differ from it only in these.
_NOT_DENSE_TRAINING = ("layers.", "sanity", "measure.")

# Config keys that never make two runs different experiments (declared on the schema fields: the grouping keys,
# paths, logging, where the run executed), plus the method's name (a grouping key) and keys older records carry.
_IGNORED_KEYS: tuple[str, ...] = (*keys_without(Effect.VARIANT), "method.name", "output_dir",
                                  "method.canonical_regime")


def metric_column(metric: str) -> str:
    """The row column holding top-1 test accuracy for `metric` (best_val or final)."""
    return f"top1_{metric}"


def ratio_key(r: float | None) -> float | None:
    return None if r is None else round(float(r), 6)


def deduplicate(runs: Sequence[Run]) -> tuple[list[Run], list[dict[str, Any]], int]:
    """One run per run_id: returns (runs kept, 'duplicate' problems, number of identical copies dropped).

    The same run_id means the same resolved config, so counting both would weigh that seed twice. Identical
    records (a skipped rerun copies the stored record into its new sweep dir) are the same run: all but one
    are dropped without a problem. Of records that share a run_id but differ, the newest `created` is kept
    and the others are listed as duplicates, with the entries they differ in.
    """
    by_id: dict[Any, list[Run]] = defaultdict(list)
    kept: list[Run] = []
    for r in runs:
        if r.row.get("run_id"):
            by_id[r.row["run_id"]].append(r)
        else:
            kept.append(r)
    problems: list[dict[str, Any]] = []
    copies = 0
    for rid, same in by_id.items():
        distinct = _distinct_records(same)
        copies += len(same) - len(distinct)
        distinct.sort(key=lambda r: (str(r.row.get("created") or ""), str(r.job_dir)))
        newest = distinct[-1]
        kept.append(newest)
        problems += [
            {
                "path": str(r.job_dir),
                "status": "duplicate",
                "detail": f"same run_id {rid} as {newest.job_dir} but a different record "
                f"({', '.join(_differences(r, newest)) or 'contents'} differ); not counted",
                "run": "",
            }
            for r in distinct[:-1]
        ]
    kept.sort(key=lambda r: str(r.job_dir))
    return kept, problems, copies


def _distinct_records(runs: Sequence[Run]) -> list[Run]:
    """The first (by job dir) of each set of identical records."""
    first: dict[tuple, Run] = {}
    for r in sorted(runs, key=lambda r: str(r.job_dir)):
        first.setdefault(tuple(sorted(r.digests.items())) or (str(r.job_dir),), r)
    return list(first.values())


def _differences(a: Run, b: Run) -> list[str]:
    """The top-level record entries in which two records differ."""
    return sorted(k for k in a.digests.keys() | b.digests.keys() if a.digests.get(k) != b.digests.get(k))


def _relevant(config: dict[str, Any]) -> dict[str, str]:
    return {
        k: normalize_value(v)
        for k, v in config.items()
        if not covered(k, _IGNORED_KEYS)
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
        row["variant"] = ", ".join(f"{k.removeprefix('method.')}={_shown(r.config, k)}" for k in keys)
        row["_default_variant"] = all(cfg.get(k) == _default_value(row, k) for k in keys)
        row["_sanity"] = str(r.config.get("sanity") or "none")
        # Settings shared by every method (training budget, data, layers...): comparisons need them to agree.
        row["_settings"] = {k: v for k, v in cfg.items() if not k.startswith("method.")}


def _shown(config: dict[str, Any], key: str) -> str:
    """A setting's value as a label shows it (the config's own spelling: `none` stays `none`)."""
    if key not in config:
        return "unset"
    value = config[key]
    return "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def _default_value(row: dict[str, Any], key: str) -> str | None:
    """The normalised default of a split key: the method setting's schema default as the record states it, or
    `sanity`'s `none` (None when the record does not say)."""
    if key == "sanity":
        return normalize_value("none")
    defaults = row.get("_method_defaults") or {}
    name = key.removeprefix("method.")
    if not key.startswith("method.") or name not in defaults:
        return None
    return normalize_value(defaults[name])


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
        # The method as its defaults define it (no variant, or every split key at its default): the group a
        # reference method's name stands for when its variants are compared with it.
        g["_default_variant"] = all(m.get("_default_variant", True) for m in members)
        g["sanity"] = members[0].get("_sanity", "none")
        g["seeds"] = sorted({m["seed"] for m in members if m.get("seed") is not None})
        # Statistics are over seeds: several runs of one seed (e.g. on two devices) count once, averaged.
        per_seed = _per_seed(g, col)
        g["n"] = len(per_seed) if per_seed else len(members)
        g["acc_mean"], g["acc_std"], g["acc_n"] = stats.mean_std(list(per_seed.values()))
        for c in AGGREGATED:
            g[f"{c}_mean"], g[f"{c}_std"], _ = stats.mean_std(list(_per_seed(g, c).values()) or
                                                             [m.get(c) for m in members])
        g["layer_density"] = _layer_density(members)
        g["off_target"] = off_target(g["ratio"], members) and not is_dense(g)
        epochs = {m.get("epochs_total") for m in members}
        g["epochs"] = epochs.pop() if len(epochs) == 1 else None  # the group's total epochs (None: mixed)
        groups.append(g)
    groups.sort(key=_sort_key)
    match_dense(groups)
    mark_best(groups)
    return groups


def is_dense(group: dict[str, Any]) -> bool:
    """A group (or row) of the dense reference: it prunes nothing (budget basis `none`)."""
    return group.get("budget") == UNPRUNED


def match_dense(groups: Sequence[dict[str, Any]]) -> None:
    """Give every pruned group its dense reference: the dense group with the same dataset, model, regime and total
    epochs (any ratio, any budget basis) whose training settings agree.

    Sets `_dense` (the dense group, or None), `dense_ref_mean`/`_std`/`_n`/`_epochs`, `dense_diff` (group mean minus
    dense mean, in points) and `dense_missing` (why there is none, with what to add). A dense reference of other
    epochs is never used: the pruned model would be compared with a model trained for a different budget.
    """
    dense = [g for g in groups if is_dense(g)]
    for g in groups:
        g.update(_dense=None, dense_ref_mean=None, dense_ref_std=None, dense_ref_n=None, dense_ref_epochs=None,
                 dense_diff=None, dense_missing=None)
        if is_dense(g):
            continue
        same_model = [d for d in dense if (d["dataset"], d["model"], d["regime"]) == (g["dataset"], g["model"],
                                                                                     g["regime"])]
        found = [d for d in same_model if d["epochs"] is not None and d["epochs"] == g["epochs"]
                 and _comparable(g, d, ignore=_NOT_DENSE_TRAINING)]
        if not found:
            g["dense_missing"] = _why_no_dense(g, same_model)
            continue
        ref = sorted(found, key=lambda d: (not d["_default_variant"], -d["n"], d["variant"]))[0]
        diff = None if g["acc_mean"] is None or ref["acc_mean"] is None else g["acc_mean"] - ref["acc_mean"]
        g.update(_dense=ref, dense_ref_mean=ref["acc_mean"], dense_ref_std=ref["acc_std"], dense_ref_n=ref["n"],
                 dense_ref_epochs=ref["epochs"], dense_diff=diff)


def with_dense_rows(groups: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The groups in the order the results table lists them, with the dense reference in every report group.

    Before the pruned groups of each (dataset, model, ratio, budget basis) comes a row for each dense reference they
    use (the dense group, shown at that ratio and basis, `_reference` set) and, when the report has dense runs at
    all, a row for each (regime, epochs) that has none (`_missing`: why). Dense groups that no pruned group uses
    follow at the end, as they are.
    """
    cells: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for g in groups:
        if not is_dense(g):
            cells[(g["dataset"], g["model"], g["ratio"], g["budget"])].append(g)
    has_dense = any(is_dense(g) for g in groups)
    out: list[dict[str, Any]] = []
    used: set[int] = set()
    for (dataset, model, ratio, budget), members in cells.items():
        refs = {id(g["_dense"]): g["_dense"] for g in members if g["_dense"] is not None}
        for ref in sorted(refs.values(), key=dense_order):
            out.append({**ref, "ratio": ratio, "budget": budget, "_reference": True})
        used |= set(refs)
        missing = {(g["regime"], g["epochs"]): g["dense_missing"] for g in members if g["dense_missing"]}
        out += [{"dataset": dataset, "model": model, "ratio": ratio, "budget": budget, "label": DENSE,
                 "regime": regime, "epochs": epochs, "_missing": why}
                for (regime, epochs), why in sorted(missing.items(), key=str) if has_dense]
        out += members
    return out + [g for g in groups if is_dense(g) and id(g) not in used]


def dense_order(group: dict[str, Any]) -> tuple:
    """The order dense references are listed and drawn in: scratch first, then by epochs."""
    return (group["regime"] != "scratch", group["regime"] or "", group["epochs"] or 0, group["label"])


def _why_no_dense(g: dict[str, Any], same_model: Sequence[dict[str, Any]]) -> str:
    """'no dense reference at 60 epochs (finetune): add method=dense_finetune', with what the dense runs have."""
    epochs = "mixed epochs" if g["epochs"] is None else f"{g['epochs']} epochs"
    preset = "dense_finetune" if g["regime"] == "finetune" else DENSE
    text = f"no dense reference at {epochs} ({g['regime']}): add method={preset}"
    others = sorted({d["epochs"] for d in same_model if d["epochs"] is not None})
    if g["epochs"] in others:  # dense runs of these epochs exist, trained with other settings
        keys = sorted({k for d in same_model for k in _differing(g, d, _NOT_DENSE_TRAINING)})
        return text + f" with this group's settings (the dense runs differ in {', '.join(keys) or 'settings'})"
    if others:
        return text + f" with the same epochs (the dense runs here have {', '.join(str(e) for e in others)})"
    return text


# A group whose achieved reduction (on its budget basis) is further than this from the requested ratio did not
# prune what its ratio says (e.g. RGP's k >= 2 of n = 25 nodes stops at 92 %): it is marked, never bolded.
OFF_TARGET_TOLERANCE = 0.01


def off_target(ratio: float | None, members: Sequence[dict[str, Any]]) -> bool:
    """Whether any run of a group achieved a reduction more than OFF_TARGET_TOLERANCE away from its ratio."""
    achieved = [m.get("budget_achieved") for m in members]
    return ratio is not None and any(a is not None and abs(a - ratio) > OFF_TARGET_TOLERANCE for a in achieved)


def mark_best(groups: Sequence[dict[str, Any]]) -> None:
    """Set g["best"]: the highest accuracy mean among two or more groups at one (dataset, model, ratio, budget).

    Ties are all best; a group alone at its ratio is not marked (there is nothing it beats), and a group that
    missed its ratio (`off_target`) neither wins nor counts. The dense reference is not a method at a ratio: it is
    never marked.
    """
    cells: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for g in groups:
        g["best"] = False
        if g["acc_mean"] is not None and not g.get("off_target") and not is_dense(g):
            cells[(g["dataset"], g["model"], g["ratio"], g["budget"])].append(g)
    for members in cells.values():
        top = max(g["acc_mean"] for g in members)
        for g in members:
            g["best"] = len(members) > 1 and g["acc_mean"] == top


def _layer_density(members: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Kept fraction per prunable layer (from cost.layers), in model order: mean, std and n over seeds."""
    by_seed: dict[Any, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    names: dict[str, None] = {}
    for i, m in enumerate(members):
        seed = m["seed"] if m.get("seed") is not None else f"run {i}"
        for name, density in m.get("_layers") or ():
            by_seed[seed][name].append(density)
            names[name] = None
    out = []
    for name in names:
        mean, std, n = stats.mean_std([statistics.fmean(v[name]) for v in by_seed.values() if name in v])
        out.append({"name": name, "mean": mean, "std": std, "n": n})
    return out


def _common_settings(members: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The non-method settings with one value across all of a group's runs."""
    settings = [m.get("_settings", {}) for m in members]
    if not settings:
        return {}
    return {k: v for k, v in settings[0].items() if all(s.get(k) == v for s in settings[1:])}


def _differing(g: dict[str, Any], h: dict[str, Any], ignore: tuple[str, ...] = ()) -> list[str]:
    """The settings both groups pin down with different values (keys starting with one of `ignore` left out)."""
    a, b = g["_settings"], h["_settings"]
    return sorted(k for k in a.keys() & b.keys() if a[k] != b[k] and not k.startswith(ignore))


def _comparable(g: dict[str, Any], h: dict[str, Any], ignore: tuple[str, ...] = ()) -> bool:
    """Two groups may be paired only if every setting both pin down agrees (e.g. the same train.epochs)."""
    return not _differing(g, h, ignore)


def _per_seed(group: dict[str, Any], col: str) -> dict[int, float]:
    vals: dict[int, list[float]] = defaultdict(list)
    for m in group["_rows"]:
        if m.get("seed") is not None and m.get(col) is not None:
            vals[m["seed"]].append(m[col])
    # Several runs with one seed (different run_ids, e.g. another device) are averaged before pairing.
    return {s: sum(v) / len(v) for s, v in vals.items()}


def compare(groups: Sequence[dict[str, Any]], metric: str, references: Sequence[str]) -> list[dict[str, Any]]:
    """Each group against every `references` group at the same (dataset, model, ratio), paired by seed.

    Only groups whose shared settings agree are paired (an rgp variant at 30 epochs is never compared with
    magnitude at 100). Regimes may differ between the two sides (both are reported). Differences are
    method minus reference. The reference `dense` is each group's own dense reference (`match_dense`: same regime
    and total epochs, any ratio); a dense group is never compared as a method.
    """
    col = metric_column(metric)
    out = []
    for g in groups:
        if is_dense(g):
            continue
        for ref in references:
            if ref == DENSE:
                if g["_dense"] is not None:
                    out.append(_paired(g, g["_dense"], col, metric))
                continue
            for h in groups:
                if h is g or h["method"] != ref or not h["_default_variant"]:
                    continue
                # random vs magnitude would only mirror magnitude vs random
                if g["method"] in references and references.index(g["method"]) > references.index(ref):
                    continue
                # the same ratio means the same budget only on the same basis (weights vs MACs)
                if (h["dataset"], h["model"], h["ratio"], h["budget"]) != (g["dataset"], g["model"], g["ratio"],
                                                                           g["budget"]):
                    continue
                if not _comparable(g, h):
                    continue
                out.append(_paired(g, h, col, metric))
    return out


def _paired(g: dict[str, Any], h: dict[str, Any], col: str, metric: str) -> dict[str, Any]:
    """Group `g` minus reference group `h` over the seeds both have, with a paired t-test."""
    a, b = _per_seed(g, col), _per_seed(h, col)
    seeds = sorted(set(a) & set(b))
    res = stats.paired_test([a[s] for s in seeds], [b[s] for s in seeds])
    return {
        "dataset": g["dataset"],
        "model": g["model"],
        "ratio": g["ratio"],
        "budget": g["budget"],
        "method": g["label"],
        "regime": g["regime"],
        "reference": h["label"],
        "reference_regime": h["regime"],
        "off_target": bool(g.get("off_target") or h.get("off_target")),
        "metric": metric,
        "seeds": seeds,
        "method_mean": stats.mean_std([a[s] for s in seeds])[0],
        "reference_mean": stats.mean_std([b[s] for s in seeds])[0],
        **res,
    }


def aspl_studies(rows: Iterable[dict[str, Any]], metric: str, min_graphs: int = 3) -> list[dict[str, Any]]:
    """Accuracy vs ASPL for every method whose records carry `method_info.aspl`: per (dataset, model, regime,
    method, nodes, degree, epochs) with at least `min_graphs` distinct ASPL values; mean ± std per graph and
    Spearman rho over runs.
    """
    col = metric_column(metric)
    cells: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        aspl = r.get("method_info.aspl")
        if not isinstance(aspl, int | float) or r.get(col) is None:
            continue
        degree = r.get("method_info.degree")
        key = (
            r["dataset"],
            r["model"],
            r["regime"],
            r["method"],
            r.get("method_info.nodes"),
            degree,
            None if degree is not None else ratio_key(r["ratio"]),
            r.get("epochs_total"),
        )
        cells[key].append(r)
    studies = []
    for (ds, model, regime, method, nodes, degree, ratio, epochs), members in sorted(cells.items(),
                                                                                   key=lambda kv: str(kv[0])):
        by_graph: dict[float, list[float]] = defaultdict(list)
        for m in members:
            by_graph[round(float(m["method_info.aspl"]), 6)].append(m[col])
        if len(by_graph) < min_graphs:
            continue
        points = []
        for aspl in sorted(by_graph):
            mean, std, n = stats.mean_std(by_graph[aspl])
            points.append({"aspl": aspl, "n": n, "acc_mean": mean, "acc_std": std})
        xs, ys = [float(m["method_info.aspl"]) for m in members], [m[col] for m in members]
        corr = stats.spearman(xs, ys)
        ci = stats.bootstrap_spearman_ci(xs, ys)
        name = f"{nodes}_{degree}" if nodes is not None and degree is not None else f"ratio {ratio}"
        studies.append(
            {
                "dataset": ds,
                "model": model,
                "regime": regime,
                "method": method,
                "nodes": nodes,
                "degree": degree,
                "ratio": ratio,
                "epochs_total": epochs,
                "graph": name,
                "metric": metric,
                "n_runs": len(members),
                "n_graphs": len(points),
                "rho": corr["rho"],
                "rho_ci": None if ci is None else list(ci),  # bootstrap 95 % interval, resampling runs
                "p_value": corr["p_value"],
                "points": points,
            }
        )
    return studies


def public(groups: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Groups without the private `_rows` back-references (for the API, JSON and CSV)."""
    return [{k: v for k, v in g.items() if not k.startswith("_")} for g in groups]


def _without_sanity(variant: str) -> str:
    return ", ".join(part for part in variant.split(", ") if part and not part.startswith("sanity="))


def sanity_checks(groups: Sequence[dict[str, Any]], metric: str) -> list[dict[str, Any]]:
    """Each sanity-checked group (sanity != none) against the same method without the check, paired by seed.

    `learns_only_densities` is set for `shuffle` when accuracy does not drop: the paired mean difference
    (check - plain) is not below zero by more than its standard error (by anything, with one pair).
    """
    col = metric_column(metric)
    out = []
    for g in groups:
        if g["sanity"] == "none":
            continue
        key = (g["dataset"], g["model"], g["ratio"], g["budget"], g["method"], g["regime"],
               _without_sanity(g["variant"]))
        for h in groups:
            if h["sanity"] != "none" or key != (h["dataset"], h["model"], h["ratio"], h["budget"], h["method"],
                                                h["regime"], _without_sanity(h["variant"])):
                continue
            a, b = _per_seed(g, col), _per_seed(h, col)
            seeds = sorted(set(a) & set(b))
            res = stats.paired_test([a[s] for s in seeds], [b[s] for s in seeds])
            margin = (res["std_diff"] or 0.0) / max(len(seeds), 1) ** 0.5
            no_drop = res["mean_diff"] is not None and res["mean_diff"] + margin >= 0
            out.append({"dataset": g["dataset"], "model": g["model"], "ratio": g["ratio"], "budget": g["budget"],
                        "method": h["label"], "check": g["sanity"], "seeds": seeds,
                        "plain_mean": stats.mean_std([b[s] for s in seeds])[0],
                        "check_mean": stats.mean_std([a[s] for s in seeds])[0], **res,
                        "learns_only_densities": g["sanity"] == "shuffle" and no_drop})
    return out
