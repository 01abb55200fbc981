"""One benchmark run, phase by phase: build -> (pretrain) -> prune -> measure -> train -> evaluate -> (latency) ->
record. `run` reads as those phases; each is one short function, and `assemble_record` writes the record."""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Callable, Iterator, Sized
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch
from omegaconf import DictConfig
from torch import nn
from torch.utils.data import DataLoader

from rgp_bench.config.choices import Budget, Regime, Sanity, Scope
from rgp_bench.core.console import bars_wanted, emit
from rgp_bench.core.errors import RunFailed
from rgp_bench.core.hardware import Hardware, resolve_hardware
from rgp_bench.core.seeding import Purpose, derive_seed, seed_everything
from rgp_bench.data import DataBundle, build_data
from rgp_bench.export.state import save_model_state
from rgp_bench.measure import CostReport, Timer, measure_costs, reductions
from rgp_bench.methods import MaskContext, MaskResult, Method, Need, get_method
from rgp_bench.methods.base import check_result
from rgp_bench.models import build_model
from rgp_bench.pruning import (
    PrunableLayer,
    apply_channel_gates,
    apply_masks,
    apply_param_masks,
    copy_model,
    current_masks,
    find_prunable_layers,
    mask_sparsity,
)
from rgp_bench.pruning.collapse import layer_collapse
from rgp_bench.record.io import write_results
from rgp_bench.record.schema import Accuracy, DenseCache, DenseScores, Latency, RunRecord
from rgp_bench.record.summary import format_summary
from rgp_bench.run.assemble import DensePhase, Measured, Outcome, Pruned, assemble_record, resolved_config
from rgp_bench.run.identity import run_id
from rgp_bench.run.plan import PhasePlan, plan_run
from rgp_bench.run.sanity import inverted, reinitialise, shuffled
from rgp_bench.run.topology import run_topology
from rgp_bench.run.tracking import Tracker
from rgp_bench.run.validate import validate_config
from rgp_bench.store.dense import dense_key, pretrained_dense
from rgp_bench.train import PhaseResult, evaluate, final_and_best_val, make_loader, train_phase

log = logging.getLogger(__name__)


@dataclass
class Bench:
    """What a run is built from: the data, the model, its prunable layers and the dense costs."""

    data: DataBundle
    model: nn.Module
    example: torch.Tensor
    layers: list[PrunableLayer]
    dense_cost: CostReport
    val_loader: DataLoader
    test_loader: DataLoader

    @property
    def prunable(self) -> set[str]:
        return {layer.name for layer in self.layers}


def identity_fields(cfg: DictConfig) -> dict[str, Any]:
    """The fields that name a run in records, reports and error files (a dense run's ratio is 0: it prunes nothing
    and serves every ratio)."""
    ratio = cfg.ratio if get_method(cfg.method.name).prunes else 0.0
    return {"run_id": run_id(cfg), "method": cfg.method.name, "dataset": cfg.dataset.name,
            "model": cfg.model.name, "ratio": ratio, "seed": cfg.seed, "regime": str(plan_run(cfg).regime),
            "sanity": str(cfg.sanity)}


