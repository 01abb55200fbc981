"""Run identity: a hash of the resolved config, minus the keys that cannot change results."""

from __future__ import annotations

import hashlib
import json
from typing import Any, cast

from omegaconf import DictConfig, OmegaConf

from rgp_bench.config.facts import volatile_keys
from rgp_bench.core.hardware import device_type, resolved_threads
from rgp_bench.methods import get_method
from rgp_bench.run.plan import plan_run

# Bumped whenever training, measurement or a method's semantics change, so results of older code are never
# reused as if they were current.
RESULTS_VERSION = 4  # 4: channel methods prune the stem's outputs (GNN-RL's action space)

# Paths, logging and display settings: changing them must not change a run's identity (declared on the schema fields).
VOLATILE_KEYS: tuple[str, ...] = volatile_keys()


def identity_config(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config with volatile keys removed (Hydra's own `hydra` node is never part of it).

    `hardware.device: auto` is replaced by the device it resolves to, so a CPU and a GPU run differ, and
    `hardware.threads: null` by the thread count it resolves to. The code's RESULTS_VERSION is part of it. A dense
    run (a method that prunes nothing) leaves `ratio` out (`_ratio_free`).
    """
    data = cast("dict[str, Any]", OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True,
                                                         enum_to_str=True))  # a config's keys are strings
    assert isinstance(data, dict)
    data.pop("hydra", None)
    if isinstance(data.get("hardware"), dict):
        data["hardware"]["device"] = device_type(cfg.hardware)
        data["hardware"]["threads"] = resolved_threads(cfg.hardware)
    data["results_version"] = RESULTS_VERSION
    _ratio_free(cfg, data)
    for dotted in VOLATILE_KEYS:
        *parents, leaf = dotted.split(".")
        node = data
        for part in parents:
            node = node.get(part, {})
        node.pop(leaf, None)
    return data


def _ratio_free(cfg: DictConfig, data: dict[str, Any]) -> None:
    """A method that prunes nothing (the dense reference) is named without `ratio`, so one run serves every ratio
    of a sweep; its settings only choose the regime, so the resolved regime names it instead of them (the same
    run whether it comes from `method=dense_finetune` or `method=dense train.regime=finetune`)."""

    if get_method(cfg.method.name).prunes:
        return
    data.pop("ratio", None)
    data["method"] = {"name": cfg.method.name}
    data["train"]["regime"] = str(plan_run(cfg).regime)


def run_id(cfg: DictConfig) -> str:
    """12-hex-digit content hash of the identity config (stable across key order and paths)."""
    canonical = json.dumps(identity_config(cfg), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]
