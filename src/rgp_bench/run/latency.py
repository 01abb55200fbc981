"""A run's measured inference latency: measured once per model structure, within a time budget, and honestly.

Variants, timed interleaved per batch size (speed-ups are medians of per-round ratios over dense eager):
- ``dense``: the same architecture unpruned, eager;
- ``masked``: the pruned model as deployed without fast forms, its masks folded into the weights once;
- ``materialised``: a MAC-budget (channel) method's model with its removed channels physically removed; a
  block-structured mask's model (RGP and its graph ablations) with each block-masked layer replaced by the fastest
  measured fast form of `rgp_bench.speedup` where that is faster; none for unstructured masks;
- ``twin``: an equal-MAC dense twin, the same architecture with uniformly thinner channels, materialised;
- ``dense_compiled``: the dense model compiled by torch.compile, where `measure.latency.compiled` asks for it.

Latency depends on the architecture and the mask structure, not on trained values: the result is cached under a
structure key (architecture, input shape, per-layer mask structure, threads, protocol, machine), so the seeds of a
sweep measure once. The protocol scales to the model: batch sizes capped by input size, a time budget, a progress
line when it runs long, and extra rounds when the ratios are noisy (flagged when they stay noisy).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import platform
import socket
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig
from torch import nn

from rgp_bench.core.errors import UserError
from rgp_bench.core.fileio import write_json_atomic
from rgp_bench.measure.latency import (
    Comparison,
    allocator_setting,
    compare_variants,
    example_input,
    thread_count,
    time_interleaved,
)
from rgp_bench.record.costs import CostTotals
from rgp_bench.record.schema import (
    BatchLatency,
    Latency,
    LatencyProtocol,
    MaterialisedLayer,
    VariantLatency,
)
from rgp_bench.record.typed import RecordError, build
from rgp_bench.speedup import (
    UNCOMPILED_FORMS,
    NotBlockStructured,
    analyse_mask,
    compile_frozen,
    dense_copy,
    folded_copy,
    interleaved_timer,
    kernel_status,
    load_kernel,
    materialise,
)
from rgp_bench.speedup.kernel import extension_name

log = logging.getLogger(__name__)
DENSE, COMPILED, MASKED, MATERIALISED, TWIN = "dense", "dense_compiled", "masked", "materialised", "twin"
DEPLOYABLE = (MATERIALISED, MASKED)  # the pruned model's forms a user can ship
PROTOCOL_VERSION = 1  # bump when the protocol changes what a cached timing means
LAYER_ROUNDS = 2  # interleaved rounds when choosing a layer's form (their mean decides)
LAYER_SHARE = 0.5  # of the time budget, for choosing the layers' forms
PROGRESS_EVERY_S = 5.0
PEAK_SIZE = 1024  # the dense matrix product that sets the machine's MACs per second


@dataclass(frozen=True)
class LatencyJob:
    """What one run asks the latency phase to measure."""

    model: nn.Module  # the trained, masked model
    example: torch.Tensor
    prunable: Sequence[str]
    budget: str  # the method's budget basis: "weights", "macs" or "none"
    dense_cost: CostTotals
    pruned_cost: CostTotals
    run_id: str
    cache_dir: Path | None  # None: no cache


def fitted_batch_sizes(requested: Sequence[int], input_shape: Sequence[int], max_elements: int) -> list[int]:
    """The requested batch sizes, each capped at the largest power of two whose batch holds at most
    ``max_elements`` input values (at least 1); sorted, without repeats."""
    per_sample = max(1, math.prod(input_shape))
    cap = 2 ** int(math.log2(max(1, max_elements // per_sample)))
    return sorted({min(int(size), cap) for size in requested})


def mask_signature(module: nn.Module, budget: str) -> str:
    """What of a layer's mask decides its speed: kept channel counts for channel masks, the block structure for
    block masks, the kept fraction (2 decimals) of unstructured ones, "dense" unmasked.

    A mask whose output rows mostly read distinct input sets (groups of about one row) is unstructured: its exact
    pattern differs from seed to seed, its speed does not."""
    mask = getattr(module, "weight_mask", None)
    if mask is None:
        return "dense"
    mask = mask.bool()
    if budget == "macs":
        rows = int(mask.reshape(mask.shape[0], -1).any(1).sum())
        cols = int(mask.transpose(0, 1).reshape(mask.shape[1], -1).any(1).sum())
        return f"channels {rows}x{cols}"
    unstructured = f"unstructured, {float(mask.float().mean()):.2f} kept"
    try:
        structure = analyse_mask(mask)
    except NotBlockStructured:
        return unstructured
    return unstructured if 2 * len(structure.groups) > mask.shape[0] else structure.describe()


def structure_key(job: LatencyJob, settings: DictConfig, batch_sizes: Sequence[int], threads: int,
                  device: torch.device) -> str:
    """A hash of everything the timings depend on: architecture, input, mask structure, protocol and machine."""
    modules = dict(job.model.named_modules())
    facts = {
        "protocol": PROTOCOL_VERSION,
        "architecture": repr(job.model),  # prune masks and channel gates are hooks and buffers: not in the repr
        "input": list(job.example.shape[1:]),
        "dtype": str(job.example.dtype),
        "masks": {name: mask_signature(modules[name], job.budget) for name in sorted(job.prunable)},
        "budget": job.budget,
        # The twin is cut to the pruned model's MACs; a different count is a different twin.
        "effective_macs": job.pruned_cost.macs_effective if settings.twin else None,
        "settings": {key: settings[key] for key in ("rounds", "max_rounds", "noise", "min_run_time", "budget_s",
                                                    "limit_s", "twin", "compiled")},
        "batch_sizes": list(batch_sizes),
        "threads": threads,
        "device": str(device),
        "torch": torch.__version__,
        "kernel": extension_name() if kernel_status().available else "none",
        "machine": [socket.gethostname(), platform.processor() or platform.machine()],
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()[:16]


class _Progress:
    """A log line every few seconds while the layers' forms are chosen."""

    def __init__(self, start: float) -> None:
        self.start = self.last = start

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if now - self.last >= PROGRESS_EVERY_S and done < total:
            log.info("latency: choosing fast forms, %d/%d layers (%.0f s)", done, total, now - self.start)
            self.last = now