def run(cfg: DictConfig, out_dir: Path, checkpoint: Path, method_state: Path | None = None,
        sweep_dir: str | None = None) -> RunRecord:
    """Run one experiment end to end and write its record and model; returns the record.

    `checkpoint` is the epoch checkpoint to resume from (if it exists) and to keep up to date; `method_state`
    is a directory private to the method (a search's checkpoints); `sweep_dir` is set in a multirun, so
    tracking can group the sweep's runs.
    """
    validate_config(cfg)
    timer = Timer()
    hw = resolve_hardware(cfg.hardware)
    seed_everything(cfg.seed, hw.deterministic)
    method = get_method(cfg.method.name)
    plan = plan_run(cfg)
    identity = identity_fields(cfg)

    with timer.phase("build"):
        bench = build_bench(cfg, hw)
    tracker = Tracker(cfg, out_dir, identity["run_id"], sweep_dir)
    try:
        dense = None
        if plan.pretrain is not None:
            with timer.phase("pretrain"):
                dense = pretrain_dense(cfg, bench, hw, plan.pretrain, tracker)
        with timer.phase("prune"):
            pruned = prune(cfg, method, bench, hw, plan.regime, state_dir=method_state, log=tracker.log)
        with timer.phase("measure"):
            measured = measure(bench)
        with timer.phase("topology"):
            topology = run_topology(bench.model, bench.layers, bench.example, pruned.result.info,
                                    str(cfg.method.get("group_sizes", "larger_first")))
        with timer.phase("train"):
            trained = train(cfg, bench, hw, plan.train, checkpoint, tracker)
        with timer.phase("evaluate"):
            accuracy = evaluate_run(bench, hw, trained, dense, cfg.train.limit_batches)
        latency = None
        if cfg.measure.latency.enabled:
            with timer.phase("latency"):
                latency = run_latency(cfg, bench, method, hw, measured, identity["run_id"])

        config = resolved_config(cfg)
        save_model_state(out_dir, bench.model, input_shape=tuple(bench.example.shape[1:]),
                         num_classes=bench.data.num_classes, config=config)
        outcome = Outcome(dense=dense, pruned=pruned, measured=measured, trained=trained, accuracy=accuracy,
                          latency=latency, topology=topology)
        record = assemble_record(identity, plan, method, bench.dense_cost, outcome, timings=timer.totals(),
                                 peak_memory_mib=timer.peaks(),
                                 config=config, hardware=hw, out_dir=out_dir)
        path = write_results(out_dir, record)
        tracker.log_record(record)
    finally:
        tracker.finish()
    emit(format_summary(record, path))
    return record


def build_bench(cfg: DictConfig, hw: Hardware) -> Bench:
    """Data, model, prunable layers, dense costs and evaluation loaders (deterministic under the seed)."""
    data = build_data(cfg.dataset, Path(cfg.cache_dir) / "data")
    model = build_model(cfg.model, data.in_channels, data.image_size, data.num_classes,
                        data.spatial_dims).to(hw.device)
    example = data.test[0][0].unsqueeze(0).to(hw.device)
    # Channel (MAC-budget) methods have their own layer set: the stem's outputs are prunable (pruning/layers.py).
    channels = get_method(cfg.method.name).budget == Budget.macs
    layers = find_prunable_layers(model, example, cfg.layers, channels=channels)
    dense_cost = measure_costs(model, example, {layer.name for layer in layers})
    return Bench(data=data, model=model, example=example, layers=layers, dense_cost=dense_cost,
                 val_loader=make_loader(data.val, cfg.train.eval_batch_size, hw, shuffle=False),
                 test_loader=make_loader(data.test, cfg.train.eval_batch_size, hw, shuffle=False))


def pretrain_dense(cfg: DictConfig, bench: Bench, hw: Hardware, phase: PhasePlan, tracker: Tracker) -> DensePhase:
    """Dense training for the finetune regime, shared across methods and ratios via the dense cache."""
    resumed = {"from": 0}  # epochs this run restored from the pretraining's checkpoint (none on a cache hit)

    def train_dense(checkpoint: Path) -> dict[str, Any]:
        result = train_phase(bench.model, bench.data.train, bench.val_loader, cfg.train, hw, phase="pretrain",
                             epochs=phase.epochs, lr=phase.lr, seed=cfg.seed, checkpoint=checkpoint,
                             on_epoch=tracker.log_epoch)
        resumed["from"] = result.resumed_from
        test = evaluate(bench.model, bench.test_loader, hw, cfg.train.limit_batches)
        return {"history": result.history, "test": test.as_dict()}

    key = dense_key(cfg, phase.epochs)
    meta, hit = pretrained_dense(bench.model, Path(cfg.cache_dir) / "dense", key, train_dense)
    if hit:
        log.info("dense model loaded from cache (key %s)", key)
        tracker.log_cached_dense(meta["history"], key)
    return DensePhase(epochs=phase.epochs, history=meta["history"], test=meta["test"], cache=DenseCache(key, hit),
                      resumed_from=resumed["from"])


