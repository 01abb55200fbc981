"""Config variants: runs of one method with different settings are never averaged together."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from rgp_bench.config.facts import covered, keys_without
from rgp_bench.config.fields import Effect
from rgp_bench.report.jobs import normalize_value
from rgp_bench.report.runs import Run, flatten

# Config keys that never make two runs different experiments (declared on the schema fields: the grouping keys,
# paths, logging, where the run executed), plus the method's name (a grouping key) and keys older records carry.
_IGNORED_KEYS: tuple[str, ...] = (*keys_without(Effect.VARIANT), "method.name", "output_dir",
                                  "method.canonical_regime")


def ratio_key(r: float | None) -> float | None:
    """A ratio as grouping compares it (rounded, so 0.9 and 0.9000000001 are one cell)."""
    return None if r is None else round(float(r), 6)


def _relevant(config: dict[str, Any]) -> dict[str, str]:
    return {k: normalize_value(v) for k, v in config.items() if not covered(k, _IGNORED_KEYS)}


def assign_variants(runs: Sequence[Run]) -> None:
    """Set each run's `variant` so that runs with different settings are never averaged together.

    Within each (dataset, model, regime, ratio, method) cell, config keys whose value differs between runs
    (other than seed, paths, logging, device) split the cell; the same key set labels every run of that
    method, so lines across ratios stay connected. Example variant: 'start=ring'. Also sets `default_variant`
    and `settings`.
    """
    cells: dict[tuple[Any, ...], list[Run]] = defaultdict(list)
    for r in runs:
        rec = r.record
        cells[(rec.dataset, rec.model, rec.regime, ratio_key(rec.ratio), rec.method)].append(r)
    split_keys: dict[tuple[str, str, str, str], set[str]] = defaultdict(set)
    for (ds, model, regime, _ratio, method), members in cells.items():
        configs = [_relevant(m.config) for m in members]
        keys = set().union(*configs) if configs else set()
        seeds = [normalize_value(m.seed) for m in members]
        varying = {
            k
            for k in keys
            if len({c.get(k) for c in configs}) > 1
            # a key interpolated from the seed (e.g. split_seed: ${seed}) is part of the seed, not a variant
            and any(c.get(k) != s for c, s in zip(configs, seeds, strict=True))
        }
        split_keys[(ds, model, regime, method)] |= varying
    for r in runs:
        rec = r.record
        split = sorted(split_keys[(rec.dataset, rec.model, rec.regime, rec.method)])
        cfg = _relevant(r.config)
        r.variant = ", ".join(f"{k.removeprefix('method.')}={_shown(r.config, k)}" for k in split)
        r.default_variant = all(cfg.get(k) == _default_value(r, k) for k in split)
        r.settings = {k: v for k, v in cfg.items() if not k.startswith("method.")}


def _shown(config: dict[str, Any], key: str) -> str:
    """A setting's value as a label shows it (the config's own spelling: `none` stays `none`)."""
    if key not in config:
        return "unset"
    value = config[key]
    return "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def _default_value(run: Run, key: str) -> str | None:
    """The normalised default of a split key: the method setting's schema default as the record states it, or
    `sanity`'s `none` (None when the record does not say)."""
    if key == "sanity":
        return normalize_value("none")
    defaults = flatten(run.record.method_defaults)
    name = key.removeprefix("method.")
    if not key.startswith("method.") or name not in defaults:
        return None
    return normalize_value(defaults[name])
