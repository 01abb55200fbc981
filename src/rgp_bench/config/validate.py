"""Checks that need more than a type: ranges and closed sets of choices. Each failure is one line."""

from __future__ import annotations

from omegaconf import DictConfig

from rgp_bench.errors import UserError, choices_error
from rgp_bench.graphs import STARTS, STRATEGIES

CHOICES: dict[str, tuple[str, ...]] = {
    "train.regime": ("auto", "scratch", "finetune"),
    "train.optimizer": ("sgd", "adam"),
    "train.schedule": ("cosine", "step", "constant"),
    "hardware.device": ("auto", "cpu", "cuda"),
    "hardware.precision": ("fp32", "bf16", "fp16"),
    "logger.mode": ("offline", "online", "disabled"),
    "method.canonical_regime": ("scratch", "finetune"),
}
METHOD_CHOICES: dict[str, dict[str, tuple[str, ...]]] = {
    "rgp": {"strategy": STRATEGIES, "start": STARTS},
    "magnitude": {"scope": ("global", "layer")},
    "random": {"scope": ("layer", "global")},
}
LAYER_TYPES: tuple[str, ...] = ("Conv2d", "Linear")


def _select(cfg: DictConfig, dotted: str) -> object:
    node: object = cfg
    for part in dotted.split("."):
        node = node[part]  # type: ignore[index]
    return node


def _check_range(name: str, value: float, lo: float, hi: float, *, hi_open: bool = True) -> None:
    ok = lo <= value < hi if hi_open else lo <= value <= hi
    if not ok:
        bracket = ")" if hi_open else "]"
        raise UserError(f"{name}={value} is out of range; valid range: [{lo}, {hi}{bracket}")


def _optional_positive(name: str, value: object, *, integer: bool = False, allow_zero: bool = False) -> None:
    """null, or a number > 0 (>= 0 with allow_zero; an int when `integer`)."""
    if value is None:
        return
    kinds = (int,) if integer else (int, float)
    ok = isinstance(value, kinds) and not isinstance(value, bool) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        what = "an integer" if integer else "a number"
        bound = ">= 0" if allow_zero else "> 0"
        raise UserError(f"{name}={value!r} is invalid; valid: null or {what} {bound}")


def validate_config(cfg: DictConfig) -> None:
    """Raise UserError naming the first bad value in a composed config, with its valid choices."""
    _check_range("ratio", cfg.ratio, 0.0, 1.0)
    for key, valid in CHOICES.items():
        value = _select(cfg, key)
        if value not in valid:
            raise choices_error(key, value, valid)
    for key, valid in METHOD_CHOICES.get(cfg.method.name, {}).items():
        value = cfg.method[key]
        if value not in valid:
            raise choices_error(f"method.{key}", value, valid)
    if cfg.method.name == "rgp":
        nodes = cfg.method.nodes
        if nodes != "auto" and not (isinstance(nodes, int) and nodes >= 3):
            raise UserError(f"method.nodes={nodes!r} is invalid; valid choices: auto or an integer >= 3")
        degree = cfg.method.degree
        if degree is not None and not isinstance(degree, int):
            raise UserError(f"method.degree={degree!r} is invalid; valid choices: null or an integer")
        _optional_positive("method.graph_iters", cfg.method.graph_iters, integer=True, allow_zero=True)
        _optional_positive("method.graph_seconds", cfg.method.graph_seconds)
    train = cfg.train
    if train.epochs < 0:
        raise UserError(f"train.epochs={train.epochs} is invalid; valid range: an integer >= 0")
    if train.pretrain_epochs is not None and (not isinstance(train.pretrain_epochs, int) or train.pretrain_epochs < 0):
        raise UserError(f"train.pretrain_epochs={train.pretrain_epochs!r} is invalid; valid: null or an integer >= 0")
    for key in ("batch_size", "eval_batch_size"):
        if train[key] < 1:
            raise UserError(f"train.{key}={train[key]} is invalid; valid range: an integer >= 1")
    if train.limit_batches is not None and (not isinstance(train.limit_batches, int) or train.limit_batches < 1):
        raise UserError(f"train.limit_batches={train.limit_batches!r} is invalid; valid: null or an integer >= 1")
    if train.lr <= 0:
        raise UserError(f"train.lr={train.lr} is invalid; valid range: a number > 0")
    _optional_positive("train.finetune_lr", train.finetune_lr)
    _check_range("train.momentum", train.momentum, 0.0, 1.0)
    if train.nesterov and train.momentum == 0:
        raise UserError("train.nesterov=true needs train.momentum > 0; valid: nesterov=false or a momentum in (0, 1)")
    if train.weight_decay < 0:
        raise UserError(f"train.weight_decay={train.weight_decay} is invalid; valid range: a number >= 0")
    if train.step_size < 1:
        raise UserError(f"train.step_size={train.step_size} is invalid; valid range: an integer >= 1")
    if train.gamma <= 0:
        raise UserError(f"train.gamma={train.gamma} is invalid; valid range: a number > 0")
    _check_range("train.label_smoothing", train.label_smoothing, 0.0, 1.0)
    bad_types = [t for t in cfg.layers.types if t not in LAYER_TYPES]
    if bad_types or not cfg.layers.types:
        raise choices_error("layers.types entry", bad_types[0] if bad_types else "[]", LAYER_TYPES)
    if cfg.hardware.workers < 0:
        raise UserError(f"hardware.workers={cfg.hardware.workers} is invalid; valid range: an integer >= 0")
