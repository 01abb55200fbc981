"""Weights & Biases tracking that can never fail a run: every call is guarded and degrades to a no-op."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from rgp_bench.config.facts import group_keys_without
from rgp_bench.config.fields import Effect
from rgp_bench.config.schema import TrainCfg
from rgp_bench.methods import get_method
from rgp_bench.record.schema import RunRecord
from rgp_bench.run.plan import plan_run

log = logging.getLogger(__name__)


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}/{key}" if prefix else str(key), inner, out)
    elif isinstance(value, int | float | str | bool) or value is None:
        out[prefix] = value


# Training settings that do not make two runs incomparable (the regime and epochs are tags of their own).
_NOT_RECIPE = group_keys_without("train", Effect.RECIPE)


def recipe_tag(cfg: DictConfig) -> str:
    """The training settings that differ from the schema defaults, e.g. "lr0.05-bs256" ("" for the defaults)."""
    defaults = OmegaConf.to_container(OmegaConf.structured(TrainCfg), enum_to_str=True)
    train = OmegaConf.to_container(cfg.train, resolve=True, enum_to_str=True)
    assert isinstance(defaults, dict) and isinstance(train, dict)
    changed = [f"{k}{train[k]}" for k in sorted(train) if k not in _NOT_RECIPE and train[k] != defaults.get(k)]
    tag = "-".join(str(c).replace(" ", "") for c in changed)
    if len(tag) > 40:  # keep tags short; the hash still separates recipes
        tag = "recipe" + hashlib.sha256(tag.encode()).hexdigest()[:8]
    return tag


def cell_name(cfg: DictConfig) -> str:
    """The wandb group: the report's comparison cell, i.e. dataset, model, ratio and its budget basis.

    Methods, seeds, regimes and epoch budgets vary inside it (each method keeps its canonical regime: magnitude
    fine-tunes, rgp trains from scratch), as they do in one block of the report's tables; the regime, the total
    epochs and any non-default recipe are tags and config keys (`run_tags`) to filter or split a panel by.
    A dense run serves every ratio: `dense` stands for its ratio.
    """
    method = get_method(cfg.method.name)
    budget = (f"r{cfg.ratio}" + ("macs" if method.budget == "macs" else "")) if method.prunes else "dense"
    return "-".join([cfg.dataset.name, cfg.model.name, budget])


def run_tags(cfg: DictConfig) -> dict[str, Any]:
    """What tells runs of one cell apart besides method and seed: regime, total epochs and the recipe (config keys;
    their values are also the run's tags, e.g. "finetune", "e60", "lr0.05")."""
    plan = plan_run(cfg)
    return {"regime": str(plan.regime), "epochs_total": plan.total, "recipe": recipe_tag(cfg) or "default"}


def sweep_group(sweep_dir: str | Path) -> str:
    """wandb group shared by all runs of one sweep and its summary run."""
    parts = Path(sweep_dir).resolve().parts[-2:]
    return "sweep-" + "_".join(parts)


def start_run(logger: DictConfig, out_dir: Path, *, extra_tags: list[str] | None = None, **kwargs: Any) -> Any:
    """wandb.init with this project's settings, or None when tracking is off or wandb fails."""
    if logger.mode == "disabled":
        return None
    try:
        import wandb

        os.environ.setdefault("WANDB_SILENT", "true")
        return wandb.init(
            project=logger.project, entity=logger.entity, mode=str(logger.mode),  # type: ignore[arg-type]  # LoggerMode's values are wandb modes
            dir=str(out_dir),
            tags=[*logger.tags, *(extra_tags or [])], reinit="finish_previous",
            settings=wandb.Settings(console="off", x_disable_stats=True, silent=True), **kwargs,
        )
    except Exception as exc:
        log.warning("wandb could not start (%s); continuing without tracking", exc)
        return None


def latency_summary(record: RunRecord) -> dict[str, Any]:
    """The measured speed-up for the wandb summary: the headline, the fastest deployable form per batch size, the
    MAC limit, the fraction of it reached, against the dense twin and compiled dense, and the efficiency."""
    latency = record.cost.latency
    if latency is None:
        return {}
    prefix = "cost.latency"
    out: dict[str, Any] = {f"{prefix}.{key}": getattr(latency, key) for key in (
        "speedup", "speedup_batch", "headline", "mac_limit", "fraction_of_limit", "speedup_vs_twin",
        "speedup_vs_compiled", "efficiency", "noisy") if getattr(latency, key) is not None}
    for batch in latency.batches:
        best = max(v.speedup for name, v in batch.variants.items() if name in ("materialised", "masked"))
        out[f"{prefix}.speedup_at_batch_{batch.batch_size}"] = best
        out[f"{prefix}.seconds_at_batch_{batch.batch_size}"] = {name: v.median for name, v in batch.variants.items()}
    return out


# Summary modes per phase metric: wandb's default is the last value; a comparison wants the best epoch's.
SUMMARY_MODES = {"val_top1": "max", "train_top1": "max", "val_loss": "min", "train_loss": "min"}


class Tracker:
    """A wandb run for one job (or nothing, with `logger=none` or when wandb fails).

    Runs are grouped by the report's comparison cell (dataset-model-ratio, `cell_name`) with the method as
    job_type, so one wandb group holds the methods one block of the report compares; the regime, total epochs and
    recipe are tags and config keys (`run_tags`). Runs of a sweep also carry the sweep's id (tag and `sweep`
    config key), which names the group of the sweep's summary run.
    """

    def __init__(self, cfg: DictConfig, out_dir: Path, run_id: str, sweep_dir: str | None = None) -> None:
        config = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
        assert isinstance(config, dict)
        sweep = sweep_group(sweep_dir) if sweep_dir else None
        facts = run_tags(cfg)
        config.update(cell=cell_name(cfg), run_id=run_id, sweep=sweep, **facts)
        tags = [facts["regime"], f"e{facts['epochs_total']}"]
        tags += [facts["recipe"]] if facts["recipe"] != "default" else []
        tags += [sweep] if sweep else []
        self._run = start_run(
            cfg.logger, out_dir, group=cell_name(cfg), job_type=cfg.method.name,
            name=f"{cfg.method.name}-s{cfg.seed}-{run_id}", config=config, extra_tags=tags,
        )
        self._guard("define_metric", self._define_metrics)

    def _define_metrics(self) -> None:
        """Each phase's curves against its own epoch (so the phases line up), with the summary modes declared."""
        if self._run is None:
            return
        for phase in ("pretrain", "train"):
            self._run.define_metric(f"{phase}/epoch")
            self._run.define_metric(f"{phase}/*", step_metric=f"{phase}/epoch")
            for metric, mode in SUMMARY_MODES.items():
                self._run.define_metric(f"{phase}/{metric}", step_metric=f"{phase}/epoch", summary=mode)

    def _guard(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> None:
        if self._run is None:
            return
        try:
            fn(*args, **kwargs)
        except Exception as exc:
            log.warning("wandb %s failed (%s); continuing without tracking", what, exc)
            self._run = None

    def log(self, metrics: dict[str, Any]) -> None:
        """Log free-form metrics (e.g. a method's search curve)."""
        if self._run is not None:
            self._guard("log", self._run.log, dict(metrics))

    def log_epoch(self, row: dict[str, Any]) -> None:
        """Log one epoch's history row."""
        if self._run is not None:
            self._guard("log", self._run.log, {f"{row['phase']}/{k}": v for k, v in row.items() if k != "phase"})

    def log_cached_dense(self, history: list[dict[str, Any]], cache_key: str) -> None:
        """The pretraining curves of a dense model loaded from the cache, copied from its cache entry (the run that
        trained it logged them live), and the cache key in the summary."""
        if self._run is None:
            return
        for row in history:
            self.log_epoch({**row, "phase": "pretrain"})
        self._guard("summary", self._run.summary.update, {"pretrain/cached": True, "pretrain/cache_key": cache_key})

    def log_record(self, record: RunRecord) -> None:
        """Put the run's headline numbers in the wandb summary and its layer table in a wandb Table."""
        if self._run is None:
            return
        data = record.to_dict()
        flat: dict[str, Any] = {}
        for key in ("accuracy", "sparsity", "method_info", "timings", "epochs", "regime", "run_id"):
            _flatten(key, data[key], flat)
        cost = data["cost"]
        _flatten("cost", {k: cost[k] for k in ("dense", "pruned", "prunable", "reduction")}, flat)
        flat.update(latency_summary(record))
        self._guard("summary", self._run.summary.update, flat)
        try:
            import wandb

            columns: list[str | int] = ["name", "type", "prunable", "params", "nonzero", "density", "macs",
                                        "macs_effective"]
            table = wandb.Table(columns=columns, data=[[row[c] for c in columns] for row in cost["layers"]])
            self._guard("table", self._run.log, {"layers": table})
        except Exception as exc:
            log.warning("wandb table failed (%s)", exc)

    def finish(self) -> None:
        """Close the run (always call, also on failure)."""
        self._guard("finish", self._run.finish if self._run else None)
        self._run = None
