"""Why uniform channel pruning falls short of its MAC factor on ResNet-56: the time of one 3×3 convolution of each
CIFAR ResNet stage at its dense width, at the width `uniform` keeps there at 50 % of the MACs removed (the most
common convolution width of that stage in the pruned model the `speedup` recipe times), and at the nearest
multiples of 8 below and above, batch 64, 1 thread, timed interleaved.

If time followed MACs, the kept width would run at (kept / dense)² of the dense time; where it runs no faster than
the dense width, that stage (a third of ResNet-56's MACs each) gains nothing from being thinner.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import torch

from benchmarks.markdown import Provenance, run_recipe
from rgp_bench.measure.latency import time_interleaved

SECTION = "thin_convs"
STAGES = ((16, 32), (32, 16), (64, 8))  # (channels, feature map side) of the CIFAR ResNets' three stages
BATCH, ROUNDS, MIN_RUN_TIME_S = 64, 5, 0.1


@dataclass(frozen=True)
class ConvTime:
    """Median seconds of one 3×3 stride-1 convolution `cin` -> `cout` channels on a `side`×`side` map."""

    stage: int
    cin: int
    cout: int
    side: int
    kind: str  # "dense", "kept" (as `uniform` pruned it) or "kept, rounded up to 8"
    seconds: float

    @property
    def gmacs(self) -> float:
        return BATCH * self.cin * self.cout * 9 * self.side ** 2 / self.seconds / 1e9


@dataclass(frozen=True)
class ThinConvRows:
    provenance: Provenance
    times: tuple[ConvTime, ...]


def kept_shapes() -> dict[int, list[tuple[int, int]]]:
    """Stage -> the distinct (in, out) channels of its 3×3 stride-1 convolutions in ResNet-56 after `uniform` removed
    50 % of its MACs (channels removed), as benchmarks.speedup builds and times it."""
    from benchmarks.speedup import build_dense, channel_pruning_pairs, input_shape, rgp_config

    cfg = rgp_config("resnet56")
    dense = build_dense("resnet56", cfg)
    pruned = dict(channel_pruning_pairs("resnet56", dense, torch.randn(1, *input_shape("resnet56")), cfg.layers))
    thin = pruned["uniform channels −50% MACs"]
    stage_of = {width: i for i, (width, _) in enumerate(STAGES, 1)}
    shapes: dict[int, list[tuple[int, int]]] = {i: [] for i in stage_of.values()}
    for a, b in zip(dense.modules(), thin.modules(), strict=True):
        if isinstance(a, torch.nn.Conv2d) and isinstance(b, torch.nn.Conv2d) and a.kernel_size == (3, 3) \
                and a.stride == (1, 1) and a.in_channels == a.out_channels:
            shape = (b.in_channels, b.out_channels)
            if shape not in shapes[stage_of[a.out_channels]]:
                shapes[stage_of[a.out_channels]].append(shape)
    return shapes


def _up8(c: int) -> int:
    return 8 * math.ceil(c / 8)


def collect(command: str = "python -m benchmarks.thin_convs") -> ThinConvRows:
    """Time every case, interleaved (about 30 s)."""
    start = time.perf_counter()
    kept = kept_shapes()
    torch.set_num_threads(1)
    cases: list[tuple[int, int, int, int, str]] = []
    for stage, (width, side) in enumerate(STAGES, 1):
        cases.append((stage, width, width, side, "dense"))
        for cin, cout in kept[stage]:
            cases.append((stage, cin, cout, side, "kept"))
            rounded = (stage, _up8(cin), _up8(cout), side, "kept, rounded up to 8")
            if (_up8(cin), _up8(cout)) not in ((cin, cout), (width, width)) and rounded not in cases:
                cases.append(rounded)
    calls = {}
    for case in cases:
        conv = torch.nn.Conv2d(case[1], case[2], 3, padding=1, bias=False).eval()
        calls[repr(case)] = partial(conv, torch.randn(BATCH, case[1], case[3], case[3]))
    with torch.inference_mode():
        seconds = time_interleaved(calls, rounds=ROUNDS, min_run_time=MIN_RUN_TIME_S)
    times = tuple(ConvTime(*case, statistics.median(seconds[repr(case)])) for case in cases)
    return ThinConvRows(Provenance.here(command, time.perf_counter() - start, torch=torch.__version__), times)


def render(rows: ThinConvRows) -> str:
    """One row per case: time, time relative to the stage's dense convolution, what MACs alone would predict."""
    p = rows.provenance
    lines = [
        "## Thin convolutions: why `uniform` misses its MAC factor on ResNet-56",
        "",
        p.stated() + f" Each "
        "distinct 3×3 stride-1 convolution of ResNet-56 after `uniform` removed 50 % of its MACs (as the `speedup` "
        f"section times it), beside its stage's dense one and with its widths rounded up to a multiple of 8; batch "
        f"{BATCH}, 1 thread, oneDNN through torch eager, {ROUNDS} interleaved rounds (`time_interleaved`, min "
        f"{MIN_RUN_TIME_S} s per measurement), median.",
        "",
        "| stage | map | channels in → out | kind | ms | × dense time | MACs predict | GMAC/s |",
        "|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    dense = {t.stage: t for t in rows.times if t.kind == "dense"}
    for t in rows.times:
        ref = dense[t.stage]
        lines.append(f"| {t.stage} | {t.side}×{t.side} | {t.cin} → {t.cout} | {t.kind} | {t.seconds * 1e3:.2f} | "
                     f"{t.seconds / ref.seconds:.2f} | {t.cin * t.cout / (ref.cin * ref.cout):.2f} | {t.gmacs:.1f} |")
    slow = [t for t in rows.times if t.kind == "kept"
            and t.seconds / dense[t.stage].seconds > 1.25 * t.cin * t.cout / (dense[t.stage].cin * dense[t.stage].cout)]
    lines += [""]
    if slow:
        worst = max(slow, key=lambda t: t.seconds / dense[t.stage].seconds)
        lines.append(f"{len(slow)} of the kept convolutions take over 1.25× the time their MACs predict (worst: "
                     f"{worst.cin} → {worst.cout} channels at {worst.side}×{worst.side}, "
                     f"{worst.seconds / dense[worst.stage].seconds:.2f}× the dense time for "
                     f"{worst.cin * worst.cout / (dense[worst.stage].cin * dense[worst.stage].cout):.2f}× its MACs): "
                     "widths that are not a multiple of the vector width run at lower efficiency (GMAC/s), and "
                     "ResNet-56's narrow layers have little else to amortise it.")
    by_shape = {(t.stage, t.cin, t.cout): t for t in rows.times}
    same = [t.seconds / by_shape[(t.stage, _up8(t.cin), _up8(t.cout))].seconds for t in rows.times
            if t.kind == "kept" and (t.stage, _up8(t.cin), _up8(t.cout)) in by_shape
            and (_up8(t.cin), _up8(t.cout)) != (t.cin, t.cout)]
    if same:
        lines.append(f"Each kept convolution takes {min(same):.2f}–{max(same):.2f}× the time of the same convolution "
                     "with its widths rounded up to a multiple of 8: the channels cut below that multiple save "
                     "nothing.")
    else:
        lines.append("Every kept convolution runs within 1.25× of the time its MACs predict.")
    lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, print the section and (with --output) write it."""
    return run_recipe("python -m benchmarks.thin_convs", __doc__, SECTION, collect, render, argv)


if __name__ == "__main__":
    raise SystemExit(main())
