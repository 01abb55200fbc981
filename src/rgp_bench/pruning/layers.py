"""Which layers a method may prune. Every method at a given ratio sees exactly this list."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from rgp_bench.config.schema import LayersCfg
from rgp_bench.core.errors import UserError
from rgp_bench.core.forward import forward_once
from rgp_bench.core.layer_types import BY_NAME, WEIGHT_LAYERS, WeightLayer


@dataclass(frozen=True)
class PrunableLayer:
    """A conv/linear layer selected for pruning, with its position in execution order."""

    name: str
    module: WeightLayer
    order: int

    @property
    def weight_shape(self) -> tuple[int, ...]:
        return tuple(self.module.weight.shape)

    @property
    def out_channels(self) -> int:
        return self.weight_shape[0]

    @property
    def in_channels(self) -> int:
        return self.weight_shape[1]


def execution_order(model: nn.Module, example: torch.Tensor) -> list[str]:
    """Names of the conv/linear modules in the order a forward pass calls them."""
    order: list[str] = []
    forward_once(model, example, [
        module.register_forward_pre_hook(lambda _m, _i, name=name: order.append(name))
        for name, module in model.named_modules()
        if isinstance(module, WEIGHT_LAYERS)
    ])
    return list(dict.fromkeys(order))


def fixed_width_layers(model: nn.Module) -> tuple[str, ...]:
    """The layers whose output channels channel methods leave alone, as the model declares them
    (`FIXED_WIDTH_LAYERS`, e.g. VGG-16's hidden FC layers: GNN-RL's VGG-16 actions are its 13 convs)."""
    return tuple(getattr(model, "FIXED_WIDTH_LAYERS", ()))


def find_prunable_layers(model: nn.Module, example: torch.Tensor, cfg: LayersCfg, *,
                         channels: bool = False) -> list[PrunableLayer]:
    """Select prunable layers: the configured types, minus the stem, the classifier and explicit exclusions.

    The stem and the classifier are the first and the last conv/linear layer executed. Grouped convs
    are skipped unless `include_grouped` is set.

    `channels=True` gives the layer set of channel (MAC-budget) methods, which remove output channels: the
    stem is prunable whatever `exclude_stem` says (only its outputs can go; its input, the data, never does),
    and the model's fixed-width layers (fixed_width_layers) are not.
    """
    modules = dict(model.named_modules())
    unknown = [name for name in cfg.exclude if name not in modules]
    if unknown:
        layers = [name for name, m in modules.items() if isinstance(m, WEIGHT_LAYERS)]
        shown = ", ".join(layers[:6]) + (", ..." if len(layers) > 6 else "")
        raise UserError(f"layers.exclude names unknown module {unknown[0]!r}; valid: the model's conv/linear "
                        f"layers ({shown}; all in a record's cost.layers)")
    order = execution_order(model, example)
    skip = set(cfg.exclude)
    if channels:
        skip.update(fixed_width_layers(model))
    elif cfg.exclude_stem and order:
        skip.add(order[0])
    if cfg.exclude_classifier and order:
        skip.add(order[-1])
    types = tuple(BY_NAME[str(t)] for t in cfg.types)
    layers = [
        PrunableLayer(name, module, i)
        for i, name in enumerate(order)
        if name not in skip and isinstance(module := modules[name], types)
        and (cfg.include_grouped or getattr(module, "groups", 1) == 1)
    ]
    if not layers:
        raise UserError(
            "no prunable layers left after the layers.* exclusions; include more layer types or fewer exclusions"
        )
    return layers
