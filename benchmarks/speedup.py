"""Recipe for :mod:`rgp_bench.speedup`: its section of ``BENCHMARKS.md``.

    python -m benchmarks.speedup [--output FILE] [--quick] [--cache-dir DIR]

Runs itself in a subprocess whose environment pins OpenMP/MKL to one thread and sets glibc's allocator tunables
(:func:`rgp_bench.measure.latency.benchmark_env`), then: `make run`'s model (the MNIST-1D MLP 40 -> 4 x 512 -> 10,
RGP k/n = 6/64) at batch 64 and 1; and on CIFAR shapes ResNet-18 and ResNet-56, batch 1 and 64, dense vs RGP
materialised (ResNet-18: k/n = 8 and 16 of 64, plus 4 of 64 at batch 64 for the wide-layer target; ResNet-56: 2 and
4 of 16, since its 16-channel layers cap the nodes at 16), with per-layer tables for the MLP and ResNet-18.
:func:`collect` measures (in the benchmark environment), :func:`~benchmarks.speedup_report.render` formats.

Extra rows: :func:`compare_models` times any (dense, fast) pair the same way; :func:`channel_pruning_pairs` gives the
hook where physically channel-pruned models are to be added.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from benchmarks.markdown import Provenance, parser, publish
from benchmarks.speedup_report import SpeedupRow, SpeedupRows, render
from rgp_bench.graphs import block_mask, build_graph
from rgp_bench.measure.latency import allocator_setting, benchmark_env, example_input, thread_count
from rgp_bench.measure.macs import mac_reduction, masked_layer_macs
from rgp_bench.models import build_model
from rgp_bench.pruning import find_prunable_layers
from rgp_bench.speedup.end_to_end import (
    DENSE,
    DENSE_COMPILED,
    MASKED_MODEL,
    MATERIALISED,
    MATERIALISED_COMPILED,
    compile_frozen,
    measure_end_to_end,
)
from rgp_bench.speedup.kernel import kernel_status, load_kernel, simd_info
from rgp_bench.speedup.materialise import interleaved_timer, masked_copy, materialise

SECTION = "speedup"
THREADS = 1
# (model, nodes, batch size, degrees), in run order. ResNet-56's 16-channel layers cap n at 16.
RUNS: tuple[tuple[str, int, int, tuple[int, ...]], ...] = (
    ("mlp", 64, 64, (6,)),
    ("mlp", 64, 1, (6,)),
    ("resnet18", 64, 64, (8, 4, 16)),
    ("resnet18", 64, 1, (8, 16)),
    ("resnet56", 16, 64, (2, 4)),
    ("resnet56", 16, 1, (2, 4)),
)
QUICK_RUNS: tuple[tuple[str, int, int, tuple[int, ...]], ...] = (
    ("mlp", 64, 64, (6,)), ("mlp", 64, 1, (6,)), ("resnet18", 64, 64, (8,)))
# Input (channels, size, spatial dims) per model: the MLP is `make run`'s (MNIST-1D signals of length 40), the
# ResNets take CIFAR images.
INPUTS = {"mlp": (1, 40, 1), "resnet18": (3, 32, 2), "resnet56": (3, 32, 2)}
BASE_FORMS = ("grouped", "bmm", "direct", "direct_shift", "gemm")
# Tap-sum compiles every layer with Inductor (5-15 s each here), so it is a candidate only in the probe's setting.
TAPSUM_RUNS = {("resnet18", 64, 8)}
# The materialised model compiled as a whole (~20 s per compile here).
COMPILED_FAST_RUNS = {("resnet18", 64), ("mlp", 64), ("mlp", 1)}
KEY_RUNS = {("resnet18", 64, 8), ("mlp", 64, 6), ("mlp", 1, 6)}  # the targets' settings get more timing rounds
# Per-layer blocked_autorange budget; ResNet-56 has 54 small masked layers, so it gets less per measurement.
LAYER_MIN_RUN_TIME = {"mlp": 0.02, "resnet18": 0.03, "resnet56": 0.01}
CHANNEL_ROW_MODELS = ("resnet18", "resnet56")  # models that also get the `uniform` channel-pruning rows
CHILD_FLAG = "--in-benchmark-env"


def rgp_config(model: str):
    """The project's composed config for ``model`` (as ``python -m rgp_bench model=...`` would see it)."""
    from hydra import compose, initialize_config_dir

    from rgp_bench.config import conf_dir
    from rgp_bench.run.configs import register

    register()
    with initialize_config_dir(str(conf_dir()), version_base="1.3"):
        return compose("config", overrides=[f"model={model}"])