def materialise_blocks(model: nn.Module, batch: torch.Tensor, device: torch.device, threads: int,
                       build_kernel: bool, *, deadline: float, min_run_time: float,
                       progress: _Progress) -> tuple[nn.Module | None, list[MaterialisedLayer], str]:
    """Block-masked layers replaced where measured faster; (model, or None when every layer stays masked,
    the per-layer choices and reasons, the C++ kernel's status)."""
    if build_kernel:
        load_kernel(build=True)
    timer = interleaved_timer(rounds=LAYER_ROUNDS, min_run_time=min_run_time)
    fast, report = materialise(model, None, batch, device, threads, forms=UNCOMPILED_FORMS, end_to_end=False,
                               timer=timer, deadline=deadline, progress=progress)
    layers = [MaterialisedLayer(name=layer.name, form=layer.chosen, speedup=layer.speedup, reason=layer.reason)
              for layer in report.layers]
    swapped = any(layer.chosen != "masked" for layer in report.layers)
    return (fast if swapped else None), layers, kernel_status().detail


def equal_mac_twin(dense: nn.Module, example: torch.Tensor, prunable: Sequence[str],
                   reduction: float) -> tuple[nn.Module | None, str]:
    """The dense architecture with uniformly thinner channels removing ``reduction`` of the MACs, materialised;
    None (and why) where the channel groups cannot reach it."""
    from rgp_bench.pruning.channels import find_channel_groups, keep_for_mac_reduction, remove_channels
    from rgp_bench.pruning.channels.macs import ChannelMacs
    from rgp_bench.pruning.channels.scores import filter_scores

    if reduction <= 0:
        return None, "none: the model removes no MACs"
    groups = find_channel_groups(dense, example, list(prunable))
    try:
        budget = keep_for_mac_reduction(ChannelMacs.measure(dense, example, groups), filter_scores(dense, groups),
                                        reduction, "uniform")
    except UserError as exc:
        return None, f"none: {exc}"
    twin = remove_channels(dense, groups, budget.keep).eval().requires_grad_(False)
    return twin, f"uniform channels, {100 * budget.reduction:.1f} % of the MACs removed"


