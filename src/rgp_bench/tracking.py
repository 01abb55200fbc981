"""Weights & Biases tracking that can never fail a run: every call is guarded and degrades to a no-op."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}/{key}" if prefix else str(key), inner, out)
    elif isinstance(value, int | float | str | bool) or value is None:
        out[prefix] = value


def cell_name(cfg: DictConfig) -> str:
    """The comparison cell a run belongs to: dataset-model-ratio (methods and seeds vary inside it)."""
    return f"{cfg.dataset.name}-{cfg.model.name}-r{cfg.ratio}"


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
            project=logger.project, entity=logger.entity, mode=logger.mode, dir=str(out_dir),
            tags=[*logger.tags, *(extra_tags or [])], reinit="finish_previous",
            settings=wandb.Settings(console="off", x_disable_stats=True, silent=True), **kwargs,
        )
    except Exception as exc:
        log.warning("wandb could not start (%s); continuing without tracking", exc)
        return None


class Tracker:
    """A wandb run for one job (or nothing, with `logger=none` or when wandb fails).

    Runs are grouped by comparison cell (dataset-model-ratio) with the method as job_type, so the wandb UI
    aggregates seeds and compares methods the way reports do. Runs of a sweep also carry the sweep's id
    (tag and `sweep` config key), which names the group of the sweep's summary run.
    """

    def __init__(self, cfg: DictConfig, out_dir: Path, run_id: str, sweep_dir: str | None = None) -> None:
        config = OmegaConf.to_container(cfg, resolve=True)
        assert isinstance(config, dict)
        sweep = sweep_group(sweep_dir) if sweep_dir else None
        config.update(cell=cell_name(cfg), run_id=run_id, sweep=sweep)
        self._run = start_run(
            cfg.logger, out_dir, group=cell_name(cfg), job_type=cfg.method.name,
            name=f"{cfg.method.name}-s{cfg.seed}-{run_id}", config=config, extra_tags=[sweep] if sweep else [],
        )

    def _guard(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> None:
        if self._run is None:
            return
        try:
            fn(*args, **kwargs)
        except Exception as exc:
            log.warning("wandb %s failed (%s); continuing without tracking", what, exc)
            self._run = None

    def log_epoch(self, row: dict[str, Any]) -> None:
        """Log one epoch's history row."""
        if self._run is not None:
            self._guard("log", self._run.log, {f"{row['phase']}/{k}": v for k, v in row.items() if k != "phase"})

    def log_record(self, record: dict[str, Any]) -> None:
        """Put the run's headline numbers in the wandb summary and its layer table in a wandb Table."""
        if self._run is None:
            return
        flat: dict[str, Any] = {}
        for key in ("accuracy", "sparsity", "method_info", "timings", "epochs", "regime", "run_id"):
            _flatten(key, record.get(key), flat)
        cost = record["cost"]
        _flatten("cost", {k: cost[k] for k in ("dense", "pruned", "prunable", "reduction")}, flat)
        self._guard("summary", self._run.summary.update, flat)
        try:
            import wandb

            columns = ["name", "type", "prunable", "params", "nonzero", "density", "macs", "macs_effective"]
            table = wandb.Table(columns=columns, data=[[row[c] for c in columns] for row in cost["layers"]])
            self._guard("table", self._run.log, {"layers": table})
        except Exception as exc:
            log.warning("wandb table failed (%s)", exc)

    def finish(self) -> None:
        """Close the run (always call, also on failure)."""
        self._guard("finish", self._run.finish if self._run else None)
        self._run = None
