"""A run's measured inference latency: dense, masked and materialised variants, timed interleaved per batch size.

The materialised variant is what can run faster than the masked model:
- a MAC-budget (channel) method's model with its removed channels physically removed (Torch-Pruning);
- a weight-budget method's model whose masks have block structure (RGP and its graph ablations), with each
  block-masked layer replaced by the fastest measured fast form of `rgp_bench.speedup` — only where that is
  measured faster than the masked layer, at the largest latency batch size;
- none for unstructured masks (no layer has block structure).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch
from torch import nn

from rgp_bench.measure.latency import allocator_setting, compare_variants
from rgp_bench.record.schema import BatchLatency, Latency, MaterialisedLayer, VariantLatency
from rgp_bench.speedup import dense_copy, kernel_status, load_kernel, materialise

log = logging.getLogger(__name__)
DENSE, MASKED, MATERIALISED = "dense", "masked", "materialised"


def materialise_blocks(model: nn.Module, batch: torch.Tensor, device: torch.device, threads: int,
                       build_kernel: bool) -> tuple[nn.Module | None, list[MaterialisedLayer], str]:
    """Block-masked layers replaced where measured faster; (model, or None when every layer stays masked,
    the per-layer choices and reasons, the C++ kernel's status)."""
    if build_kernel:
        load_kernel(build=True)
    fast, report = materialise(model, None, batch, device, threads, end_to_end=False)
    layers = [MaterialisedLayer(name=layer.name, form=layer.chosen, speedup=layer.speedup, reason=layer.reason)
              for layer in report.layers]
    swapped = any(layer.chosen != "masked" for layer in report.layers)
    return (fast if swapped else None), layers, kernel_status().detail


def measure_inference(model: nn.Module, example: torch.Tensor, prunable: Sequence[str], *, budget: str,
                      batch_sizes: Sequence[int], rounds: int, min_run_time: float, device: torch.device,
                      threads: int, build_kernel: bool) -> Latency:
    """Time the run's model (masked), its dense counterpart and its materialised form, interleaved."""
    masked = model.eval()
    variants: dict[str, nn.Module] = {DENSE: dense_copy(masked).eval(), MASKED: masked}
    layers: list[MaterialisedLayer] = []
    kind, kernel = None, "not used"
    largest = torch.zeros(max(batch_sizes), *example.shape[1:], device=device)
    if budget == "macs":
        from rgp_bench.pruning.channels import materialise_channels  # torch-pruning: only for channel methods

        variants[MATERIALISED], kind = materialise_channels(masked, example, prunable), "channels removed"
    else:
        fast, layers, kernel = materialise_blocks(masked, largest, device, threads, build_kernel)
        if fast is not None:
            variants[MATERIALISED], kind = fast, "block-sparse forms where faster"
    with torch.no_grad():
        reference = masked(largest[:2])
        for name, variant in variants.items():
            if name == MATERIALISED:
                error = float((variant(largest[:2]) - reference).abs().max() / reference.abs().max().clamp_min(1e-12))
                if error > 1e-4:
                    raise RuntimeError(f"the materialised model differs from the masked one (relative {error:.1e})")
    timings = compare_variants(variants, tuple(example.shape[1:]), device=device, threads=threads,
                               batch_sizes=tuple(batch_sizes), baseline=DENSE, rounds=rounds, min_run_time=min_run_time)
    batches = [BatchLatency(batch_size=bs, variants={
        name: VariantLatency(median=v.median, iqr=v.iqr, measurements=v.measurements, speedup=v.speedup)
        for name, v in comparison.variants.items()}) for bs, comparison in timings.items()]
    final = batches[-1].variants
    return Latency(device=str(device), threads=threads, torch_version=torch.__version__, allocator=allocator_setting(),
                   materialised=kind, kernel=kernel, speedup=final.get(MATERIALISED, final[MASKED]).speedup,
                   speedup_batch=batches[-1].batch_size, batches=batches, layers=layers)
