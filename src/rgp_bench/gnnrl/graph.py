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
from dataclasses import dataclass, field

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
    writes = {m.module: g.id for g in groups for m in g.members if m.role in OUTPUT_ROLES}
    builder = _GraphBuilder(dict(traced.named_modules()), writes)
    for node in traced.graph.nodes:
        builder.visit(node)
    return builder.build()


@dataclass
class _GraphBuilder:
    """Collects the level-2 nodes (tensors) and edges (operations) of a traced model, one fx node at a time."""

    modules: dict[str, nn.Module]
    writes: dict[str, str]  # module name -> id of the channel group its output channels belong to
    ids: dict[fx.Node, int] = field(default_factory=dict)  # fx node -> graph node (a no-op shares its input's)
    roles: list[int] = field(default_factory=list)
    channels: list[float] = field(default_factory=list)
    node_layer: list[int] = field(default_factory=list)
    node_group: list[str | None] = field(default_factory=list)
    node_inputs: list[tuple[int, ...]] = field(default_factory=list)
    edges: list[tuple[int, int, int, int]] = field(default_factory=list)  # (source, target, op kind, layer)
    layers: dict[str, int] = field(default_factory=dict)  # conv/linear module name -> layer index
    kinds: list[str] = field(default_factory=list)

    def visit(self, node: fx.Node) -> None:
        """Add `node`'s tensor and its in-edges (or mark outputs, or skip what carries no activations)."""
        if node.op == "output":
            for source in node.all_input_nodes:
                if source in self.ids:
                    self.roles[self.ids[source]] = NODE_ROLES.index("output")
            return
        if not isinstance(node.meta.get("tensor_meta"), TensorMetadata):
            return  # sizes, tuples and other non-tensor values are not part of the data flow
        if node.op == "placeholder":
            self._add_node(node, "input", -1, None, ())
            return
        inputs = tuple(dict.fromkeys(self.ids[a] for a in node.all_input_nodes if a in self.ids))
        if not inputs:
            return  # constants (get_attr) carry no activations
        kind = _op_kind(node, self.modules)
        if kind == "identity":
            self.ids[node] = inputs[0]
            return
        self._add_operation(node, kind, inputs)

    def _add_operation(self, node: fx.Node, kind: str, inputs: tuple[int, ...]) -> None:
        """The tensor an operation writes, with one edge from each tensor it reads."""
        layer = -1
        follows: tuple[int, ...] = inputs
        if kind in LAYER_KINDS:
            layer = self._layer_index(str(node.target), kind)
            if kind != "depthwise":
                follows = ()  # a layer's own output count is set by its group, or stays dense
        group = self.writes.get(str(node.target)) if node.op == "call_module" else None
        target = self._add_node(node, "hidden", layer, group, follows)
        self.edges += [(source, target, OP_KINDS.index(kind), layer) for source in inputs]

    def _layer_index(self, name: str, kind: str) -> int:
        if name not in self.layers:
            self.layers[name] = len(self.kinds)
            self.kinds.append(kind)
        return self.layers[name]

    def _add_node(self, node: fx.Node, role: str, layer: int, group: str | None, inputs: tuple[int, ...]) -> int:
        shape = node.meta["tensor_meta"].shape
        self.ids[node] = len(self.roles)
        self.roles.append(NODE_ROLES.index(role))
        self.channels.append(float(shape[1]) if len(shape) > 1 else 1.0)
        self.node_layer.append(layer)
        self.node_group.append(group)
        self.node_inputs.append(inputs)
        return self.ids[node]

    def build(self) -> NetworkGraph:
        edge = torch.tensor(self.edges, dtype=torch.long).reshape(-1, 4)
        return NetworkGraph(
            layers=tuple(self.layers), layer_kinds=tuple(self.kinds),
            node_roles=torch.tensor(self.roles, dtype=torch.long), node_channels=torch.tensor(self.channels),
            node_layer=torch.tensor(self.node_layer, dtype=torch.long), node_group=tuple(self.node_group),
            node_inputs=tuple(self.node_inputs), edge_index=edge[:, :2].T.contiguous(),
            edge_op=edge[:, 2].contiguous(), edge_layer=edge[:, 3].contiguous(),
        )
