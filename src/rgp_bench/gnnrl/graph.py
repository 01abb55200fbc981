"""The network's topology for GNN-RL, read off the model itself with torch.fx (no per-architecture builders).

Level 2 is the whole network: one node per tensor, one edge per operation from each tensor it reads to the
tensor it writes, so a residual add or a concatenation is a node with several in-edges. Level 1 is one motif
graph per conv/linear layer (see features.py, which sizes the motifs by the current channel counts); a
conv/linear edge on level 2 carries its motif's embedding, every other edge a learned embedding of its
operation kind (OP_KINDS). The topology does not change when channels are pruned; only the features and
the motif sizes do.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, fx, nn
from torch.fx.passes.shape_prop import ShapeProp, TensorMetadata
from torch.nn.modules.batchnorm import _BatchNorm

from rgp_bench.core.layer_types import CONVS, WEIGHT_LAYERS
from rgp_bench.pruning.channels import ChannelGroup
from rgp_bench.pruning.channels.groups import OUTPUT_ROLES
from rgp_bench.pruning.channels.shortcut import SHORTCUT_TYPES

# Fixed vocabularies (model-independent, so an encoder trained on one network can read another).
OP_KINDS: tuple[str, ...] = ("conv", "depthwise", "linear", "norm", "activation", "pool", "add", "mul", "concat",
                             "reshape", "shortcut", "dropout", "other")
LAYER_KINDS: tuple[str, ...] = ("conv", "depthwise", "linear")
NODE_ROLES: tuple[str, ...] = ("input", "hidden", "output")

_ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.SiLU, nn.GELU, nn.Hardswish, nn.Hardsigmoid, nn.Sigmoid,
                nn.Tanh, nn.ELU, nn.PReLU)
_POOLS = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.MaxPool1d, nn.AvgPool1d,
          nn.AdaptiveAvgPool1d)
_FUNCTIONS: dict[object, str] = {
    F.adaptive_avg_pool1d: "pool", F.max_pool1d: "pool",
    F.relu: "activation", F.relu6: "activation", torch.relu: "activation", F.silu: "activation",
    F.gelu: "activation", F.hardswish: "activation", torch.sigmoid: "activation", F.sigmoid: "activation",
    torch.tanh: "activation", F.leaky_relu: "activation",
    F.adaptive_avg_pool2d: "pool", F.avg_pool2d: "pool", F.max_pool2d: "pool", F.adaptive_max_pool2d: "pool",
    operator.add: "add", torch.add: "add", operator.iadd: "add", operator.mul: "mul", torch.mul: "mul",
    torch.cat: "concat", torch.concat: "concat", torch.flatten: "reshape", F.dropout: "dropout",
}
_METHODS: dict[str, str] = {"relu": "activation", "relu_": "activation", "sigmoid": "activation", "add": "add",
                            "add_": "add", "mul": "mul", "mul_": "mul", "flatten": "reshape", "view": "reshape",
                            "reshape": "reshape", "mean": "pool"}


@dataclass(frozen=True)
class NetworkGraph:
    """Level-2 topology of one architecture, and its conv/linear layers (one level-1 motif each).

    Nodes are tensors in execution order. `node_group[v]` is the channel group holding tensor v's channels when
    a module writes them (a producer, depthwise conv, BN or option-A shortcut), else None; `node_inputs[v]`
    lists the tensors its channel count follows otherwise (empty: the count never changes).
    """

    layers: tuple[str, ...]
    layer_kinds: tuple[str, ...]
    node_roles: Tensor  # long [N], index into NODE_ROLES
    node_channels: Tensor  # float [N], dense size of dim 1 (features for 2-D tensors)
    node_layer: Tensor  # long [N], the layer that writes the tensor, or -1
    node_group: tuple[str | None, ...]
    node_inputs: tuple[tuple[int, ...], ...]
    edge_index: Tensor  # long [2, E], reader -> written tensor
    edge_op: Tensor  # long [E], index into OP_KINDS
    edge_layer: Tensor  # long [E], the conv/linear layer of the edge, or -1

    @property
    def num_nodes(self) -> int:
        return int(self.node_roles.numel())

    @property
    def num_layers(self) -> int:
        return len(self.layers)


class _Tracer(fx.Tracer):
    """torch.fx tracer that keeps option-A shortcuts as single operations."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return isinstance(m, SHORTCUT_TYPES) or super().is_leaf_module(m, module_qualified_name)