def peak_macs_per_second(threads: int, cache_dir: Path | None, device: torch.device) -> float:
    """MACs per second of a PEAK_SIZE³ dense matrix product on ``threads`` threads (cached per machine)."""
    key = f"peak-{PEAK_SIZE}-{device}-{threads}-{torch.__version__}-{socket.gethostname()}"
    path = None if cache_dir is None else cache_dir / f"{key}.json"
    if path is not None and path.exists():
        try:
            return float(json.loads(path.read_text())["macs_per_second"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    a = torch.randn(PEAK_SIZE, PEAK_SIZE, device=device)
    b = torch.randn(PEAK_SIZE, PEAK_SIZE, device=device)
    with thread_count(threads):
        seconds = min(time_interleaved({"mm": lambda: torch.mm(a, b)}, rounds=3, min_run_time=0.05)["mm"])
    peak = PEAK_SIZE**3 / seconds
    if path is not None:
        write_json_atomic(path, {"macs_per_second": peak, "threads": threads, "size": PEAK_SIZE})
    return peak


def _cached(path: Path | None) -> tuple[Latency, str] | None:
    """A cached measurement and the run that made it; None when absent or unreadable (it is then remeasured)."""
    if path is None or not path.exists():
        return None
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        return build(Latency, stored["latency"], "latency"), str(stored["measured_by"])
    except (OSError, ValueError, KeyError, TypeError, RecordError) as exc:
        log.info("latency: ignoring an unreadable cache entry %s (%s)", path.name, exc)
        return None


def measure_inference(job: LatencyJob, settings: DictConfig, device: torch.device, run_threads: int) -> Latency:
    """Time the run's model against its dense counterpart (see the module docstring); cached by structure."""
    threads = int(settings.threads or run_threads)
    batch_sizes = fitted_batch_sizes(settings.batch_sizes, job.example.shape[1:], settings.max_batch_elements)
    if batch_sizes != sorted(set(settings.batch_sizes)):
        log.info("latency: batch sizes %s fitted to %s for inputs of shape %s", list(settings.batch_sizes),
                 batch_sizes, tuple(job.example.shape[1:]))
    if settings.build_kernel and job.budget == "weights":
        load_kernel(build=True)  # before the key: the key names whether the kernel is there
    key = structure_key(job, settings, batch_sizes, threads, device)
    path = None if (job.cache_dir is None or not settings.cache) else job.cache_dir / f"{key}.json"
    if (hit := _cached(path)) is not None:
        latency, measured_by = hit
        assert latency.protocol is not None
        latency.protocol.reused_from = measured_by
        latency.protocol.seconds = 0.0
        log.info("latency: reused the measurement of run %s (same structure %s)", measured_by, key)
        return latency
    latency = _measure(job, settings, device, threads, batch_sizes, key)
    if path is not None:
        write_json_atomic(path, {"measured_by": job.run_id, "latency": asdict(latency)})
    return latency


def _variants(job: LatencyJob, settings: DictConfig, device: torch.device, threads: int, largest: torch.Tensor,
              start: float) -> tuple[dict[str, nn.Module], list[MaterialisedLayer], str | None, str, str | None]:
    """The models to time: (variants, the block layers' choices, how the materialised one was made, the kernel's
    status, the twin's description)."""
    masked = job.model.eval()
    dense = dense_copy(masked).eval()
    variants: dict[str, nn.Module] = {DENSE: dense, MASKED: folded_copy(masked).eval()}
    layers: list[MaterialisedLayer] = []
    kind, kernel = None, "not used"
    if job.budget == "macs":
        from rgp_bench.pruning.channels import materialise_channels  # torch-pruning: only for channel methods

        variants[MATERIALISED], kind = materialise_channels(masked, job.example, job.prunable), "channels removed"
    elif job.budget == "weights":
        layer_count = sum(1 for m in masked.modules() if hasattr(m, "weight_mask"))
        calls = max(1, layer_count) * LAYER_ROUNDS * 4  # masked + about three candidate forms per layer
        min_run_time = min(float(settings.min_run_time), LAYER_SHARE * settings.budget_s / calls)
        deadline = start + max(LAYER_SHARE * settings.budget_s, 0.6 * settings.limit_s)
        fast, layers, kernel = materialise_blocks(masked, largest, device, threads, settings.build_kernel,
                                                  deadline=deadline, min_run_time=min_run_time,
                                                  progress=_Progress(start))
        if fast is not None:
            variants[MATERIALISED], kind = fast, "block-sparse forms where faster"
    twin_note = None
    if settings.twin and job.budget != "none" and time.perf_counter() > start + settings.limit_s:
        twin_note = f"none: the time limit ({settings.limit_s:g} s) was spent before the twin was built"
    elif settings.twin and job.budget != "none":
        reduction = 1 - job.pruned_cost.macs_effective / job.dense_cost.macs
        twin, twin_note = equal_mac_twin(dense, job.example, job.prunable, reduction)
        if twin is not None:
            variants[TWIN] = twin
    if settings.compiled:
        log.info("latency: compiling the dense model (torch.compile; measure.latency.compiled=false skips it)")
        variants[COMPILED] = compile_frozen(dense)
    return variants, layers, kind, kernel, twin_note


def _check_outputs(variants: dict[str, nn.Module], masked: nn.Module, batch: torch.Tensor) -> None:
    """The deployable forms compute what the masked model computes."""
    with torch.no_grad():
        reference = masked(batch)
        for name in DEPLOYABLE:
            if name in variants:
                error = float((variants[name](batch) - reference).abs().max() / reference.abs().max().clamp_min(1e-12))
                if error > 1e-4:
                    raise RuntimeError(f"the {name} model differs from the masked one (relative {error:.1e})")


def _fastest_deployable(comparison: Comparison) -> str:
    """The deployable form ("materialised" where there is one, "masked") with the larger speed-up over dense."""
    return max((name for name in DEPLOYABLE if name in comparison.variants),
               key=lambda name: comparison.variants[name].speedup)


def _measure(job: LatencyJob, settings: DictConfig, device: torch.device, threads: int, batch_sizes: list[int],
             key: str) -> Latency:
    start = time.perf_counter()
    largest = example_input(tuple(job.example.shape[1:]), max(batch_sizes), job.example.dtype, device)
    with thread_count(threads):
        variants, layers, kind, kernel, twin_note = _variants(job, settings, device, threads, largest, start)
    _check_outputs(variants, job.model.eval(), largest[:2])
    log.info("latency: timing %s at batch %s on %d thread(s)", ", ".join(variants),
             ", ".join(map(str, batch_sizes)), threads)
    soft = max(start + settings.budget_s, time.perf_counter())
    timings = compare_variants(variants, tuple(job.example.shape[1:]), device=device, threads=threads,
                               batch_sizes=tuple(batch_sizes), baseline=DENSE, rounds=settings.rounds,
                               min_run_time=settings.min_run_time, max_rounds=settings.max_rounds,
                               noise=settings.noise, deadline=min(soft, start + settings.limit_s),
                               hard_deadline=start + settings.limit_s)
    batches = []
    for size, comparison in timings.items():
        spread = comparison.variants[_fastest_deployable(comparison)].spread
        batches.append(BatchLatency(
            batch_size=size, spread=spread, noisy=spread > settings.noise,
            variants={name: VariantLatency(median=v.median, iqr=v.iqr, measurements=v.measurements, speedup=v.speedup)
                      for name, v in comparison.variants.items()}))
    last = timings[batch_sizes[-1]]
    headline = _fastest_deployable(last)
    speedup = last.variants[headline].speedup
    mac_limit = job.dense_cost.macs / max(1, job.pruned_cost.macs_effective)
    peak = peak_macs_per_second(threads, job.cache_dir, device)
    efficiency = job.pruned_cost.macs_effective * batch_sizes[-1] / last.variants[headline].median / peak
    seconds = time.perf_counter() - start
    noisy = any(batch.noisy for batch in batches)
    log.info("latency: %.2fx over dense at batch %d (%s; MAC limit %.1fx) in %.1f s%s", speedup, batch_sizes[-1],
             headline, mac_limit, seconds, " — noisy: the rounds disagree" if noisy else "")
    return Latency(
        device=str(device), threads=threads, torch_version=torch.__version__, allocator=allocator_setting(),
        materialised=kind, kernel=kernel, speedup=speedup, speedup_batch=batch_sizes[-1], batches=batches,
        layers=layers, headline=headline, masked_form="folded", mac_limit=mac_limit,
        fraction_of_limit=speedup / mac_limit,
        speedup_vs_compiled=last.speedups(COMPILED)[headline] if COMPILED in variants else None,
        speedup_vs_twin=last.speedups(TWIN)[headline] if TWIN in variants else None, twin=twin_note,
        efficiency=efficiency, peak_macs_per_second=peak, noisy=noisy,
        protocol=LatencyProtocol(batch_sizes=batch_sizes, rounds=max(b.variants[DENSE].measurements for b in batches),
                                 seconds=seconds, budget_s=float(settings.budget_s), structure_key=key))
