"""The speed-up recipe's rows and their rendering: conditions, targets, end-to-end rows and per-layer tables.

`benchmarks.speedup` collects the rows (it needs the benchmark environment); this module only formats them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from benchmarks.markdown import Provenance, verdict
from rgp_bench.speedup.end_to_end import (
    DENSE,
    DENSE_COMPILED,
    MASKED_MODEL,
    MATERIALISED,
    MATERIALISED_COMPILED,
    EndToEnd,
)
from rgp_bench.speedup.report import MaterialiseReport

# Targets of the issues (benchmark only, never unit tests).
TARGET_VS_EAGER, TARGET_VS_COMPILED, TARGET_WIDE_LAYERS = 4.0, 1.2, 2.0
TARGET_CHANNELS = 0.7  # uniform channel pruning: measured speed-up over the MAC reduction factor
CHANNELS_WHY = ": thinned widths off a multiple of 8 save no time (section `thin_convs`)"
# `make run`'s model (MNIST-1D MLP, RGP k/n = 6/64), materialised over dense eager, per batch size.
TARGET_MLP = {64: 3.0, 1: 4.0}


@dataclass
class SpeedupRow:
    """One timed (dense, fast) pair at one batch size."""

    label: str
    model: str
    end_to_end: EndToEnd
    report: MaterialiseReport | None = None

    @property
    def batch_size(self) -> int:
        return self.end_to_end.batch_size


@dataclass(frozen=True)
class SpeedupRows:
    """Everything one run of the recipe measured, and the conditions it ran under."""

    provenance: Provenance  # machine holds machine() plus torch's version
    rows: tuple[SpeedupRow, ...]
    kernel: str  # the C++ kernels' status
    simd: str  # their vector width and registers, or "not loaded"
    kernel_build_seconds: float
    cpu_minutes: float  # CPU time of the measuring process
    omp_threads: str  # OMP_NUM_THREADS in the measuring process
    allocator: str  # glibc allocator tunables in the measuring process
    tapsum_runs: tuple[tuple[str, int, int], ...] = ()  # (model, batch, k) where tap-sum was a candidate
    compiled_fast_runs: tuple[tuple[str, int], ...] = ()  # (model, batch) where the fast model was compiled whole

    @property
    def fusion(self) -> str:
        """What the fusion pass did, per model."""
        return "; ".join(sorted({f"{row.model}: {row.report.fusion}" for row in self.rows if row.report is not None}))

    def layer_reports(self) -> list[tuple[str, MaterialiseReport]]:
        """The per-layer tables shown: the MLP's and ResNet-18's."""
        return [(f"{row.model}, batch {row.batch_size}, {row.label}", row.report) for row in self.rows
                if row.model in ("mlp", "resnet18") and row.report is not None]


def _ms(e2e: EndToEnd, name: str) -> str:
    """Milliseconds with three significant figures below 10 ms (the MLP's batch-1 pass takes about 0.05 ms)."""
    if name not in e2e.seconds:
        return "–"
    ms = e2e.seconds[name] * 1e3
    return f"{ms:.1f}" if ms >= 10 else (f"{ms:.2f}" if ms >= 1 else f"{ms:.3f}")


def _forms(report: MaterialiseReport | None) -> str:
    if report is None:
        return ""
    counts = Counter(layer.chosen for layer in report.layers)
    return ", ".join(f"{form} {count}" for form, count in counts.most_common())


def summary_table(rows: Sequence[SpeedupRow]) -> str:
    head = ("| model | batch | variant | MACs ÷ | dense ms | dense compiled ms | masked ms | fast ms | speed-up vs "
            "dense eager | vs dense compiled | speed-up / MACs ÷ | forms (layers) |")
    lines = [head, "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for row in rows:
        e2e = row.end_to_end
        vs_eager = e2e.speedup_vs_dense[MATERIALISED]
        vs_compiled = f"{e2e.speedup_vs_compiled[MATERIALISED]:.2f}×" if e2e.speedup_vs_compiled else "–"
        lines.append(f"| {row.model} | {row.batch_size} | {row.label} | {e2e.mac_limit:.2f}× | {_ms(e2e, DENSE)} | "
                     f"{_ms(e2e, DENSE_COMPILED)} | {_ms(e2e, MASKED_MODEL)} | {_ms(e2e, MATERIALISED)} | "
                     f"**{vs_eager:.2f}×** | {vs_compiled} | {e2e.fraction_of_limit:.0%} | {_forms(row.report)} |")
    return "\n".join(lines)


def _find(rows: Sequence[SpeedupRow], model: str, batch: int, label: str) -> SpeedupRow | None:
    return next((r for r in rows if r.model == model and r.batch_size == batch and r.label == label), None)


def _status(value: float | None, target: float, strict: bool = False) -> str:
    if value is None:
        return "not run"
    return verdict(value > target if strict else value >= target)


def targets_table(rows: Sequence[SpeedupRow]) -> str:
    """The issues' targets against what this run measured."""
    lines = ["| target | measured | status |", "|---|---:|---|"]
    for batch, target in TARGET_MLP.items():
        mlp = _find(rows, "mlp", batch, "RGP k/n = 6/64")
        value = mlp.end_to_end.speedup_vs_dense[MATERIALISED] if mlp else None
        lines.append(f"| `make run`'s MNIST-1D MLP (40→4×512→10), batch {batch}, k/n = 6/64: materialised ≥ {target}× "
                     f"dense eager | {f'{value:.2f}×' if value else '–'} | {_status(value, target)} |")
    row = _find(rows, "resnet18", 64, "RGP k/n = 8/64")
    vs_eager = row.end_to_end.speedup_vs_dense[MATERIALISED] if row else None
    vs_compiled = row.end_to_end.speedup_vs_compiled[MATERIALISED] if row and row.end_to_end.speedup_vs_compiled \
        else None
    lines.append(f"| ResNet-18, batch 64, k/n = 8/64: materialised ≥ {TARGET_VS_EAGER}× dense eager | "
                 f"{vs_eager:.2f}× | {_status(vs_eager, TARGET_VS_EAGER)} |" if vs_eager else
                 "| ResNet-18 b64 8/64 vs dense eager | – | not run |")
    lines.append(f"| ResNet-18, batch 64, k/n = 8/64: materialised > {TARGET_VS_COMPILED}× dense compiled | "
                 f"{vs_compiled:.2f}× | {_status(vs_compiled, TARGET_VS_COMPILED, strict=True)} |" if vs_compiled else
                 "| ResNet-18 b64 8/64 vs dense compiled | – | not run |")
    for model in ("resnet18", "resnet56"):
        channels = _find(rows, model, 64, "uniform channels −50% MACs")
        if channels is not None:
            e2e = channels.end_to_end
            ratio = e2e.speedup_vs_dense[MATERIALISED] / e2e.mac_limit
            lines.append(f"| {model}, batch 64, `uniform` at 50 % of MACs removed: speed-up ≥ {TARGET_CHANNELS}× the "
                         f"MAC reduction factor ({e2e.mac_limit:.2f}×) | {e2e.speedup_vs_dense[MATERIALISED]:.2f}× "
                         f"= {ratio:.2f}× the factor | {_status(ratio, TARGET_CHANNELS)}"
                         f"{'' if ratio >= TARGET_CHANNELS else CHANNELS_WHY} |")
    wide = _find(rows, "resnet18", 64, "RGP k/n = 4/64")
    if wide and wide.report:
        for title, keep in (
            ("3×3 stride-1 layers with 256 / 512 channels", lambda layer: layer.kernel == (3, 3) and layer.stride == 1),
            ("every layer with 256 / 512 output channels (incl. stride 2, 1×1 shortcuts)", lambda layer: True),
        ):
            chosen = [layer for layer in wide.report.layers if layer.out_channels in (256, 512) and keep(layer)]
            worst = min(chosen, key=lambda layer: layer.speedup)
            lines.append(f"| ResNet-18, batch 64, k/n = 4/64, {title}: each ≥ {TARGET_WIDE_LAYERS}× masked dense | "
                         f"min {worst.speedup:.2f}× (`{worst.name}`), median "
                         f"{sorted(x.speedup for x in chosen)[len(chosen) // 2]:.2f}× | "
                         f"{_status(worst.speedup, TARGET_WIDE_LAYERS)} |")
    return "\n".join(lines)


KERNEL_FORMS = ("direct", "direct_shift", "gemm")


def kernel_summary(rows: SpeedupRows) -> str:
    """Whether the C++ kernels were tried, and what they gave (layers won, per-layer speed-ups)."""
    reports = [row.report for row in rows.rows if row.report is not None]
    won = [layer for report in reports for layer in report.layers if layer.chosen in KERNEL_FORMS]
    total = sum(len(report.layers) for report in reports)
    text = [f"- **C++ register-tiled block-sparse kernels (direct convolution, matrix product): tried.** Status: "
            f"{rows.kernel}, {rows.simd} (load/build step of this run: {rows.kernel_build_seconds:.0f} s)."]
    if won:
        speedups = sorted(layer.speedup for layer in won)
        text.append(f"  It was the fastest form in {len(won)} of {total} masked layers over all runs "
                    f"(speed-up over masked dense {speedups[0]:.2f}×–{speedups[-1]:.2f}×, median "
                    f"{speedups[len(speedups) // 2]:.2f}×).")
    else:
        text.append("  It won no layer in this run.")
    return "\n".join(text)


def compiled_fast_table(rows: Sequence[SpeedupRow]) -> str:
    """The materialised model compiled as a whole, where it was measured."""
    lines = ["| model | batch | variant | materialised ms | materialised + compiled ms | vs dense eager | "
             "vs dense compiled | speed-up / MACs ÷ |", "|---|---:|---|---:|---:|---:|---:|---:|"]
    for row in rows:
        e2e = row.end_to_end
        if MATERIALISED_COMPILED not in e2e.seconds:
            continue
        vs_eager = e2e.speedup_vs_dense[MATERIALISED_COMPILED]
        vs_compiled = e2e.speedup_vs_compiled[MATERIALISED_COMPILED] if e2e.speedup_vs_compiled else float("nan")
        lines.append(f"| {row.model} | {row.batch_size} | {row.label} | {_ms(e2e, MATERIALISED)} | "
                     f"{_ms(e2e, MATERIALISED_COMPILED)} | **{vs_eager:.2f}×** | {vs_compiled:.2f}× | "
                     f"{vs_eager / e2e.mac_limit:.0%} |")
    return "\n".join(lines) if len(lines) > 2 else ""


def render(rows: SpeedupRows) -> str:
    """The Markdown section (without markers)."""
    out = [*_conditions(rows), "### Targets", "", targets_table(rows.rows), "", "### End to end", "",
           summary_table(rows.rows), ""]
    compiled_table = compiled_fast_table(rows.rows)
    if compiled_table:
        out += ["Materialised model compiled as a whole (`torch.compile`, freezing). The kernels run as the torch "
                "operators `rgp_bench::block_sparse_conv2d` / `rgp_bench::block_sparse_linear` (registered in C++), "
                "and the fusion pass has already folded the BatchNorms and fused the ReLUs and residual "
                "adds, so Inductor has little left to fuse:", "", compiled_table, ""]
    out += _what_was_tried(rows)
    for label, report in rows.layer_reports():
        out += [f"### Per layer: {label}", "", report.layer_table(), ""]
    return "\n".join(out)


def _conditions(rows: SpeedupRows) -> list[str]:
    p, m = rows.provenance, rows.provenance.machine
    tapsum = ", ".join(f"{model} batch {b} k = {k}" for model, b, k in rows.tapsum_runs) or "none"
    compiled_fast = ", ".join(f"{model} batch {b}" for model, b in rows.compiled_fast_runs) or "none"
    return [
        "## Fast inference of RGP block masks (`rgp_bench.speedup`)",
        "",
        f"- Command: `{p.command}` (whole run {p.seconds / 60:.1f} min wall, {rows.cpu_minutes:.1f} min CPU in "
        "this process; the difference is time spent waiting for the shared cores and for compiler subprocesses)",
        f"- Date: {p.date}",
        f"- Machine: {m['cpu']}, {m['cores']} cores, shared with other developers' jobs while this ran, so "
        "absolute times are noisy; only ratios measured within one interleaved run are compared.",
        f"- Threads: 1 intra-op thread, pinned (`torch.set_num_threads(1)`; OMP_NUM_THREADS={rows.omp_threads} and "
        "MKL_NUM_THREADS=1 in the benchmark subprocess); CPU affinity not fixed.",
        f"- torch {m['torch']}; allocator: {rows.allocator}.",
        "- Protocol: eval mode, `torch.inference_mode`, float32, CIFAR shapes (3×32×32) for the ResNets and MNIST-1D "
        "shapes (1×40) for the MLP, random weights and inputs (timing does not depend on values). Per layer "
        "(`materialise`): masked dense and every candidate form, "
        "timed interleaved on the input that layer receives (one `blocked_autorange` per round, min_run_time 0.03 s "
        "for ResNet-18, 0.02 s for the MLP and 0.01 s for ResNet-56's 54 small layers; 5 rounds for the target "
        "settings (the MLP, ResNet-18 batch 64 k/n = 8/64), 3 elsewhere; median); a form replaces a layer only if "
        "≥ 1.05× masked dense. End to end: dense eager, dense compiled (Inductor, `freezing=True`), masked and "
        "materialised, timed in interleaved rounds (7 for the target settings, 5 elsewhere; `blocked_autorange`, "
        "min 0.2 s at batch 64, 0.1 s at batch 1); speed-ups are medians of per-round ratios.",
        "- MACs ÷ = dense MACs / effective MACs of the whole model (conv + linear, fvcore convention; stem and "
        "classifier stay dense): the speed-up if every masked MAC were free. *speed-up / MACs ÷* is the fraction of "
        "it reached. Per layer it can exceed 100 % at batch 1, where dense itself runs far below peak.",
        f"- ResNet-56: n = 16 nodes (its 16-channel layers cap n), k = 2 and 4. Tap-sum (torch.compile per layer) "
        f"was a candidate only in: {tapsum}. The materialised model compiled as a whole: {compiled_fast}.",
        "",
    ]


def _what_was_tried(rows: SpeedupRows) -> list[str]:
    return [
        "### What was tried",
        "",
        kernel_summary(rows),
        "- Gather + grouped conv (`grouped`), gather + bmm for Linear (`bmm`), tap-sum under torch.compile "
        "(`tapsum`), the convolution kernel's two inner loops (`direct`: one load per tap, or row tiles for 3×3 "
        "stride-1 layers with one output per chunk; `direct_shift`: one load per kernel row, taps shifted in "
        "registers) and the block-sparse matrix product for Linear layers (`gemm`) are the candidates. In the "
        "per-layer tables each form's column is its measured speed-up over masked dense; `–` = not usable for that "
        "layer (the report says why), blank = not a candidate there.",
        "- Fusion (`rgp_bench.speedup.fuse`, on by default in `materialise`): eval BatchNorms folded into the layer "
        "before them, ReLUs and residual adds moved into the kernels' epilogues, parameter-free modules inlined. "
        "The dense baselines are not fused; *dense compiled* (Inductor, freezing) folds BatchNorm and fuses too. "
        f"This run: {rows.fusion or '–'}.",
        "",
    ]