def rgp_masks(model: nn.Module, layers_cfg, example: torch.Tensor, nodes: int, degree: int,
              cache_dir: Path) -> dict[str, torch.Tensor]:
    """RGP block masks of every prunable layer from one low-ASPL graph (default anneal strategy, seed 0)."""
    adjacency, _ = build_graph(nodes, degree, strategy="anneal", start="random", seed=0, cache_dir=cache_dir)
    masks = {}
    for layer in find_prunable_layers(model, example, layers_cfg):
        channels = torch.from_numpy(np.ascontiguousarray(block_mask(adjacency, layer.out_channels,
                                                                    layer.in_channels)))
        kernel = (1,) * (len(layer.weight_shape) - 2)
        masks[layer.name] = channels.reshape(channels.shape + kernel).expand(layer.weight_shape).contiguous()
    return masks


def compare_models(label: str, model_name: str, dense: nn.Module, fast: nn.Module, example: torch.Tensor, *,
                   compiled_dense: nn.Module | None = None, masked: nn.Module | None = None,
                   compiled_fast: nn.Module | None = None, mac_limit: float | None = None, rounds: int = 5,
                   min_run_time: float = 0.2) -> SpeedupRow:
    """Time ``fast`` against ``dense`` (and the optional compiled dense / masked / compiled fast variants).

    This is the hook for every row of the summary table. ``mac_limit`` defaults to dense MACs over ``fast``'s
    effective MACs counted by forward hooks on its Conv/Linear layers, which is right for a physically smaller
    (channel-pruned) model; pass it explicitly when ``fast`` computes masked layers with custom modules.
    """
    if mac_limit is None:
        mac_limit = mac_reduction(masked_layer_macs(fast, example[:1]), masked_layer_macs(dense, example[:1]))
    variants = {DENSE: dense}
    if compiled_dense is not None:
        variants[DENSE_COMPILED] = compiled_dense
    if masked is not None:
        variants[MASKED_MODEL] = masked
    variants[MATERIALISED] = fast
    if compiled_fast is not None:
        variants[MATERIALISED_COMPILED] = compiled_fast
    e2e = measure_end_to_end(variants, example, THREADS, mac_limit, rounds=rounds, min_run_time=min_run_time)
    return SpeedupRow(label=label, model=model_name, end_to_end=e2e)


CHANNEL_REDUCTIONS = (0.5, 0.75)  # fractions of the MACs removed by the `uniform` channel-pruning rows


def channel_pruning_pairs(model_name: str, dense: nn.Module, example: torch.Tensor,
                          layers_cfg) -> list[tuple[str, nn.Module]]:
    """`uniform` channel pruning of ``dense`` at 50 % and 75 % of its MACs removed, channels physically removed.

    The same code path as `method=uniform` (one keep fraction in every prunable channel group, largest L2 filter
    norms kept, exact MAC budget by bisection), then Torch-Pruning removes the masked channels.
    """
    from rgp_bench.methods.base import MaskContext
    from rgp_bench.methods.channel import channel_problem, prune_to_budget
    from rgp_bench.pruning.channels import filter_scores, remove_channels

    layers = find_prunable_layers(dense, example[:1], layers_cfg)
    problem = channel_problem(layers, MaskContext(seed=0, model=dense, example=example[:1]))
    scores = filter_scores(dense, problem.groups, norm=2)
    pairs = []
    for reduction in CHANNEL_REDUCTIONS:
        budget = prune_to_budget(problem, scores, reduction, "uniform")
        pairs.append((f"uniform channels −{reduction:.0%} MACs", remove_channels(dense, problem.groups,
                                                                                 budget.keep).eval()))
    return pairs


def input_shape(model_name: str) -> tuple[int, ...]:
    """One example's shape for ``model_name`` (see INPUTS)."""
    channels, size, dims = INPUTS[model_name]
    return (channels, *(size,) * dims)


def build_dense(model_name: str, cfg) -> nn.Module:
    """The model at its benchmark input shape, seed 0, eval mode, no gradients."""
    channels, size, dims = INPUTS[model_name]
    torch.manual_seed(0)
    return build_model(cfg.model, channels, size, 10, spatial_dims=dims).eval().requires_grad_(False)


