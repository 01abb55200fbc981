"""The materialised form of a run's pruned model: what runs faster than the masked one.

- Channel (MAC-budget) methods: the removed channels are physically removed (Torch-Pruning), so the model
  is smaller and its outputs equal the masked model's.
- Block-structured methods (RGP's block-regular masks; a method declares `block_structured` at registration): for
  the `pt` format (`fastest=True`), each block-masked layer becomes the fastest
  form measured on this machine, as the run's latency phase chooses it (`rgp_bench.speedup.materialise` and its
  interleaved timer, at the run's largest latency batch size and thread count): the C++ kernel forms where the
  kernel is available, which the exported program calls as the operators `rgp_bench::block_sparse_*` (a plain
  torch process loads them with `torch.ops.load_library`). For ONNX (no custom operators) and by default, the
  portable forms: a gather + grouped convolution (a batched matmul for linear layers), whatever their speed.
- Unstructured masks have no materialised form.
"""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import nn

from rgp_bench.core.errors import UserError
from rgp_bench.methods import get_method
from rgp_bench.pruning import find_prunable_layers
from rgp_bench.speedup.report import MaterialiseReport

PORTABLE_FORMS = ("grouped", "bmm")
# On a Linear layer the direct convolution sees the batch as its image width, whose tiling is fixed when traced:
# not exportable with a dynamic batch, so such a layer takes its next fastest form.
BATCH_SHAPED_ON_LINEAR = ("direct", "direct_shift")


def latency_setting(record: dict[str, Any], saved: dict[str, Any]) -> tuple[int, int]:
    """(batch size, threads) at which the run chose its materialised forms: its largest latency batch size and its
    latency threads (1 where the record has no latency measurement)."""
    latency = (record.get("cost") or {}).get("latency") or {}
    sizes = ((saved["config"].get("measure") or {}).get("latency") or {}).get("batch_sizes") or [64]
    return int(max(sizes)), int(latency.get("threads") or 1)


def exportable_choices(report: MaterialiseReport) -> dict[str, str] | None:
    """The report's chosen forms with every Linear layer's batch-shaped choice replaced by its fastest exportable
    candidate (or "masked" when none beats masked dense by the report's min_speedup); None if nothing changes."""
    forced, changed = {}, False
    for layer in report.layers:
        forced[layer.name] = layer.chosen
        if layer.kernel == () and layer.chosen in BATCH_SHAPED_ON_LINEAR:
            others = [c for c in layer.candidates if c.ratio is not None and c.form not in BATCH_SHAPED_ON_LINEAR
                      and c.ratio >= report.min_speedup]
            # `others` all have a ratio (filtered above).
            forced[layer.name] = max(others, key=lambda c: cast(float, c.ratio)).form if others else "masked"
            changed = True
    return forced if changed else None


def materialise_for_export(model: nn.Module, saved: dict[str, Any], method_budget: str, method: str, *,
                           fastest: bool = False, batch_size: int = 64, threads: int = 1) -> nn.Module:
    """The run's model in its materialised form (see the module docstring); UserError where there is none.

    ``fastest`` chooses the block forms by timing at ``batch_size`` with ``threads`` threads (C++ kernel forms
    included, building the kernel if needed); otherwise the portable forms are used everywhere."""
    from omegaconf import OmegaConf

    if method_budget == "none":  # the dense reference: nothing was pruned, so the model is its own materialised form
        return model.eval()
    cfg = OmegaConf.create(saved["config"])
    example = torch.zeros(1, *saved["input_shape"])
    prunable = [layer.name for layer in find_prunable_layers(model, example, cfg.layers,
                                                             channels=method_budget == "macs")]
    if method_budget == "macs":
        from rgp_bench.pruning.channels import materialise_channels  # torch-pruning: only for channel methods

        return materialise_channels(model, example, prunable)
    if get_method(method).block_structured:
        from rgp_bench.speedup import UNCOMPILED_FORMS, load_kernel, materialise

        if fastest:
            load_kernel(build=True)
            batch = torch.zeros(batch_size, *example.shape[1:])
            fast, report = materialise(model, None, batch, "cpu", threads, forms=UNCOMPILED_FORMS, end_to_end=False)
            if (forced := exportable_choices(report)) is not None:
                fast, _ = materialise(model, None, batch, "cpu", threads, forms=UNCOMPILED_FORMS, forced=forced,
                                      end_to_end=False)
        else:  # swapped in wherever the layer has block structure, whatever their speed
            fast, _ = materialise(model, None, example.expand(2, *example.shape[1:]), forms=PORTABLE_FORMS,
                                  min_speedup=0.0, end_to_end=False)
        return fast.eval()
    raise UserError(f"method {method} prunes single weights, which have no materialised form; "
                    "export it without --materialise")
