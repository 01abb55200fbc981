"""One benchmark run, top to bottom: build -> prune -> measure -> train -> evaluate -> record."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from rgp_bench.config.validate import validate_config
from rgp_bench.data import build_data
from rgp_bench.dense_cache import dense_key, pretrained_dense
from rgp_bench.errors import UserError
from rgp_bench.hardware import Hardware, resolve_hardware, seed_everything
from rgp_bench.identity import run_id
from rgp_bench.measure import MAC_CONVENTION, measure_costs, reductions
from rgp_bench.methods import MaskContext, get_method
from rgp_bench.models import build_model
from rgp_bench.pruning import apply_masks, current_masks, find_prunable_layers, mask_sparsity
from rgp_bench.record import SCHEMA_VERSION, environment, now_iso, write_error, write_results
from rgp_bench.run_store import RunStore
from rgp_bench.summary import format_summary
from rgp_bench.tracking import Tracker
from rgp_bench.train import PhaseResult, evaluate, make_loader, train_phase

log = logging.getLogger(__name__)


class Timer:
    """Wall time per pipeline phase."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._start = time.perf_counter()

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

    def totals(self) -> dict[str, float]:
        return {**self.seconds, "total": time.perf_counter() - self._start}


def resolve_regime(cfg: DictConfig) -> str:
    """`train.regime`, with `auto` meaning the method's canonical regime."""
    return cfg.method.canonical_regime if cfg.train.regime == "auto" else cfg.train.regime


def identity_fields(cfg: DictConfig) -> dict[str, Any]:
    """The fields that name a run in records, reports and error files."""
    return {"run_id": run_id(cfg), "method": cfg.method.name, "dataset": cfg.dataset.name,
            "model": cfg.model.name, "ratio": cfg.ratio, "seed": cfg.seed, "regime": resolve_regime(cfg)}


def run(cfg: DictConfig, out_dir: Path, checkpoint: Path, sweep_dir: str | None = None) -> dict[str, Any]:
    """Run one experiment end to end and write its record; returns the record.

    `checkpoint` is the epoch checkpoint to resume from (if it exists) and to keep up to date;
    `sweep_dir` is set in a multirun, so tracking can group the sweep's runs.
    """
    validate_config(cfg)
    timer = Timer()
    hw = resolve_hardware(cfg.hardware)
    seed_everything(cfg.seed, hw.deterministic)
    method = get_method(cfg.method.name)
    regime = resolve_regime(cfg)
    identity = identity_fields(cfg)

    # build
    with timer.phase("build"):
        data = build_data(cfg.dataset)
        model = build_model(cfg.model, data.in_channels, data.image_size, data.num_classes).to(hw.device)
        example = data.test[0][0].unsqueeze(0).to(hw.device)
        layers = find_prunable_layers(model, example, cfg.layers)
        prunable = {layer.name for layer in layers}
        dense_cost = measure_costs(model, example, prunable)
        test_loader = make_loader(data.test, cfg.train.eval_batch_size, hw, shuffle=False)
        val_loader = make_loader(data.val, cfg.train.eval_batch_size, hw, shuffle=False)

    tracker = Tracker(cfg, out_dir, identity["run_id"], sweep_dir)
    try:
        pretrain_epochs, pretrain = 0, None
        if regime == "finetune":
            pretrain_epochs = cfg.train.epochs if cfg.train.pretrain_epochs is None else cfg.train.pretrain_epochs
            with timer.phase("pretrain"):
                pretrain = _pretrain_dense(cfg, model, data, hw, pretrain_epochs, val_loader, test_loader, tracker)

        # prune
        with timer.phase("prune"):
            context = MaskContext(seed=cfg.seed, cache_dir=Path(cfg.cache_dir) / "graphs",
                                  progress=cfg.train.progress)
            masks = method.compute_masks(cfg.method, layers, cfg.ratio, context)
            if regime == "scratch":
                _rescale_init(layers, masks.init_scale)
            apply_masks(layers, masks.masks)

        # measure
        with timer.phase("measure"):
            pruned_cost = measure_costs(model, example, prunable, dense_macs=dense_cost.module_macs)
            achieved = mask_sparsity(current_masks(layers))

        # train
        lr = cfg.train.lr if regime == "scratch" or cfg.train.finetune_lr is None else cfg.train.finetune_lr
        with timer.phase("train"):
            trained = train_phase(model, data.train, val_loader, cfg.train, hw, phase="train", epochs=cfg.train.epochs,
                                  lr=lr, seed=cfg.seed, checkpoint=checkpoint, on_epoch=tracker.log_epoch)

        # evaluate
        with timer.phase("evaluate"):
            accuracy = _final_and_best_val(model, trained, test_loader, val_loader, hw, cfg.train.limit_batches)
            accuracy["dense"] = pretrain["test"] if pretrain else None

        # record
        record = {
            **identity, "created": now_iso(),
            "epochs": {"pretrain": pretrain_epochs, "train": cfg.train.epochs,
                       "total": pretrain_epochs + cfg.train.epochs, "resumed_from": trained.resumed_from},
            "accuracy": accuracy,
            "sparsity": {"requested": cfg.ratio, "achieved": achieved,
                         "overall": 1.0 - pruned_cost.total.params_nonzero / pruned_cost.total.params},
            "cost": {"mac_convention": MAC_CONVENTION, "dense": vars(dense_cost.total),
                     "pruned": vars(pruned_cost.total), "prunable": vars(pruned_cost.prunable),
                     "prunable_dense": vars(dense_cost.prunable),
                     "reduction": reductions(dense_cost, pruned_cost), "layers": pruned_cost.to_dict()["layers"]},
            "method_info": masks.info,
            "history": (pretrain["history"] if pretrain else []) + trained.history,
            "dense_cache": {"key": pretrain["key"], "hit": pretrain["hit"]} if pretrain else None,
            "timings": timer.totals(),
            "config": OmegaConf.to_container(cfg, resolve=True),
            "environment": environment(hw.describe()),
            "output_dir": str(out_dir.resolve()),
        }
        path = write_results(out_dir, record)
        tracker.log_record(record)
    finally:
        tracker.finish()
    print(format_summary(record, path))
    return record


