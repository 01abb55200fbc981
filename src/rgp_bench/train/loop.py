"""The training loop: epochs of SGD/Adam with per-epoch validation, best-val tracking and checkpoints.

Every epoch reseeds its shuffling and augmentation from (seed, phase, epoch) (rgp_bench.core.seeding), so a run
resumed from an epoch checkpoint replays exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from rgp_bench.config.schema import TrainCfg
from rgp_bench.core.console import bars_wanted
from rgp_bench.core.errors import RunFailed
from rgp_bench.core.hardware import Hardware
from rgp_bench.core.seeding import Purpose, derive_seed
from rgp_bench.train.checkpoint import load_checkpoint, save_checkpoint
from rgp_bench.train.evaluate import Scores, evaluate
from rgp_bench.train.optim import build_optimizer, build_schedule

log = logging.getLogger(__name__)
_CHECKPOINT_KEYS = ("phase", "model", "optimizer", "schedule", "scaler", "history", "best_epoch", "best_val_top1",
                    "best_val_loss", "best_state")


@dataclass
class PhaseResult:
    """What one training phase produced."""

    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    best_val_top1: float = float("-inf")
    best_val_loss: float = float("inf")
    best_state: dict[str, torch.Tensor] | None = None
    resumed_from: int = 0


def make_loader(dataset: Dataset, batch_size: int, hw: Hardware, *, shuffle: bool, seed: int = 0) -> DataLoader:
    """A DataLoader whose shuffle order is a pure function of `seed`."""
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator,
                      num_workers=hw.workers, pin_memory=hw.device.type == "cuda",
                      persistent_workers=False, drop_last=False)


def _progress_disabled(cfg: TrainCfg) -> bool:
    # Bars only on a terminal this process has to itself (rgp_bench.core.console); else plain epoch lines.
    return not bars_wanted(cfg.progress)


def train_phase(model: nn.Module, train_set: Dataset, val_loader: DataLoader, cfg: TrainCfg, hw: Hardware, *,
                phase: str, epochs: int, lr: float, seed: int,
                checkpoint: Path | None = None,
                on_epoch: Callable[[dict[str, Any]], None] | None = None) -> PhaseResult:
    """Train for `epochs`, validating after each; resume from `checkpoint` when it holds this phase.

    A checkpoint that does not fit (e.g. written by another code version) is ignored with a warning.
    """
    optimizer = build_optimizer(model, cfg, lr)
    schedule = build_schedule(optimizer, cfg, epochs)
    scaler = torch.amp.GradScaler(hw.device.type, enabled=hw.precision == "fp16")
    criterion = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    saved = load_checkpoint(checkpoint) if checkpoint else None
    result = _resume(saved, phase, model, optimizer, schedule, scaler) if saved is not None else PhaseResult()
    if result.resumed_from:
        log.info("%s: resumed from epoch %d of %d (checkpoint %s)", phase, result.resumed_from, epochs, checkpoint)
    pace = EpochPace(hw.threads)

    disable = _progress_disabled(cfg)
    epoch_bar = tqdm(range(result.resumed_from + 1, epochs + 1), desc=phase, unit="epoch",
                     initial=result.resumed_from, total=epochs, disable=disable, leave=False)
    for epoch in epoch_bar:
        start = time.perf_counter()
        epoch_seed = derive_seed(seed, Purpose.for_phase(phase), epoch)
        torch.manual_seed(epoch_seed)  # augmentation and dropout draw from the global generator
        loader = make_loader(train_set, cfg.batch_size, hw, shuffle=True, seed=epoch_seed)
        batches = tqdm(islice(loader, cfg.limit_batches), desc=f"epoch {epoch}", leave=False, disable=disable,
                       total=min(len(loader), cfg.limit_batches or len(loader)))
        train_scores = _train_epoch(model, optimizer, scaler, criterion, hw, batches)
        lr_used = optimizer.param_groups[0]["lr"]
        schedule.step()
        val = evaluate(model, val_loader, hw, cfg.limit_batches)
        seconds = time.perf_counter() - start
        _check_finite(phase, epoch, lr_used, train_scores.loss, val.loss)
        result.history.append({
            "phase": phase, "epoch": epoch, "lr": lr_used, "train_loss": train_scores.loss,
            "train_top1": train_scores.top1, "val_loss": val.loss, "val_top1": val.top1, "seconds": seconds,
        })
        # Always in the run's log file; on the console above the bar (job_console routes it through tqdm.write),
        # or, without a bar (no terminal, a sweep's worker process), as the epoch's progress.
        log.info("%s epoch %d/%d: loss %.4f, train %.2f %%, val %.2f %%, %.2f s", phase, epoch, epochs,
                 train_scores.loss, train_scores.top1, val.top1, seconds)
        pace.record(phase, epoch, seconds)
        if on_epoch is not None:
            on_epoch(result.history[-1])
        # Best = highest validation accuracy; ties (common on small validation sets) go to the lower loss.
        if (val.top1, -val.loss) > (result.best_val_top1, -result.best_val_loss):
            result.best_epoch, result.best_val_top1, result.best_val_loss = epoch, val.top1, val.loss
            result.best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        epoch_bar.set_postfix(loss=f"{train_scores.loss:.3f}", train=f"{train_scores.top1:.1f}",
                              val=f"{val.top1:.1f}")
        if checkpoint is not None:
            save_checkpoint(checkpoint, {
                "phase": phase, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "schedule": schedule.state_dict(), "scaler": scaler.state_dict(), "history": result.history,
                "best_epoch": result.best_epoch, "best_val_top1": result.best_val_top1,
                "best_val_loss": result.best_val_loss,
                "best_state": result.best_state,
            })
    epoch_bar.close()
    return result


def _check_finite(phase: str, epoch: int, lr: float, train_loss: float, val_loss: float) -> None:
    """A loss that became NaN or infinite ends the run as failed (never as a complete record)."""
    for what, value in (("training", train_loss), ("validation", val_loss)):
        if not math.isfinite(value):
            raise RunFailed(f"diverged: the {what} loss became {value} in {phase} epoch {epoch} (learning rate "
                            f"{lr:g}); lower train.lr, or check the data")


class EpochPace:
    """Warns once when epochs run much slower than the first ones (e.g. OpenMP threads spin-waiting on a CPU
    that another process is using), naming `hardware.threads`."""

    SLOWDOWN = 4.0

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self.reference: float | None = None
        self.warned = False

    def record(self, phase: str, epoch: int, seconds: float) -> None:
        if self.reference is None:
            self.reference = seconds
            return
        self.reference = min(self.reference, seconds)  # the first epochs include warm-up
        if not self.warned and seconds > self.SLOWDOWN * max(self.reference, 1e-3):
            self.warned = True
            log.warning("%s epoch %d took %.2f s, %.1fx the fastest epoch so far: another process may be using the "
                        "CPU while %d threads spin-wait; set hardware.threads=1 (or fewer than the free cores)",
                        phase, epoch, seconds, seconds / self.reference, self.threads)


def _resume(saved: object, phase: str, model: nn.Module, optimizer: torch.optim.Optimizer,
            schedule: Any, scaler: torch.amp.GradScaler) -> PhaseResult:
    """Restore a phase from its checkpoint; a foreign or stale checkpoint means starting the phase over."""
    if not isinstance(saved, dict) or not set(_CHECKPOINT_KEYS) <= set(saved):
        log.warning("checkpoint does not hold a training phase (foreign or incomplete); starting the %s phase over",
                    phase)
        return PhaseResult()
    if saved.get("phase") != phase:
        return PhaseResult()
    initial = {k: v.detach().clone() for k, v in model.state_dict().items()}
    try:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        schedule.load_state_dict(saved["schedule"])
        scaler.load_state_dict(saved["scaler"])
        result = PhaseResult(history=list(saved["history"]), best_epoch=saved["best_epoch"],
                             best_val_top1=saved["best_val_top1"], best_val_loss=saved["best_val_loss"],
                             best_state=saved["best_state"], resumed_from=len(saved["history"]))
    except (KeyError, RuntimeError, ValueError, TypeError, AttributeError, IndexError) as exc:
        log.warning("checkpoint does not fit this run (%s); starting the %s phase over", exc, phase)
        model.load_state_dict(initial)
        return PhaseResult()
    return result


def _train_epoch(model: nn.Module, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
                 criterion: nn.Module, hw: Hardware, batches: Any) -> Scores:
    model.train()
    loss_sum = 0.0
    correct = count = 0
    for inputs, targets in batches:
        inputs, targets = inputs.to(hw.device, non_blocking=True), targets.to(hw.device, non_blocking=True)
        optimizer.zero_grad(set_to_none=True)
        with hw.autocast():
            logits = model(inputs)
            loss = criterion(logits.float(), targets)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        loss_sum += loss.item() * targets.numel()
        correct += int((logits.argmax(dim=1) == targets).sum())
        count += targets.numel()
        batches.set_postfix(loss=f"{loss.item():.3f}", acc=f"{100.0 * correct / count:.1f}")
    return Scores(loss_sum / max(count, 1), 100.0 * correct / max(count, 1), float("nan"))
