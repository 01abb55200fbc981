"""NPB's effective paths, effective parameters and effective nodes (compact transcription).

Source: pvh1602/NPB, commit 090830c388bcbf7fa62260343e76e5a2eb55f41d, `Utils/metrics.py::measure_node_path` with
`Pruners/utils.py::copynet` (`IgnoreBatchnorm2d`, `ScaleAdaptiveAvgPool2d`).

Semantics kept: a float64 copy of the network with its masks multiplied into weights of 1 (NPB sets every parameter
to 1 and multiplies by its `weight_mask` buffers in forward), BatchNorm the identity, adaptive average pooling scaled
by the input's h·w, one all-ones input sample; effective paths = the sum of the output; effective parameters =
the 2-D and 4-D weights with a non-zero gradient of that sum; effective nodes = for every 4-D weight whose name has
no "shortcut", its input channels with an effective weight, and for every 2-D weight its effective inputs and its
effective outputs.

Adapted, as the project's definition (docs/topology.md): biases are 0, not 1 (NPB's `p.data.copy_(ones)` reaches
biases too, which adds paths that start at a bias); every BatchNorm is the identity (NPB's copynet replaces only
BatchNorm2d); ReLU6 becomes ReLU.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


class _Masked(nn.Module):
    def __init__(self, layer: nn.Module, mask: torch.Tensor) -> None:
        super().__init__()
        self.layer = layer
        self.register_buffer("weight_mask", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.layer.weight * self.weight_mask
        if isinstance(self.layer, nn.Linear):
            return F.linear(x, w, self.layer.bias)
        return self.layer._conv_forward(x, w, self.layer.bias)


class _ScaleAdaptiveAvgPool2d(nn.AdaptiveAvgPool2d):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, _, h, w = x.shape
        return h * w * F.adaptive_avg_pool2d(x, self.output_size)


def _replace(net: nn.Module, name: str, new: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(net.get_submodule(parent) if parent else net, child, new)


def measure_node_path(model: nn.Module, masks: Mapping[str, torch.Tensor],
                      input_shape: tuple[int, ...]) -> tuple[float, int, int]:
    """(effective paths, effective params, effective nodes), NPB's `measure_node_path` on `model` under `masks`."""
    net = copy.deepcopy(model).double().eval()
    for name, module in list(net.named_modules()):
        if isinstance(module, _BatchNorm):
            _replace(net, name, nn.Identity())
        elif isinstance(module, nn.ReLU6):
            _replace(net, name, nn.ReLU())
        elif isinstance(module, nn.AdaptiveAvgPool2d):
            _replace(net, name, _ScaleAdaptiveAvgPool2d(module.output_size))
    for p in net.parameters():
        p.data.copy_(torch.ones_like(p))
    for name, module in list(net.named_modules()):
        if isinstance(module, nn.Conv2d | nn.Conv1d | nn.Linear):
            if module.bias is not None:
                module.bias.data.zero_()
            if name in masks:
                _replace(net, name, _Masked(module, masks[name].double()))

    y = net(torch.ones((1, *input_shape), dtype=torch.float64))
    loss = y.sum()
    loss.backward()
    eff_paths = loss.item()

    eff_params = 0
    eff_neurons = 0
    for name, param in net.named_parameters():
        if "weight" not in name or len(param.shape) not in (2, 4):
            continue
        effective = torch.where(param.grad != 0, 1, 0).numpy()
        eff_params += int(np.sum(effective))
        if len(param.shape) == 4 and "shortcut" not in name:
            eff_neurons += int(np.where(np.sum(effective, axis=(0, 2, 3)) > 0, 1, 0).sum())
        if len(param.shape) == 2:
            eff_neurons += int(np.where(np.sum(effective, axis=0) > 0, 1, 0).sum())
            eff_neurons += int(np.where(np.sum(effective, axis=1) > 0, 1, 0).sum())
    return eff_paths, eff_params, eff_neurons