def layer_kind(module: nn.Module) -> str:
    """"depthwise" for a depthwise conv, "conv" for any other conv, "linear" for a linear layer."""
    if not isinstance(module, CONVS):
        return "linear"
    depthwise = module.groups > 1 and module.groups == module.in_channels == module.out_channels
    return "depthwise" if depthwise else "conv"


def _op_kind(node: fx.Node, modules: dict[str, nn.Module]) -> str:
    """OP_KINDS entry of an fx node, "identity" for a no-op module."""
    if node.op == "call_module":
        module = modules[str(node.target)]
        if isinstance(module, WEIGHT_LAYERS):
            return layer_kind(module)
        if isinstance(module, nn.Identity):
            return "identity"
        for types, kind in ((_BatchNorm, "norm"), (nn.LayerNorm | nn.GroupNorm, "norm"), (_ACTIVATIONS, "activation"),
                            (_POOLS, "pool"), (nn.Flatten, "reshape"), (nn.Dropout, "dropout"),
                            (SHORTCUT_TYPES, "shortcut")):
            if isinstance(module, types):
                return kind
        return "other"
    if node.op == "call_function":
        return _FUNCTIONS.get(node.target, "other")
    if node.op == "call_method":
        return _METHODS.get(str(node.target), "other")
    return "other"


def _shapes(model: nn.Module, example: Tensor) -> fx.GraphModule:
    """The traced model with every node's output shape recorded (one eval forward, no gradients)."""
    traced = fx.GraphModule(model, _Tracer().trace(model))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            ShapeProp(traced).propagate(example)
    finally:
        model.train(was_training)
    return traced


def build_network_graph(model: nn.Module, example: Tensor, groups: Sequence[ChannelGroup]) -> NetworkGraph:
    """The level-2 graph of `model` (traced once with `example`) and its conv/linear layers.

    `groups` (find_channel_groups) say which channel group each module's output channels belong to.
    """
    traced = _shapes(model, example)
    modules = dict(traced.named_modules())
    writes = {m.module: g.id for g in groups for m in g.members if m.role in OUTPUT_ROLES}
    ids: dict[fx.Node, int] = {}
    roles: list[int] = []
    channels: list[float] = []
    node_layer: list[int] = []
    node_group: list[str | None] = []
    node_inputs: list[tuple[int, ...]] = []
    edges: list[tuple[int, int, int, int]] = []
    layers: dict[str, int] = {}
    kinds: list[str] = []

    def add_node(node: fx.Node, role: str, layer: int, group: str | None, inputs: tuple[int, ...]) -> int:
        shape = node.meta["tensor_meta"].shape
        ids[node] = len(roles)
        roles.append(NODE_ROLES.index(role))
        channels.append(float(shape[1]) if len(shape) > 1 else 1.0)
        node_layer.append(layer)
        node_group.append(group)
        node_inputs.append(inputs)
        return ids[node]

    for node in traced.graph.nodes:
        if node.op == "output":
            for source in node.all_input_nodes:
                if source in ids:
                    roles[ids[source]] = NODE_ROLES.index("output")
            continue
        if not isinstance(node.meta.get("tensor_meta"), TensorMetadata):
            continue  # sizes, tuples and other non-tensor values are not part of the data flow
        if node.op == "placeholder":
            add_node(node, "input", -1, None, ())
            continue
        inputs = tuple(dict.fromkeys(ids[a] for a in node.all_input_nodes if a in ids))
        if not inputs:
            continue  # constants (get_attr) carry no activations
        kind = _op_kind(node, modules)
        if kind == "identity":
            ids[node] = inputs[0]
            continue
        layer = -1
        follows: tuple[int, ...] = inputs
        if kind in LAYER_KINDS:
            name = str(node.target)
            if name not in layers:
                layers[name] = len(kinds)
                kinds.append(kind)
            layer = layers[name]
            if kind != "depthwise":
                follows = ()  # a layer's own output count is set by its group, or stays dense
        group = writes.get(str(node.target)) if node.op == "call_module" else None
        target = add_node(node, "hidden", layer, group, follows)
        edges += [(source, target, OP_KINDS.index(kind), layer) for source in inputs]

    edge = torch.tensor(edges, dtype=torch.long).reshape(-1, 4)
    return NetworkGraph(
        layers=tuple(layers), layer_kinds=tuple(kinds), node_roles=torch.tensor(roles, dtype=torch.long),
        node_channels=torch.tensor(channels), node_layer=torch.tensor(node_layer, dtype=torch.long),
        node_group=tuple(node_group), node_inputs=tuple(node_inputs), edge_index=edge[:, :2].T.contiguous(),
        edge_op=edge[:, 2].contiguous(), edge_layer=edge[:, 3].contiguous(),
    )
