"""The materialised form of a run's pruned model: what runs faster than the masked one.

- Channel (MAC-budget) methods: the removed channels are physically removed (Torch-Pruning), so the model
  is smaller and its outputs equal the masked model's.
- Block-structured methods (RGP's block-regular masks; a method declares `block_structured` at registration): each
  block-masked layer becomes a gather + grouped convolution (a batched matmul for linear layers), the exportable
  form of `rgp_bench.speedup`.
- Unstructured masks have no materialised form.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from rgp_bench.core.errors import UserError
from rgp_bench.methods import get_method
from rgp_bench.pruning import find_prunable_layers


def materialise_for_export(model: nn.Module, saved: dict[str, Any], method_budget: str, method: str) -> nn.Module:
    """The run's model in its materialised form (see the module docstring); UserError where there is none."""
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
        from rgp_bench.speedup import materialise

        # The exportable block forms only (the C++ kernel and compiled tap-sum need rgp-bench at run time),
        # swapped in wherever the layer has block structure, whatever their speed.
        fast, _ = materialise(model, None, example.expand(2, *example.shape[1:]), forms=("grouped", "bmm"),
                              min_speedup=0.0, end_to_end=False)
        return fast.eval()
    raise UserError(f"method {method} prunes single weights, which have no materialised form; "
                    "export it without --materialise")