def prune(cfg: DictConfig, method: Method, bench: Bench, hw: Hardware, regime: Regime, *, state_dir: Path | None,
          log: Callable[[dict[str, Any]], None]) -> Pruned:
    """The method's masks (after the `sanity` check, if any), frozen into the model, and whether they collapse it."""
    context = mask_context(method, cfg, bench, hw, state_dir=state_dir, log=log)
    result = method.compute_masks(cfg.method, bench.layers, cfg.ratio, context)
    check_result(result, bench.layers, method.name)
    result = apply_sanity_check(cfg, bench, result)
    if method.prunes:  # the dense reference trains the model as it is, without a mask
        apply_pruning(bench, result, regime)
    return Pruned(result, layer_collapse(bench.model, bench.layers, result.masks, bench.example))


def measure(bench: Bench) -> Measured:
    """The pruned model's costs, its prunable layers' sparsity, and what pruning removed."""
    cost = measure_costs(bench.model, bench.example, bench.prunable, dense_macs=bench.dense_cost.module_macs)
    return Measured(cost=cost, achieved=mask_sparsity(current_masks(bench.layers)),
                    reduction=reductions(bench.dense_cost, cost))


def train(cfg: DictConfig, bench: Bench, hw: Hardware, phase: PhasePlan, checkpoint: Path,
          tracker: Tracker) -> PhaseResult:
    """The pruned (or the dense reference's continued) training phase, resumed from `checkpoint` if it holds it."""
    trained = train_phase(bench.model, bench.data.train, bench.val_loader, cfg.train, hw, phase="train",
                          epochs=phase.epochs, lr=phase.lr, seed=cfg.seed, checkpoint=checkpoint,
                          on_epoch=tracker.log_epoch)
    if cfg.train.limit_batches is None:  # a smoke budget (limit_batches) is not expected to learn
        check_learned(trained, bench.data.num_classes, len(cast(Sized, bench.data.val)))  # every split is sized
    return trained


def evaluate_run(bench: Bench, hw: Hardware, trained: PhaseResult, dense: DensePhase | None,
                 limit_batches: int | None) -> Accuracy:
    """Test scores at the final and the best-validation epoch, and the dense model's before pruning (if any)."""
    accuracy = final_and_best_val(bench.model, trained, bench.test_loader, bench.val_loader, hw, limit_batches)
    accuracy.dense = DenseScores(**dense.test, epochs=dense.epochs) if dense is not None else None
    return accuracy


def mask_context(method: Method, cfg: DictConfig, bench: Bench, hw: Hardware, *, state_dir: Path | None = None,
                 log: Callable[[dict[str, Any]], None] | None = None) -> MaskContext:
    """The run inputs `method` declared it needs, and nothing more; never the test split."""
    supplied: dict[str, Any] = {"log": log} if log is not None else {}
    if Need.model in method.needs:
        supplied["model"] = copy_model(bench.model)
    if Need.train_batches in method.needs:
        supplied["train_batches"] = lambda count=None: _train_batches(cfg, bench, hw, count)
    if Need.evaluate in method.needs:
        validation = _ValidationBatches(bench.val_loader, cfg.train.limit_batches)
        supplied["evaluate"] = lambda model: evaluate(model, validation, hw).top1
    if Need.costs in method.needs:
        supplied["costs"] = lambda model: measure_costs(model, bench.example, bench.prunable,
                                                        dense_macs=bench.dense_cost.module_macs)
    return MaskContext(seed=derive_seed(cfg.seed, Purpose.masks), cache_dir=Path(cfg.cache_dir) / "graphs",
                       progress=bars_wanted(cfg.train.progress),
                       device=hw.device, example=bench.example, num_classes=bench.data.num_classes,
                       state_dir=state_dir, **supplied)