def _pretrain_dense(cfg: DictConfig, model: torch.nn.Module, data: Any, hw: Hardware, epochs: int,
                    val_loader: Any, test_loader: Any, tracker: Tracker) -> dict[str, Any]:
    """Dense training for the finetune regime, shared across methods and ratios via the dense cache."""
    def train(checkpoint: Path) -> dict[str, Any]:
        result = train_phase(model, data.train, val_loader, cfg.train, hw, phase="pretrain", epochs=epochs,
                             lr=cfg.train.lr, seed=cfg.seed, checkpoint=checkpoint, on_epoch=tracker.log_epoch)
        test = evaluate(model, test_loader, hw, cfg.train.limit_batches)
        return {"history": result.history, "test": test.as_dict()}

    key = dense_key(cfg, epochs)
    meta, hit = pretrained_dense(model, Path(cfg.cache_dir) / "dense", key, train)
    if hit:
        log.info("dense model loaded from cache (key %s)", key)
    return {**meta, "key": key, "hit": hit}


def _rescale_init(layers: list, scale: dict[str, float]) -> None:
    with torch.no_grad():
        for layer in layers:
            if layer.name in scale:
                layer.module.weight.mul_(scale[layer.name])


def _final_and_best_val(model: torch.nn.Module, trained: PhaseResult, test_loader: Any, val_loader: Any,
                        hw: Hardware, limit: int | None) -> dict[str, Any]:
    """Test scores of the final weights and of the weights at the best validation epoch."""
    final_epoch = trained.history[-1]["epoch"] if trained.history else 0
    final = {"epoch": final_epoch, **evaluate(model, test_loader, hw, limit).as_dict()}
    if trained.best_state is None:  # no training epochs: the pruned model itself is both
        val_top1 = evaluate(model, val_loader, hw, limit).top1
        return {"final": final, "best_val": {**final, "val_top1": val_top1}}
    if trained.best_epoch == final_epoch:
        best = {k: v for k, v in final.items() if k != "epoch"}
    else:
        final_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict(trained.best_state)
        best = evaluate(model, test_loader, hw, limit).as_dict()
        model.load_state_dict(final_state)
    return {"final": final,
            "best_val": {"epoch": trained.best_epoch, "val_top1": trained.best_val_top1, **best}}


def run_job(cfg: DictConfig) -> float | None:
    """Hydra task: skip a run that is already complete, else run (resuming if interrupted) and store it.

    Returns the best validation accuracy (for sweepers). A user mistake becomes one line and a non-zero
    exit (single run) or a failed job (multirun).
    """
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    multirun = HydraConfig.get().mode == RunMode.MULTIRUN
    try:
        identity = identity_fields(cfg)
        store = RunStore(Path(cfg.cache_dir) / "runs")
        with store.lock(identity["run_id"]):
            done = store.completed(identity["run_id"]) if cfg.skip_complete else None
            if done is not None:
                path = write_results(out_dir, {k: v for k, v in done.items() if k not in ("schema_version", "status")})
                print(format_summary(done, path))
                print(f"skip: run {identity['run_id']} ({_describe(identity)}) is already complete; "
                      f"record copied from {done.get('output_dir')}")
                return done["accuracy"]["best_val"]["val_top1"]
            sweep_dir = HydraConfig.get().sweep.dir if multirun else None
            record = run(cfg, out_dir, store.checkpoint(identity["run_id"]), sweep_dir)
            store.save(identity["run_id"], {"schema_version": SCHEMA_VERSION, "status": "complete", **record})
    except Exception as exc:
        failure = _record_failure(cfg, out_dir, exc)
        if multirun:
            # Keep the sweep going: the failure is in error.json, the traceback in the job's log, and the
            # end-of-sweep report lists it (and makes the sweep exit non-zero).
            log.error("run failed: %s", failure, exc_info=not isinstance(exc, UserError))
            return None
        if isinstance(exc, UserError):
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(exc.exit_code)
        raise
    # Sweepers (Optuna, Ax, ...) optimise this value: it must be validation accuracy, never test accuracy.
    return record["accuracy"]["best_val"]["val_top1"]


def _record_failure(cfg: DictConfig, out_dir: Path, exc: Exception) -> str:
    """Write error.json for a failed run; returns its one-line description."""
    message = str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}".splitlines()[0]
    try:
        identity = identity_fields(cfg)
    except Exception:  # a config too broken to hash still gets its failure recorded
        identity = {"method": cfg.method.name, "dataset": cfg.dataset.name, "model": cfg.model.name,
                    "ratio": cfg.ratio, "seed": cfg.seed}
    write_error(out_dir, identity, message)
    return message


def _describe(identity: dict[str, Any]) -> str:
    return (f"{identity['method']} {identity['model']}/{identity['dataset']} ratio={identity['ratio']} "
            f"seed={identity['seed']}")
