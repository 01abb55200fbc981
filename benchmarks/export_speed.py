"""Does the exported default model keep the speed its run measured? `make run`'s model (RGP 0.9 on the MNIST-1D
MLP) is built cost-only, exported materialised with `--format aoti`, and timed in a fresh process that imports only
torch, against a plain-torch dense MLP of the same architecture, at the run's latency batch sizes.

Two ways of calling the loaded package are timed: `model(x)` (torch's AOTICompiledModel, which parses the input
and output specs on every call) and `model.loader.boxed_run([x])` (the same compiled code without that wrapper;
the call the export's load note gives). Each is compared with the run's own materialised speed-up over dense
eager (`cost.latency`), ratios of interleaved timings in each process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from benchmarks.markdown import Provenance, run_recipe, verdict

SECTION = "export_speed"
MAKE_RUN = ("experiment=mnist1d_compare", "method=rgp", "ratio=0.9", "measure.latency.enabled=true",
            "train.epochs=0")  # latency depends on the structure, not on trained values
ROUNDS = 7
MIN_RUN_TIME_S = 0.1

# Runs in the fresh process: imports torch and nothing of rgp-bench (checked), prints one JSON line.
PLAIN_TORCH = r"""
import json, statistics, sys
import torch
from torch import nn
from torch.utils.benchmark import Timer

library, package, in_features, width, depth, classes, params, rounds, min_time, *batches = sys.argv[1:]
torch.set_num_threads(1)
torch.ops.load_library(library)
model = torch._inductor.aoti_load_package(package)
run = model.loader.boxed_run
layers, w = [nn.Flatten()], int(in_features)
for _ in range(int(depth)):
    layers += [nn.Linear(w, int(width), bias=False), nn.BatchNorm1d(int(width)), nn.ReLU(inplace=True)]
    w = int(width)
dense = nn.Sequential(*layers, nn.Linear(w, int(classes))).eval()
assert sum(p.numel() for p in dense.parameters()) == int(params), "not the run's dense architecture"
out = {"rgp_bench_imported": any(m.split(".")[0] == "rgp_bench" for m in sys.modules), "batches": []}
for b in map(int, batches):
    x = torch.randn(b, 1, int(in_features))
    with torch.inference_mode():
        assert torch.equal(model(x), run([x])[0])
        calls = {"dense": lambda: dense(x), "call": lambda: model(x), "direct": lambda: run([x])}
        times = {k: [] for k in calls}
        for _ in range(int(rounds)):
            for k, f in calls.items():
                times[k].append(Timer("f()", globals={"f": f}).blocked_autorange(min_run_time=float(min_time)).median)
    ratio = lambda k: statistics.median(d / t for d, t in zip(times["dense"], times[k]))
    out["batches"].append({"batch": b, "dense_us": statistics.median(times["dense"]) * 1e6,
                           "call_us": statistics.median(times["call"]) * 1e6,
                           "direct_us": statistics.median(times["direct"]) * 1e6,
                           "call_speedup": ratio("call"), "direct_speedup": ratio("direct")})