class _ValidationBatches:
    """The validation batches a method evaluates on, again and again (a search scores thousands of candidates):
    kept in memory after the first pass when they fit in CACHE_BYTES, else loaded anew each time."""

    CACHE_BYTES = 256 * 2**20

    def __init__(self, loader: DataLoader, limit_batches: int | None) -> None:
        self._loader, self._limit = loader, limit_batches
        self._cached: list[Any] | None = None
        self._too_big = False

    def __iter__(self) -> Iterator[Any]:
        if self._cached is not None:
            yield from self._cached
            return
        batches: list[Any] | None = None if self._too_big else []
        size = 0
        for batch in itertools.islice(self._loader, self._limit):
            if batches is not None:
                size += sum(t.element_size() * t.numel() for t in batch)
                if size <= self.CACHE_BYTES:
                    batches.append(batch)
                else:
                    batches = None
            yield batch
        self._too_big = batches is None
        self._cached = batches


def _train_batches(cfg: DictConfig, bench: Bench, hw: Hardware, count: int | None) -> Iterator[Any]:
    """`count` training batches (one pass over the training split when None), in a seeded order."""
    for epoch in itertools.count():
        seed = derive_seed(cfg.seed, Purpose.prune_batches, epoch)
        torch.manual_seed(seed)  # augmentation draws from the global generator
        loader = make_loader(bench.data.train, cfg.train.batch_size, hw, shuffle=True, seed=seed)
        for batch in loader:
            if count is not None and count <= 0:
                return
            yield tuple(t.to(hw.device) for t in batch)
            count = None if count is None else count - 1
        if count is None:
            return


def run_latency(cfg: DictConfig, bench: Bench, method: Method, hw: Hardware, measured: Measured,
                run_id: str) -> Latency:
    """The trained model's inference latency against its dense counterpart (see run/latency.py)."""
    from rgp_bench.run.latency import LatencyJob, measure_inference  # speed-up forms: only when timed

    job = LatencyJob(model=bench.model, example=bench.example, prunable=sorted(bench.prunable),
                     budget=str(method.budget), dense_cost=bench.dense_cost.total, pruned_cost=measured.cost.total,
                     run_id=run_id, cache_dir=Path(cfg.cache_dir) / "latency")
    return measure_inference(job, cfg.measure.latency, hw.device, hw.threads)


def check_learned(trained: PhaseResult, classes: int, val_size: int) -> None:
    """A run whose final validation accuracy is at chance after training failed: it is not a result.

    Chance means within two standard errors of a uniform guess (100/classes %) on this many validation samples.
    """
    if not trained.history:
        return
    chance = 1.0 / classes
    bound = 100.0 * (chance + 2.0 * math.sqrt(chance * (1.0 - chance) / max(val_size, 1)))
    final = trained.history[-1]
    if final["val_top1"] <= bound:
        raise RunFailed(f"did not learn: validation top-1 is {final['val_top1']:.2f} % after {final['epoch']} "
                        f"epochs, at chance for {classes} classes (<= {bound:.2f} %); check train.lr and the masks")


def apply_sanity_check(cfg: DictConfig, bench: Bench, result: MaskResult) -> MaskResult:
    """The `sanity` check on the method's masks: shuffled within each layer, inverted scores, or new weights."""
    if cfg.sanity == Sanity.shuffle:
        return shuffled(result, cfg.seed)
    if cfg.sanity == Sanity.invert:
        return inverted(result, cfg.ratio, Scope(str(cfg.method.get("scope", "global"))))
    if cfg.sanity == Sanity.reinit:
        reinitialise(bench.layers, cfg.seed)
    return result


def apply_pruning(bench: Bench, result: MaskResult, regime: Regime) -> None:
    """Freeze the method's masks into the model (and rescale the init first, where asked)."""
    if regime == Regime.scratch and result.init_scale:
        with torch.no_grad():
            for layer in bench.layers:
                if layer.name in result.init_scale:
                    layer.module.weight.mul_(result.init_scale[layer.name])
    apply_masks(bench.layers, result.masks)
    apply_param_masks(bench.model, result.param_masks)
    apply_channel_gates(bench.model, result.input_gates)