def run_config(model_name: str, dense: nn.Module, compiled: nn.Module, layers_cfg, nodes: int, batch_size: int,
               degrees: Sequence[int], cache_dir: Path) -> list[SpeedupRow]:
    """Masked and materialised at each degree (plus any channel-pruning pairs) at one batch size."""
    example = example_input(input_shape(model_name), batch_size)
    rows = []
    for degree in degrees:
        key = (model_name, batch_size, degree) in KEY_RUNS
        timer = interleaved_timer(rounds=5 if key else 3, min_run_time=LAYER_MIN_RUN_TIME[model_name])
        e2e_timing: dict[str, Any] = {"rounds": 7 if key else 5, "min_run_time": 0.2 if batch_size > 1 else 0.1}
        start = time.perf_counter()
        masks = rgp_masks(dense, layers_cfg, example[:2], nodes, degree, cache_dir)
        forms = BASE_FORMS + (("tapsum",) if (model_name, batch_size, degree) in TAPSUM_RUNS else ())
        fast, report = materialise(dense, masks, example, "cpu", THREADS, forms=forms, timer=timer, end_to_end=False)
        chosen = time.perf_counter()
        masked = masked_copy(dense, masks, torch.device("cpu"))
        compiled_fast = compile_frozen(fast) if (model_name, batch_size) in COMPILED_FAST_RUNS else None
        row = compare_models(f"RGP k/n = {degree}/{nodes}", model_name, dense, fast, example,
                             compiled_dense=compiled, masked=masked, compiled_fast=compiled_fast,
                             mac_limit=mac_reduction(masked_layer_macs(masked, example[:1])), **e2e_timing)
        row.report = report
        rows.append(row)
        print(f"[bench] {model_name} b{batch_size} {row.label}: materialised "
              f"{row.end_to_end.speedup_vs_dense[MATERIALISED]:.2f}x dense eager (materialise "
              f"{chosen - start:.0f} s, end to end {time.perf_counter() - chosen:.0f} s)", file=sys.stderr, flush=True)
    if model_name in CHANNEL_ROW_MODELS:
        for label, candidate in channel_pruning_pairs(model_name, dense, example, layers_cfg):
            rows.append(compare_models(label, model_name, dense, candidate, example, compiled_dense=compiled,
                                       min_run_time=0.2 if batch_size > 1 else 0.1))
    return rows


def collect(quick: bool, cache_dir: Path, command: str = "python -m benchmarks.speedup") -> SpeedupRows:
    """Everything, in this process (expects the benchmark environment, see :func:`main`)."""
    started, cpu_started = time.perf_counter(), time.process_time()
    build_start = time.perf_counter()
    load_kernel(build=True)
    build_seconds = time.perf_counter() - build_start
    rows: list[SpeedupRow] = []
    models: dict[str, tuple[nn.Module, nn.Module, object]] = {}
    with thread_count(THREADS):
        for model_name, nodes, batch_size, degrees in QUICK_RUNS if quick else RUNS:
            if model_name not in models:
                cfg = rgp_config(model_name)
                dense = build_dense(model_name, cfg)
                models[model_name] = (dense, compile_frozen(dense), cfg.layers)
            dense, compiled, layers_cfg = models[model_name]
            rows += run_config(model_name, dense, compiled, layers_cfg, nodes, batch_size, degrees, cache_dir)
    module = load_kernel(build=False)
    simd = simd_info(module) if module is not None else None
    return SpeedupRows(
        provenance=Provenance.here(command, time.perf_counter() - started, torch=torch.__version__),
        rows=tuple(rows), kernel=kernel_status().detail,
        simd=f"{simd.lanes} float lanes per vector, {simd.registers} vector registers" if simd else "not loaded",
        kernel_build_seconds=build_seconds, cpu_minutes=(time.process_time() - cpu_started) / 60,
        omp_threads=os.environ.get("OMP_NUM_THREADS", "unset"), allocator=allocator_setting(),
        tapsum_runs=tuple(sorted(TAPSUM_RUNS)), compiled_fast_runs=tuple(sorted(COMPILED_FAST_RUNS)),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Measure in a fresh process with the benchmark environment, print the section and (with --output) write it."""
    p = parser("python -m benchmarks.speedup", __doc__)
    p.add_argument("--quick", action="store_true",
                   help="the target settings only: the MLP at batch 64 and 1, ResNet-18 at batch 64 k/n = 8/64")
    p.add_argument("--cache-dir", type=Path, help="graph cache (default: a temporary directory)")
    p.add_argument(CHILD_FLAG, action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if not args.in_benchmark_env:
        # glibc reads the MALLOC_* tunables at start-up, so the measurement runs in a fresh process.
        child = [sys.executable, "-m", "benchmarks.speedup", CHILD_FLAG, *(argv if argv is not None
                                                                               else sys.argv[1:])]
        return subprocess.run(child, env=benchmark_env(THREADS), check=False).returncode
    command = "python -m benchmarks.speedup" + (" --quick" if args.quick else "")
    with tempfile.TemporaryDirectory() as tmp:
        rows = collect(args.quick, args.cache_dir or Path(tmp), command)
    publish(SECTION, render(rows), args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
