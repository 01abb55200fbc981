"""Inference latency protocol: eval mode, ``torch.inference_mode``, a pinned thread count, repeated until stable.

:func:`measure_latency` goes through ``torch.utils.benchmark`` (``Timer.adaptive_autorange``), which warms up, picks
the number of calls per measurement and synchronises CUDA; :func:`time_interleaved` times blocks of calls with
``time.perf_counter`` (block size calibrated once per callable, CUDA synchronised). Two entry points:

- :func:`measure_latency`: one model, per batch size: median, interquartile range, number of measurements.
- :func:`compare_variants`: several models (dense, masked, materialised, ...) timed *interleaved* in one run, with
  speed-ups over a baseline taken as the median of per-round ratios, so drift from other jobs on a shared machine
  affects every variant alike.

CPU pitfalls (measured in ``rgp-speedup.md``):

- glibc's allocator maps every buffer above its mmap threshold (at most 32 MB) afresh on every call, which can make
  one operator 10x slower. Benchmarks should run with :data:`ALLOCATOR_ENV` in the environment of a fresh process
  (glibc reads it at start-up; :func:`benchmark_env` gives that environment) or call :func:`configure_allocator`
  (the same settings through ``mallopt``) before allocating. :func:`allocator_setting` says which is in force;
  every result records it.
- With 2 OpenMP threads next to another busy process, spin-waiting makes steps 3-40x slower: pin the thread count
  (every function here takes ``threads`` and restores the previous count afterwards) and compare ratios only
  within one run.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

# glibc tunables: never mmap (reuse heap memory instead) and never give the heap back to the OS.
ALLOCATOR_ENV: dict[str, str] = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(64 * 2**30)}
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4  # mallopt parameter numbers from glibc's malloc.h
_configured_in_process = False
MIN_ROUNDS = 3  # the fewest interleaved rounds a median and a spread are taken from
BLOCKS_PER_MEASUREMENT = 5  # a measurement's blocks of calls: the median block is its time


def benchmark_env(threads: int, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for a benchmark subprocess: the allocator settings plus OpenMP/MKL pinned to ``threads``."""
    env = dict(os.environ if base is None else base)
    env.update(ALLOCATOR_ENV)
    env.update({"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)})
    return env


def configure_allocator() -> bool:
    """Apply :data:`ALLOCATOR_ENV` in this process through ``mallopt``; False where the C library is not glibc."""
    global _configured_in_process
    if platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL("libc.so.6")
    ok = libc.mallopt(_M_MMAP_MAX, 0) == 1 and libc.mallopt(_M_TRIM_THRESHOLD, 64 * 2**30) == 1
    _configured_in_process = _configured_in_process or ok
    return ok


def allocator_setting() -> str:
    """Which allocator settings this process runs with, for the record."""
    libc = platform.libc_ver()[0] or "unknown libc"
    if libc != "glibc":
        return f"{libc} (glibc mmap pitfall does not apply)"
    from_env = all(os.environ.get(key) == value for key, value in ALLOCATOR_ENV.items())
    settings = " ".join(f"{key}={value}" for key, value in ALLOCATOR_ENV.items())
    if from_env:
        return f"glibc, {settings} (environment)"
    if _configured_in_process:
        return f"glibc, {settings} (mallopt in-process)"
    return "glibc defaults (buffers above the mmap threshold are mapped afresh on every call)"


@contextlib.contextmanager
def thread_count(threads: int | None) -> Iterator[None]:
    """Run with ``torch.set_num_threads(threads)`` and restore the previous count afterwards (None: unchanged)."""
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextlib.contextmanager
def evaluation(model: nn.Module) -> Iterator[None]:
    """Eval mode and ``torch.inference_mode`` for the duration; the training flag is restored afterwards."""
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            yield
    finally:
        model.train(was_training)


@dataclass(frozen=True)
class LatencyStats:
    """Latency of one model at one batch size (seconds per forward pass)."""

    batch_size: int
    median: float
    iqr: float
    measurements: int
    device: str
    threads: int
    torch_version: str
    allocator: str

    def to_dict(self) -> dict:
        return asdict(self)


def example_input(input_shape: Sequence[int], batch_size: int, dtype: torch.dtype = torch.float32,
                  device: str | torch.device = "cpu", seed: int = 0) -> torch.Tensor:
    """A reproducible random batch of shape (batch_size, *input_shape)."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn((batch_size, *input_shape), generator=generator, dtype=torch.float32)
    return x.to(device=device, dtype=dtype)


def _timer(fn: Callable[[], object]) -> Any:
    """A torch.utils.benchmark Timer for `fn` (imported here: it pulls in torch's C++ extension tooling, which
    warns about a missing CUDA runtime on CPU-only machines)."""
    import logging

    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    from torch.utils import benchmark

    return benchmark.Timer(stmt="fn()", globals={"fn": fn}, num_threads=torch.get_num_threads())


def measure_latency(
    model: nn.Module,
    input_shape: Sequence[int],
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
    threads: int = 1,
    batch_sizes: Sequence[int] = (1, 64),
    *,
    threshold: float = 0.1,
    min_run_time: float = 0.2,
    max_run_time: float = 10.0,
) -> dict[int, LatencyStats]:
    """Latency of ``model`` per batch size, repeated until IQR / median < ``threshold`` (or ``max_run_time``).

    ``input_shape`` excludes the batch dimension. The model is moved to ``device``; eval mode and the thread
    count are restored afterwards.
    """
    device = torch.device(device)
    model = model.to(device)
    results: dict[int, LatencyStats] = {}
    with thread_count(threads), evaluation(model):
        for batch_size in batch_sizes:
            x = example_input(input_shape, batch_size, dtype, device)
            model(x)  # first call outside the timer: lazy initialisation, compilation
            # mypy cannot infer a lambda whose parameter default binds the loop variable.
            m = _timer(lambda x=x: model(x)).adaptive_autorange(  # type: ignore[misc]
                threshold=threshold, min_run_time=min_run_time, max_run_time=max_run_time)
            results[batch_size] = LatencyStats(
                batch_size=batch_size, median=m.median, iqr=m.iqr, measurements=len(m.times), device=str(device),
                threads=torch.get_num_threads(), torch_version=torch.__version__, allocator=allocator_setting())
    return results


def time_interleaved(calls: Mapping[str, Callable[[], object]], rounds: int = 5, min_run_time: float = 0.05, *,
                     max_rounds: int | None = None, settled: Callable[[dict[str, list[float]]], bool] | None = None,
                     deadline: float | None = None, hard_deadline: float | None = None) -> dict[str, list[float]]:
    """Seconds per call of each callable: per round, one measurement of each (order rotated by round).

    A measurement runs blocks of calls for at least ``min_run_time`` and keeps the median block's seconds per
    call; each callable's block size is calibrated once, from its first (warm-up) call, to about a fifth of
    ``min_run_time`` (torch.utils.benchmark's blocked_autorange recalibrates on every measurement, which doubled
    the protocol's time). A callable slower than ``min_run_time`` is timed one call at a time.

    After ``rounds`` rounds, rounds are added while ``settled(times)`` is false, up to ``max_rounds``, and none is
    started after ``deadline`` (a ``time.perf_counter()`` value). After ``hard_deadline`` no round is started
    once MIN_ROUNDS are done, even short of ``rounds``. Returns the per-round times of each callable.
    """
    names = list(calls)
    block = {name: max(1, int(min_run_time / BLOCKS_PER_MEASUREMENT / max(_one_call(calls[name]), 1e-9)))
             for name in names}  # from the warm-up call: a cold call is slower, so blocks err on the short side
    times: dict[str, list[float]] = {name: [] for name in names}
    limit = max(rounds, max_rounds or rounds)
    for r in range(limit):
        now = time.perf_counter()
        if r >= MIN_ROUNDS and hard_deadline is not None and now > hard_deadline:
            break
        if r >= rounds and (settled is None or settled(times) or (deadline is not None and now > deadline)):
            break
        for name in names[r % len(names):] + names[: r % len(names)]:
            times[name].append(_measure(calls[name], block[name], min_run_time))
    return times


def _measure(fn: Callable[[], object], number: int, min_run_time: float) -> float:
    """Median seconds per call over blocks of ``number`` calls, run for at least ``min_run_time`` in all."""
    synchronise = _synchroniser()
    blocks: list[float] = []
    start = time.perf_counter()
    while True:
        if synchronise is not None:
            synchronise()
        begin = time.perf_counter()
        for _ in range(number):
            fn()
        if synchronise is not None:
            synchronise()
        end = time.perf_counter()
        blocks.append((end - begin) / number)
        if end - start >= min_run_time:
            return statistics.median(blocks)


def _synchroniser() -> Callable[[], None] | None:
    """torch.cuda.synchronize where CUDA is in use, else None."""
    return torch.cuda.synchronize if torch.cuda.is_available() and torch.cuda.is_initialized() else None


def _one_call(fn: Callable[[], object]) -> float:
    """Seconds of one call (CUDA synchronised before and after where CUDA is in use)."""
    return _measure(fn, 1, 0.0)


@dataclass(frozen=True)
class VariantStats:
    """One variant in an interleaved comparison; ``speedup`` is over the baseline (median of per-round ratios)."""

    name: str
    median: float
    iqr: float
    measurements: int
    speedup: float
    # Interquartile range of the per-round speed-ups over their median: how far one round's ratio is from another.
    spread: float = 0.0


@dataclass(frozen=True)
class Comparison:
    """Interleaved timings of several variants at one batch size."""

    batch_size: int
    baseline: str
    variants: dict[str, VariantStats]
    device: str
    threads: int
    torch_version: str
    allocator: str
    times: dict[str, list[float]]  # per-round seconds of each variant

    def speedups(self, baseline: str) -> dict[str, float]:
        """Speed-up of every variant over another baseline (median of per-round ratios)."""
        return {name: stats.speedup for name, stats in summarise_rounds(self.times, baseline).items()}

    def to_dict(self) -> dict:
        return asdict(self)


def summarise_rounds(times: Mapping[str, Sequence[float]], baseline: str) -> dict[str, VariantStats]:
    """Median, IQR and per-round speed-up over ``baseline`` of each variant's per-round times."""
    base = times[baseline]
    out = {}
    for name, values in times.items():
        quartiles = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
        ratios = [b / v for b, v in zip(base, values, strict=True)]
        out[name] = VariantStats(name, statistics.median(values), quartiles[2] - quartiles[0], len(values),
                                 statistics.median(ratios), relative_spread(ratios))
    return out


def relative_spread(values: Sequence[float]) -> float:
    """Interquartile range over the median (0 for fewer than two values)."""
    if len(values) < 2:
        return 0.0
    quartiles = statistics.quantiles(values, n=4)
    middle = statistics.median(values)
    return (quartiles[2] - quartiles[0]) / middle if middle > 0 else float("inf")


def ratios_settled(baseline: str, noise: float) -> Callable[[dict[str, list[float]]], bool]:
    """A ``settled`` test for :func:`time_interleaved`: every variant's per-round ratio to ``baseline`` has a
    relative spread of at most ``noise``."""
    def settled(times: dict[str, list[float]]) -> bool:
        base = times[baseline]
        return all(relative_spread([b / v for b, v in zip(base, values, strict=True)]) <= noise
                   for name, values in times.items() if name != baseline)

    return settled


def compare_variants(
    variants: Mapping[str, nn.Module],
    input_shape: Sequence[int],
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
    threads: int = 1,
    batch_sizes: Sequence[int] = (1, 64),
    *,
    baseline: str | None = None,
    rounds: int = 7,
    min_run_time: float = 0.1,
    max_rounds: int | None = None,
    noise: float | None = None,
    deadline: float | None = None,
    hard_deadline: float | None = None,
) -> dict[int, Comparison]:
    """Time every variant interleaved in one run, per batch size; speed-ups are over ``baseline`` (default: first).

    With ``noise``, rounds beyond ``rounds`` (up to ``max_rounds``, none started after ``deadline``) are taken
    until every variant's per-round ratio to the baseline has a relative spread of at most ``noise``; after
    ``hard_deadline`` a batch size gets only MIN_ROUNDS rounds.
    All variants get the same input. Each is in eval mode under ``torch.inference_mode`` while timed; training
    flags and the thread count are restored afterwards.
    """
    if not variants:
        raise ValueError("compare_variants needs at least one variant")
    baseline = baseline or next(iter(variants))
    if baseline not in variants:
        raise ValueError(f"baseline {baseline!r} is not one of the variants {list(variants)}")
    device = torch.device(device)
    results: dict[int, Comparison] = {}
    with thread_count(threads), contextlib.ExitStack() as stack:
        for model in variants.values():
            stack.enter_context(evaluation(model.to(device)))
        for batch_size in batch_sizes:
            x = example_input(input_shape, batch_size, dtype, device)
            calls = {name: (lambda m=model, x=x: m(x)) for name, model in variants.items()}
            settled = ratios_settled(baseline, noise) if noise is not None else None
            times = time_interleaved(calls, rounds=rounds, min_run_time=min_run_time, max_rounds=max_rounds,
                                     settled=settled, deadline=deadline, hard_deadline=hard_deadline)
            results[batch_size] = Comparison(batch_size, baseline, summarise_rounds(times, baseline), str(device),
                                             torch.get_num_threads(), torch.__version__, allocator_setting(), times)
    return results
