"""Exact MACs of a channel keep assignment, without running the model again.

The project's MAC counter (rgp_bench.measure.macs) scales each conv/linear layer's dense MACs by the share of
its weights its mask keeps. A channel mask removes whole output rows and input columns, so that share is
(kept output positions / outputs) x (kept input positions / inputs): one factor for a depthwise conv (its input
dim has size 1), two for an ordinary layer. Option-A shortcuts, BN and the channel gates cost no MACs under the
project's convention. This gives exactly measure_costs' `total.macs_effective` on the channel-masked model, and
the dense count of the physically pruned one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from rgp_bench.core.layer_types import WEIGHT_LAYERS
from rgp_bench.measure.macs import effective_macs, layer_macs
from rgp_bench.pruning.channels.groups import ChannelGroup
from rgp_bench.pruning.channels.keep import removed_channels


@dataclass(frozen=True)
class _LayerDim:
    group: str
    channels: Tensor  # group channel at each position along this dim


@dataclass(frozen=True)
class _Layer:
    name: str
    macs: int
    numel: int
    sizes: tuple[int, int]  # weight dims 0 (outputs) and 1 (inputs)
    dims: tuple[_LayerDim | None, _LayerDim | None]


class ChannelMacs:
    """MAC counter for keep sets over `groups` of one architecture.

    `dense_macs` are the dense MACs of every conv/linear layer (measure.macs.layer_macs, or
    measure_costs(...).module_macs); the model's are their sum.
    """

    def __init__(self, model: nn.Module, groups: Iterable[ChannelGroup], dense_macs: Mapping[str, int]) -> None:
        self.groups = tuple(groups)
        self.total = int(sum(dense_macs.values()))
        dims: dict[tuple[str, int], _LayerDim] = {}
        for group in self.groups:
            for member in group.with_role("producer", "consumer", "depthwise"):
                dims[(member.module, member.dim)] = _LayerDim(group.id, torch.tensor(member.channels))
        self._layers = tuple(
            _Layer(name, int(dense_macs.get(name, 0)), module.weight.numel(),
                   (module.weight.shape[0], module.weight.shape[1]), (dims.get((name, 0)), dims.get((name, 1))))
            for name, module in model.named_modules() if isinstance(module, WEIGHT_LAYERS)
        )

    @classmethod
    def measure(cls, model: nn.Module, example: Tensor, groups: Iterable[ChannelGroup]) -> ChannelMacs:
        """Count the dense MACs once, with one forward pass of `example`."""
        return cls(model, groups, layer_macs(model, example))

    def macs(self, keep: Mapping[str, Tensor]) -> int:
        """Effective MACs of the model masked to `keep` (groups missing from `keep` are kept whole)."""
        removed_channels(self.groups, keep)
        return self._macs(keep)

    def reduction(self, keep: Mapping[str, Tensor]) -> float:
        """Fraction of the dense model's MACs that `keep` removes."""
        return 1.0 - self.macs(keep) / self.total

    def layer_macs(self, keep: Mapping[str, Tensor]) -> dict[str, int]:
        """Effective MACs per conv/linear layer."""
        removed_channels(self.groups, keep)
        return {layer.name: self._layer_macs(layer, keep) for layer in self._layers}

    def layer_widths(self, keep: Mapping[str, Tensor]) -> dict[str, tuple[int, int]]:
        """Kept (output, input) positions of every conv/linear layer's weight (dims 0 and 1; 1 for depthwise)."""
        removed_channels(self.groups, keep)
        return {layer.name: self._kept(layer, keep) for layer in self._layers}

    def dense_widths(self) -> dict[str, tuple[int, int]]:
        """Dense (output, input) sizes of every conv/linear layer's weight, in model order."""
        return {layer.name: layer.sizes for layer in self._layers}

    def dense_layer_macs(self) -> dict[str, int]:
        """Dense MACs of every conv/linear layer, in model order."""
        return {layer.name: layer.macs for layer in self._layers}

    def _macs(self, keep: Mapping[str, Tensor]) -> int:
        return self.total - sum(layer.macs - self._layer_macs(layer, keep) for layer in self._layers)

    @staticmethod
    def _kept(layer: _Layer, keep: Mapping[str, Tensor]) -> tuple[int, int]:
        out, inp = (size if dim is None or dim.group not in keep else int(keep[dim.group][dim.channels].sum())
                    for size, dim in zip(layer.sizes, layer.dims, strict=True))
        return out, inp

    @classmethod
    def _layer_macs(cls, layer: _Layer, keep: Mapping[str, Tensor]) -> int:
        kept = cls._kept(layer, keep)
        return effective_macs(layer.macs, layer.numel // (layer.sizes[0] * layer.sizes[1]) * kept[0] * kept[1],
                              layer.numel)
