"""Validation of a composed config: each setting's own range (declared on its schema field), the config's
structure, the rules that span several fields, the output directories, and the checks that need the model
(but no data). Types and enum choices were already enforced by OmegaConf at composition. Each failure is
one line naming the bad value and what is valid.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from rgp_bench.config.choices import Regime, Sanity
from rgp_bench.config.fields import check_fields
from rgp_bench.core.errors import UserError
from rgp_bench.data import dataset_shape
from rgp_bench.methods import METHODS, get_method
from rgp_bench.models import build_model
from rgp_bench.pruning import find_prunable_layers
from rgp_bench.run.plan import plan_run

MIN_FREE_BYTES = 64 * 2**20  # below this a run cannot even write its checkpoints


def validate_config(cfg: DictConfig) -> None:
    """Raise UserError for the first bad value in a composed config."""
    check_fields(cfg)
    _check_cross_field_rules(cfg)
    check_output_dir("cache_dir", str(cfg.cache_dir))


def _check_cross_field_rules(cfg: DictConfig) -> None:

    train = cfg.train
    if train.nesterov and train.momentum == 0:
        raise UserError("train.nesterov=true needs train.momentum > 0; valid: nesterov=false or a momentum in (0, 1)")
    method = get_method(cfg.method.name)
    if train.regime != Regime.auto and train.regime not in method.regimes:
        valid = ", ".join(["auto", *sorted(str(r) for r in method.regimes)])
        raise UserError(f"train.regime={train.regime} is not supported by method {method.name}; valid choices: {valid}")

    plan = plan_run(cfg)
    if cfg.sanity != Sanity["none"] and not method.prunes:
        raise UserError(f"sanity={cfg.sanity} checks a pruning method's masks, but {method.name} prunes nothing; "
                        "valid: sanity=none")
    if cfg.sanity == Sanity.invert and not method.scored:

        scored = ", ".join(sorted(name for name, m in METHODS.items() if m.scored))
        raise UserError(f"sanity=invert needs a method that ranks weights by a score; {method.name} does not; "
                        f"valid methods: {scored}")
    if cfg.sanity == Sanity.reinit and plan.regime != Regime.finetune:
        raise UserError(f"sanity=reinit draws new weights for a pruned trained model, but {method.name} runs in the "
                        f"{plan.regime} regime (its weights are fresh anyway); valid: train.regime=finetune, or "
                        "sanity=shuffle")
    if plan.pretrain is not None and plan.pretrain.epochs == 0 and train.pretrain_epochs is None:
        raise UserError(f"method {method.name} prunes a trained model, but train.epochs=0 leaves it untrained "
                        "(train.pretrain_epochs defaults to train.epochs); set train.pretrain_epochs=N, or "
                        "train.pretrain_epochs=0 to prune the untrained model on purpose")


def check_output_dir(key: str, path: str) -> None:
    """A directory runs write into: not empty, not a file, writable, and on a disk that is not full."""
    if not path.strip():
        raise UserError(f"{key} is empty; valid: a directory path")
    target = Path(path).expanduser()
    if target.exists() and not target.is_dir():
        raise UserError(f"{key}={path} is a file, not a directory; valid: a directory path")
    existing = next(p for p in (target, *target.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise UserError(f"{key}={path} cannot be created: {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"{key}={path} is not writable ({existing} is read-only); valid: a writable directory")
    free = shutil.disk_usage(existing).free
    if free < MIN_FREE_BYTES:
        raise UserError(f"{key}={path} is on a full disk ({free // 2**20} MiB free at {existing}); "
                        f"free some space or choose another {key}")


def check_structure(cfg: DictConfig, prefix: str = "") -> None:
    """Every key of a typed node is one of its schema's fields, and no field is missing (e.g. `~ratio`, `+foo=1`)."""
    schema = OmegaConf.get_type(cfg)
    if not dataclasses.is_dataclass(schema):
        return
    fields = {f.name for f in dataclasses.fields(schema)}
    where = f"of {prefix.rstrip('.')}" if prefix else "at the top level"
    for key in cfg:
        if key not in fields:
            raise UserError(f"unknown key '{prefix}{key!s}'; valid keys {where}: {', '.join(sorted(fields))}")
    for name in sorted(fields - set(cfg)):
        raise UserError(f"'{prefix}{name}' is missing (deleted with ~?); every setting needs a value")
    for key in cfg:
        node = cfg._get_node(key)
        if isinstance(node, DictConfig):
            check_structure(node, f"{prefix}{key!s}.")


def check_with_model(cfg: DictConfig) -> None:
    """Checks that need the architecture but no data: the model fits the dataset's shape, `layers.*` leaves a
    prunable layer, and the method can prune those layers at this ratio (e.g. RGP's nodes and degree)."""
    import torch


    shape = dataset_shape(cfg.dataset)
    state = torch.random.get_rng_state()
    try:
        model = build_model(cfg.model, shape.channels, shape.size, shape.classes, shape.spatial_dims)
    finally:
        torch.random.set_rng_state(state)
    example = torch.zeros(1, shape.channels, *([shape.size] * shape.spatial_dims))
    method = get_method(cfg.method.name)
    layers = find_prunable_layers(model, example, cfg.layers, channels=method.budget == "macs")
    if method.check is not None:
        method.check(cfg.method, layers, cfg.ratio, model, example)