print(json.dumps(out))
"""


@dataclass(frozen=True)
class BatchRow:
    """One batch size: the run's materialised speed-up and the export's, both over dense eager."""

    batch: int
    run_speedup: float
    dense_us: float
    call_us: float
    direct_us: float
    call_speedup: float
    direct_speedup: float


@dataclass(frozen=True)
class ExportSpeedRows:
    provenance: Provenance
    run_command: str
    export_command: str
    rgp_bench_imported: bool
    batches: tuple[BatchRow, ...]


def _check(proc: subprocess.CompletedProcess, what: str) -> None:
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed: {(proc.stderr.strip().splitlines() or ['no output'])[-1]}")


def collect(command: str = "python -m benchmarks.export_speed") -> ExportSpeedRows:
    """Build, export and time (about 1 minute on a 2-core machine, most of it AOTInductor's compilation)."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rgp-export-speed-") as tmp:
        work = Path(tmp)
        run_dir = work / "run"
        args = [*MAKE_RUN, f"hydra.run.dir={run_dir}", f"cache_dir={work / 'cache'}", "logger=none"]
        _check(subprocess.run([sys.executable, "-m", "rgp_bench", *args], capture_output=True, text=True), "the run")
        record = json.loads((run_dir / "results.json").read_text())
        package = run_dir / "model_materialised.aoti.pt2"
        export = [sys.executable, "-m", "rgp_bench.export", str(run_dir), "--materialise", "--format", "aoti",
                  "--out", str(package)]
        _check(subprocess.run(export, capture_output=True, text=True), "the export")
        library = next(run_dir.glob("rgp_block_sparse_*.so"))
        model, dense = record["config"]["model"], record["cost"]["dense"]["params"]
        latency = record["cost"]["latency"]
        batches = [b["batch_size"] for b in latency["batches"]]
        argv = [str(library), str(package), "40", str(model["width"]), str(model["depth"]), "10", str(dense),
                str(ROUNDS), str(MIN_RUN_TIME_S), *map(str, batches)]
        proc = subprocess.run([sys.executable, "-c", PLAIN_TORCH, *argv], capture_output=True, text=True,
                              cwd=work, env={"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
        _check(proc, "the plain torch process")
        plain = json.loads(proc.stdout.strip().splitlines()[-1])
    run_speedups = {b["batch_size"]: b["variants"]["materialised"]["speedup"] for b in latency["batches"]}
    rows = tuple(BatchRow(batch=b["batch"], run_speedup=run_speedups[b["batch"]], dense_us=b["dense_us"],
                          call_us=b["call_us"], direct_us=b["direct_us"], call_speedup=b["call_speedup"],
                          direct_speedup=b["direct_speedup"]) for b in plain["batches"])
    return ExportSpeedRows(Provenance.here(command, time.perf_counter() - start, torch=torch.__version__),
                           "python -m rgp_bench " + " ".join(MAKE_RUN),
                           "python -m rgp_bench.export RUN_DIR --materialise --format aoti",
                           plain["rgp_bench_imported"], rows)


def render(rows: ExportSpeedRows) -> str:
    """The section: per batch size, the run's speed-up and the export's through each call, met or missed."""
    p = rows.provenance
    lines = [
        "## The exported default model keeps its speed",
        "",
        p.stated() + f" "
        f"`{rows.run_command}`, then `{rows.export_command}`; the package is timed in a fresh process that imports "
        f"only torch (rgp-bench imported there: {'yes' if rows.rgp_bench_imported else 'no'}) against a plain-torch "
        f"dense MLP of the run's architecture, 1 thread, {ROUNDS} interleaved rounds of `blocked_autorange` "
        f"(min {MIN_RUN_TIME_S} s), medians of per-round ratios. Target: the export at least as fast (over dense "
        "eager) as the run measured its materialised model.",
        "",
        "| batch | run: materialised over dense | export `model.loader.boxed_run([x])` | export `model(x)` | "
        "dense µs | direct µs | `model(x)` µs | target |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows.batches:
        lines.append(f"| {r.batch} | {r.run_speedup:.2f}× | **{r.direct_speedup:.2f}×** | {r.call_speedup:.2f}× | "
                     f"{r.dense_us:.1f} | {r.direct_us:.1f} | {r.call_us:.1f} | "
                     f"{verdict(r.direct_speedup >= r.run_speedup)} |")
    lines += [
        "",
        "The direct call is what the export's load note gives. `model(x)` runs the same compiled code behind "
        "torch's wrapper, which parses the package's input and output specs on every call (the difference between "
        "the two µs columns): at batch 1 that wrapper costs more than the pruned layers.",
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, print the section and (with --output) write it."""
    return run_recipe("python -m benchmarks.export_speed", __doc__, SECTION, collect, render, argv)


if __name__ == "__main__":
    raise SystemExit(main())
