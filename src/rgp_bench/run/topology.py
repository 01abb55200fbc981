"""The run's topology phase: the panel of the applied masks (rgp_bench.measure.topology), at initialisation.

Every run gets it, whatever the method: the masks in force on the prunable layers (all-True where a layer is not
masked), the current weights for the weighted spectral gap, the example input for the effective paths and nodes,
and, when the method reports a block node count (`method_info["nodes"]`: rgp and its controls), that count, so
the node graph (ASPL, its bound, diameter, spectra) is recovered from the masks themselves.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from rgp_bench.measure.topology import Topology, measure_topology
from rgp_bench.pruning import PrunableLayer, current_masks


def block_nodes(method_info: dict[str, Any]) -> int | None:
    """The node count of a block-structured method's graph, or None when the method reports none."""
    nodes = method_info.get("nodes")
    return nodes if isinstance(nodes, int) and not isinstance(nodes, bool) else None


def run_topology(model: nn.Module, layers: list[PrunableLayer], example: torch.Tensor, method_info: dict[str, Any],
                 group_sizes: str = "larger_first") -> Topology:
    """The topology panel of the masks applied to `layers` of `model` (on CPU copies of the masks)."""
    return measure_topology(current_masks(layers), model=model, example=example,
                            block_nodes=block_nodes(method_info), group_sizes=group_sizes)
