"""Option-A shortcuts as channel index maps, and their Torch-Pruning pruner.

`PadShortcut` (the CIFAR ResNets' parameter-free shortcut) subsamples and zero-pads channels with
`F.pad`, which Torch-Pruning cannot see through. We model it as an index map: output position j holds
input channel `source[j]`, or zero where `source[j] < 0`. Under that view the shortcut's input and output
channels belong to different channel groups (the residual streams of two stages); removing an input
channel turns the positions it fed into zeros, and removing an output position drops it. `IndexShortcut`
is the module that can represent any such map, so a physically pruned model carries one in place of each
`PadShortcut`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_pruning.pruner.function import BasePruningFunc

from rgp_bench.core.forward import forward_once
from rgp_bench.models.resnet_cifar import PadShortcut


class IndexShortcut(nn.Module):
    """Subsample by `stride`, then out[:, j] = x[:, source[j]] (or 0 where source[j] < 0). No parameters."""

    source: Tensor  # a buffer, declared so that attribute access is typed

    def __init__(self, stride: int, in_channels: int, source: Tensor) -> None:
        super().__init__()
        self.stride = stride
        self.in_channels = in_channels
        self.register_buffer("source", source.to(torch.long).clone())

    @classmethod
    def from_pad(cls, shortcut: PadShortcut, in_channels: int) -> IndexShortcut:
        """The index map equivalent to `shortcut` for `in_channels` input channels."""
        source = torch.cat([torch.full((shortcut.pad_front,), -1), torch.arange(in_channels),
                            torch.full((shortcut.pad_back,), -1)])
        return cls(shortcut.stride, in_channels, source)

    @property
    def out_channels(self) -> int:
        return int(self.source.numel())

    def forward(self, x: Tensor) -> Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        # One appended zero channel (index in_channels) serves every position with no source.
        x = F.pad(x, (0, 0, 0, 0, 0, 1))
        return x.index_select(1, torch.where(self.source < 0, self.in_channels, self.source))

    def extra_repr(self) -> str:
        return f"stride={self.stride}, in_channels={self.in_channels}, out_channels={self.out_channels}"


class ShortcutPruner(BasePruningFunc):
    """Torch-Pruning pruner for option-A shortcuts; input and output channels are not coupled.

    Registered for `PadShortcut` (channel counts only, recorded by a forward pass, since the module does not
    store its input width) and `IndexShortcut` (counts and in-place pruning).
    """

    TARGET_MODULES = (PadShortcut, IndexShortcut)

    def __init__(self, pad_channels: Mapping[nn.Module, tuple[int, int]] | None = None) -> None:
        super().__init__()
        self._pad_channels = dict(pad_channels or {})

    def prune_out_channels(self, layer: nn.Module, idxs: Sequence[int]) -> nn.Module:
        shortcut = _index_shortcut(layer)
        dropped = set(idxs)
        keep = [j for j in range(shortcut.out_channels) if j not in dropped]
        shortcut.source = shortcut.source[keep]
        return shortcut

    def prune_in_channels(self, layer: nn.Module, idxs: Sequence[int]) -> nn.Module:
        shortcut = _index_shortcut(layer)
        dropped = set(idxs)
        renumber = torch.full((shortcut.in_channels + 1,), -1, dtype=torch.long)  # last slot: source -1 stays -1
        kept = [c for c in range(shortcut.in_channels) if c not in dropped]
        renumber[kept] = torch.arange(len(kept))
        shortcut.source = renumber[shortcut.source]
        shortcut.in_channels = len(kept)
        return shortcut

    def get_out_channels(self, layer: nn.Module) -> int:
        return layer.out_channels if isinstance(layer, IndexShortcut) else self._pad_channels[layer][1]

    def get_in_channels(self, layer: nn.Module) -> int:
        return layer.in_channels if isinstance(layer, IndexShortcut) else self._pad_channels[layer][0]


def _index_shortcut(layer: nn.Module) -> IndexShortcut:
    if not isinstance(layer, IndexShortcut):
        raise TypeError(f"only IndexShortcut can be pruned in place, got {type(layer).__name__}; "
                        "convert it with IndexShortcut.from_pad first")
    return layer


def pad_shortcut_channels(model: nn.Module, example: Tensor) -> dict[nn.Module, tuple[int, int]]:
    """(input, output) channel counts of every PadShortcut in `model`, from one eval forward pass."""
    found: dict[nn.Module, tuple[int, int]] = {}

    def record(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
        found[module] = (int(inputs[0].shape[1]), int(output.shape[1]))

    hooks = [m.register_forward_hook(record) for m in model.modules() if isinstance(m, PadShortcut)]
    if hooks:
        forward_once(model, example, hooks)
    return found


SHORTCUT_TYPES: tuple[type[nn.Module], ...] = (PadShortcut, IndexShortcut)
