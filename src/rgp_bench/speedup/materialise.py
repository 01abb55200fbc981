"""materialise: replace each block-masked layer by its fastest correct form, where that is measured faster.

Per masked layer: find its block structure, build every applicable fast form, check it against the masked layer
on the input that layer really receives (the example batch, on the run's device), time the correct forms and
masked dense interleaved, and swap in the fastest only if it beats masked dense by ``min_speedup``. Layers that
stay masked get their mask baked into the weight (same values, no per-call multiply). Optionally the whole model is
then timed end to end against dense eager and dense compiled.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from typing import cast

import torch
from torch import nn
from torch.nn.utils import prune

from rgp_bench.core.layer_types import WeightLayer
from rgp_bench.measure.latency import allocator_setting, thread_count, time_interleaved
from rgp_bench.measure.macs import mac_reduction, masked_layer_macs
from rgp_bench.speedup.capture import capture_inputs, set_submodule
from rgp_bench.speedup.end_to_end import (
    DENSE,
    DENSE_COMPILED,
    MASKED_MODEL,
    MATERIALISED,
    MATERIALISED_COMPILED,
    compile_frozen,
    dense_copy,
    measure_end_to_end,
)
from rgp_bench.speedup.errors import FormUnavailable
from rgp_bench.speedup.forms import DEFAULT_FORMS, LAYER_TYPES, MASKED, applicable_forms, bake_mask, copy_module
from rgp_bench.speedup.fuse import fuse_for_inference
from rgp_bench.speedup.kernel import kernel_status
from rgp_bench.speedup.packing import pack_blocks
from rgp_bench.speedup.report import CandidateResult, LayerReport, MaterialiseReport
from rgp_bench.speedup.structure import NotBlockStructured, analyse_mask

# Seconds per call of each named callable; the default times them interleaved with torch.utils.benchmark.
CandidateTimer = Callable[[Mapping[str, Callable[[], object]]], Mapping[str, float]]

TOLERANCE = 1e-5  # max |form - masked| / max |masked|
MIN_SPEEDUP = 1.05  # a form must beat masked dense by 5 %: smaller gaps are within timing noise here
MAX_PADDING_OVERHEAD = 1.5  # uneven groups: largest computed / kept connections accepted


def interleaved_timer(rounds: int = 5, min_run_time: float = 0.05) -> CandidateTimer:
    """The default layer timer: median over ``rounds`` interleaved ``blocked_autorange`` measurements."""
    def timer(calls: Mapping[str, Callable[[], object]]) -> dict[str, float]:
        times = time_interleaved(calls, rounds=rounds, min_run_time=min_run_time)
        return {name: statistics.median(values) for name, values in times.items()}

    return timer


def relative_error(output: torch.Tensor, reference: torch.Tensor) -> float:
    """max |output - reference| / max |reference| (the absolute error if the reference is all zeros)."""
    diff = (output.float() - reference.float()).abs().max().item()
    scale = reference.float().abs().max().item()
    return diff / scale if scale > 0 else diff


def describe_layer(module: WeightLayer) -> str:
    """E.g. ``Conv2d 64→128 3×3 s2`` or ``Linear 512→512``."""
    kind = type(module).__name__
    if isinstance(module, nn.Linear):
        return f"{kind} {module.in_features}→{module.out_features}"
    kernel = "×".join(str(k) for k in module.kernel_size)
    stride = max(module.stride)
    return f"{kind} {module.in_channels}→{module.out_channels} {kernel}" + (f" s{stride}" if stride > 1 else "")


def masked_copy(model: nn.Module, masks: Mapping[str, torch.Tensor] | None, device: torch.device) -> nn.Module:
    """An eval-mode, grad-free copy of ``model`` on ``device``, with ``masks`` attached (if given) via prune."""
    masked = copy_module(model).to(device).eval()
    modules = dict(masked.named_modules())
    for name, mask in (masks or {}).items():
        if name not in modules:
            raise ValueError(f"mask for unknown module {name!r}")
        prune.custom_from_mask(modules[name], "weight", mask.to(device=device, dtype=torch.float32))
    masked.requires_grad_(False)
    return masked


def masked_layer_names(model: nn.Module) -> list[str]:
    """Conv/linear layers carrying a prune mask on their weight, in module order."""
    return [name for name, m in model.named_modules() if isinstance(m, LAYER_TYPES) and hasattr(m, "weight_mask")]


def _build_candidates(module: nn.Module, x: torch.Tensor, reference: torch.Tensor, report: LayerReport,
                      forms: Sequence[str], tolerance: float) -> dict[str, nn.Module] | None:
    """Build and check every applicable form; record each in the report. None if the layer must stay masked."""
    try:
        structure = analyse_mask(cast(torch.Tensor, module.weight_mask))  # the buffer torch's prune adds
    except NotBlockStructured as exc:
        report.structure, report.reason = "not block-structured", f"kept masked: {exc}"
        return None
    packing = pack_blocks(structure)
    report.structure = structure.describe()
    report.padding_overhead = packing.padding_overhead
    if packing.padding_overhead > MAX_PADDING_OVERHEAD:
        report.reason = (f"kept masked: uneven groups, padding to equal chunks would compute "
                         f"{packing.padding_overhead:.2f}× the kept connections (limit {MAX_PADDING_OVERHEAD}×)")
        return None
    built: dict[str, nn.Module] = {}
    for form in applicable_forms(module, forms):
        result = CandidateResult(form.name)
        report.candidates.append(result)
        try:
            candidate = form.build(module, packing).to(x.device).eval()
            with torch.inference_mode():
                result.error = relative_error(candidate(x), reference)
        except FormUnavailable as exc:
            result.note = str(exc)
            continue
        if result.error > tolerance:
            result.note = f"incorrect: relative error {result.error:.1e} > {tolerance:.0e}"
            continue
        built[form.name] = candidate
    if not built:
        notes = "; ".join(f"{c.form}: {c.note}" for c in report.candidates) or "no form handles this layer type"
        report.reason = f"kept masked: no usable fast form ({notes})"
        return None
    return built


def _choose(module: nn.Module, x: torch.Tensor, built: Mapping[str, nn.Module], report: LayerReport,
            timer: CandidateTimer, min_speedup: float) -> str:
    """Time masked dense and the built forms; the fastest form wins if it beats masked dense by min_speedup."""
    # mypy cannot infer a lambda whose parameter default binds the loop variable.
    calls = {MASKED: lambda: module(x), **{name: (lambda m=m: m(x)) for name, m in built.items()}}  # type: ignore[misc]
    with torch.inference_mode():
        seconds = timer(calls)
    report.masked_seconds = seconds[MASKED]
    for result in report.candidates:
        if result.form in built:
            result.seconds = seconds[result.form]
            result.ratio = seconds[MASKED] / seconds[result.form]
    best = max(built, key=lambda name: seconds[MASKED] / seconds[name])
    ratio = seconds[MASKED] / seconds[best]
    if ratio >= min_speedup:
        report.reason = f"fastest correct form, {ratio:.2f}× masked dense"
        return best
    report.reason = f"kept masked: slower (best {best} {ratio:.2f}× < {min_speedup}×)"
    return MASKED


def materialise(
    model: nn.Module,
    masks: Mapping[str, torch.Tensor] | None,
    example_batch: torch.Tensor,
    device: str | torch.device = "cpu",
    threads: int | None = 1,
    *,
    forms: Sequence[str] = DEFAULT_FORMS,
    timer: CandidateTimer | None = None,
    min_speedup: float = MIN_SPEEDUP,
    tolerance: float = TOLERANCE,
    forced: Mapping[str, str] | None = None,
    end_to_end: bool = True,
    compile_dense: bool = True,
    compile_materialised: bool = False,
    end_to_end_rounds: int = 7,
    fuse: bool = True,
    deadline: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[nn.Module, MaterialiseReport]:
    """Replace the masked layers of ``model`` by faster equivalent forms, for inference at ``example_batch``'s shape.

    ``masks`` (layer name -> boolean keep-mask of the weight's shape) are attached to a copy of ``model``; None uses
    the prune masks the model already carries. ``model`` itself is never modified. Timing runs with ``threads``
    threads (restored afterwards) through ``timer`` (default :func:`interleaved_timer`). ``forced`` maps layer
    names to a form (or "masked") to use without timing, e.g. a previous report's ``chosen_forms()``.

    With ``fuse``, BatchNorms are then folded into the layers before them and ReLUs / residual adds moved into the
    C++ kernels' epilogues (:mod:`rgp_bench.speedup.fuse`); the model becomes a ``torch.fx.GraphModule``.

    Returns the materialised model (eval mode, no gradients, outputs within ``tolerance`` of the masked model's)
    and the report. ``end_to_end`` also times dense eager, dense compiled (if ``compile_dense``), masked and
    materialised models at the example's batch size, and the materialised model compiled as a whole if
    ``compile_materialised``.
    """
    device = torch.device(device)
    example = example_batch.to(device)
    timer = timer or interleaved_timer()
    forced = dict(forced or {})
    with thread_count(threads):
        masked = masked_copy(model, masks, device)
        names = masked_layer_names(masked)
        inputs = capture_inputs(masked, names, example)
        macs = masked_layer_macs(masked, example[:1])
        fast = copy_module(masked)
        layers = []
        for index, name in enumerate(names):
            module = cast(WeightLayer, masked.get_submodule(name))  # masked_layer_names: conv/linear layers
            report = LayerReport(name, describe_layer(module), "", None, macs[name].dense, macs[name].effective,
                                 out_channels=int(module.weight.shape[0]), in_channels=int(module.weight.shape[1]),
                                 kernel=tuple(module.weight.shape[2:]), stride=max(getattr(module, "stride", (1,))))
            layers.append(report)
            choice = MASKED
            if name not in forced and deadline is not None and time.perf_counter() > deadline:
                report.reason = "kept masked: the latency time budget was spent before this layer was timed"
                set_submodule(fast, name, bake_mask(module))
                if progress is not None:
                    progress(index + 1, len(names))
                continue
            with torch.inference_mode():
                reference = module(inputs[name])
            built = _build_candidates(module, inputs[name], reference, report, forms, tolerance)
            if name in forced:
                choice = forced[name]
                if choice != MASKED and (built is None or choice not in built):
                    raise ValueError(f"forced form {choice!r} is not usable for {name}: {report.reason or 'failed'}")
                report.reason = f"forced: {choice}"
            elif built:
                choice = _choose(module, inputs[name], built, report, timer, min_speedup)
            report.chosen = choice
            # A form is chosen only from the built candidates, so `built` is a dict here.
            set_submodule(fast, name, bake_mask(module) if choice == MASKED
                          else cast("dict[str, nn.Module]", built)[choice])
            if progress is not None:
                progress(index + 1, len(names))
        fast.eval().requires_grad_(False)
        fusion = "off"
        if fuse:
            fast, fused = fuse_for_inference(fast, example)
            fast.eval().requires_grad_(False)
            fusion = fused.describe()
        with torch.inference_mode():
            output_error = relative_error(fast(example), masked(example))
        if output_error > tolerance:
            raise RuntimeError(f"materialised model differs from the masked one: relative error {output_error:.1e}")
        summary = MaterialiseReport(
            batch_size=int(example.shape[0]), device=str(device), threads=torch.get_num_threads(),
            torch_version=torch.__version__, allocator=allocator_setting(), kernel=kernel_status().detail,
            forms=tuple(forms), min_speedup=min_speedup, layers=layers, output_error=output_error, fusion=fusion,
        )
        if end_to_end:
            dense = dense_copy(masked)
            variants = {DENSE: dense}
            if compile_dense:
                variants[DENSE_COMPILED] = compile_frozen(dense)
            variants.update({MASKED_MODEL: masked, MATERIALISED: fast})
            if compile_materialised:
                variants[MATERIALISED_COMPILED] = compile_frozen(fast)
            summary.end_to_end = measure_end_to_end(variants, example, torch.get_num_threads(),
                                                    mac_reduction(macs), rounds=end_to_end_rounds)
    return fast, summary
