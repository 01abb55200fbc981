"""Inference fusions for a materialised model: fold eval-mode BatchNorm into the layer before it, and move ReLUs and
residual additions into the C++ kernels' epilogues.

The model is traced with ``torch.fx`` (every fast-form module is a leaf) and its shapes propagated on the example
batch. Then, in graph order:

- ``bn(layer(x))`` where the layer's output feeds only the BatchNorm (eval mode, running statistics): the BN becomes
  a per-channel scale of the layer's weights and a bias. Layers: Conv1d / Conv2d / Linear (torch's own
  ``fuse_conv_bn_eval`` / ``fuse_linear_bn_eval``; Linear only on 2-D outputs, where BatchNorm1d normalises the
  features) and the C++ forms.
- ``layer(x) + r`` (or ``r + layer(x)``, in place or not) where the layer is a C++ convolution form with no epilogue
  yet and ``r`` has the output's shape: the kernel adds ``r`` before storing.
- ``relu(layer(x))`` where the layer is a C++ form: the kernel applies the ReLU before storing.
- Parameter-free ``nn.ReLU`` / ``nn.Flatten`` / ``nn.Identity`` modules left over become plain function calls (a
  module call costs about 1.7 us more, which matters at batch 1); a ReLU of a Conv / Linear output used only there
  runs in place.
- The remaining dense Conv1d / Conv2d / Linear layers read their parameters from ``_parameters`` (same
  computation; ``self.weight`` on an ``nn.Module`` first fails a normal attribute lookup, about a microsecond).

The result is a ``torch.fx.GraphModule`` computing the same function (BN folding changes rounding only), with its
submodules pinned as plain attributes (:func:`pin_submodules`). A model that fx cannot trace is returned as it is,
with the reason.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import TypeVar, cast

import torch
import torch.nn.functional as F
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp
from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval

from rgp_bench.core.layer_types import WeightLayer
from rgp_bench.speedup.direct import BlockSparseConv
from rgp_bench.speedup.linear import BlockSparseLinear

KernelForm = BlockSparseConv | BlockSparseLinear
KERNEL_FORMS: tuple[type[KernelForm], ...] = (BlockSparseConv, BlockSparseLinear)
# The layers a BatchNorm folds into.
_FOLDABLE: tuple[type[WeightLayer | KernelForm], ...] = (nn.Conv1d, nn.Conv2d, nn.Linear, *KERNEL_FORMS)
_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)
_RELU_FUNCTIONS = {F.relu, torch.relu, torch.relu_}
_ADD_FUNCTIONS = {operator.add, operator.iadd, torch.add}
ModuleT = TypeVar("ModuleT", bound=nn.Module)


@dataclass
class FusionReport:
    """What :func:`fuse_for_inference` did: folded BatchNorms, fused ReLUs and residuals (module names)."""

    batch_norms: list[str] = field(default_factory=list)
    relus: list[str] = field(default_factory=list)
    residuals: list[str] = field(default_factory=list)
    skipped: str = ""  # why nothing was fused (e.g. the model is not traceable), else ""

    def describe(self) -> str:
        if self.skipped:
            return f"no fusion: {self.skipped}"
        return (f"{len(self.batch_norms)} BatchNorms folded, {len(self.relus)} ReLUs and {len(self.residuals)} "
                "residual adds fused into kernels")


class DictLinear(nn.Linear):
    """``nn.Linear`` whose forward reads its parameters from the dict (see the module docstring)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self._parameters
        # A layer's weight is never None; an ignore rather than cast() keeps this hot path one call shorter.
        return F.linear(x, p["weight"], p["bias"])  # type: ignore[arg-type]


class DictConv1d(nn.Conv1d):
    """``nn.Conv1d`` whose forward reads its parameters from the dict (see the module docstring)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self._parameters
        # A layer's weight is never None; an ignore rather than cast() keeps this hot path one call shorter.
        return self._conv_forward(x, p["weight"], p["bias"])  # type: ignore[arg-type]


class DictConv2d(nn.Conv2d):
    """``nn.Conv2d`` whose forward reads its parameters from the dict (see the module docstring)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self._parameters
        # A layer's weight is never None; an ignore rather than cast() keeps this hot path one call shorter.
        return self._conv_forward(x, p["weight"], p["bias"])  # type: ignore[arg-type]


_DICT_LAYERS = {nn.Linear: DictLinear, nn.Conv1d: DictConv1d, nn.Conv2d: DictConv2d}


class _LeafTracer(fx.Tracer):
    """Traces through model code but not into the fast forms (their forwards call the kernels)."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return type(m).__module__.startswith("rgp_bench.speedup") or super().is_leaf_module(m, qualname)


def _module_name(node: fx.Node) -> str:
    """The qualified name a ``call_module`` node calls (fx types every target as ``str | Callable``)."""
    return cast(str, node.target)


def _module(gm: fx.GraphModule, node: fx.Node) -> nn.Module | None:
    return gm.get_submodule(_module_name(node)) if node.op == "call_module" else None


def _sole_producer(gm: fx.GraphModule, node: fx.node.Argument, types: tuple[type[ModuleT], ...]) -> ModuleT | None:
    """The module that computes ``node`` if it is one of ``types`` and ``node`` has exactly one user."""
    if not isinstance(node, fx.Node) or len(node.users) != 1:
        return None
    module = _module(gm, node)
    return module if isinstance(module, types) else None


def _shape(node: object) -> tuple[torch.Size, torch.dtype] | None:
    meta = node.meta.get("tensor_meta") if isinstance(node, fx.Node) else None
    return (meta.shape, meta.dtype) if meta is not None and hasattr(meta, "shape") else None


def _is_relu(gm: fx.GraphModule, node: fx.Node) -> bool:
    if node.op == "call_module":
        return isinstance(_module(gm, node), nn.ReLU)
    if node.op == "call_function":
        return node.target in _RELU_FUNCTIONS and len(node.args) == 1 and set(node.kwargs) <= {"inplace"}
    return node.op == "call_method" and node.target in ("relu", "relu_") and len(node.args) == 1


def _is_add(node: fx.Node) -> bool:
    if node.op == "call_function":
        return node.target in _ADD_FUNCTIONS and len(node.args) == 2 and not node.kwargs
    return node.op == "call_method" and node.target in ("add", "add_") and len(node.args) == 2 and not node.kwargs


def _fold_batch_norm(gm: fx.GraphModule, node: fx.Node, report: FusionReport) -> bool:
    bn = _module(gm, node)
    if not isinstance(bn, _BATCH_NORMS) or bn.training or bn.running_mean is None or len(node.args) != 1:
        return False
    producer = node.args[0]
    if not isinstance(producer, fx.Node):  # as _sole_producer would answer; narrows for the checker
        return False
    layer = _sole_producer(gm, producer, _FOLDABLE)
    if layer is None or getattr(layer, "relu", False) or len(producer.args) != 1:
        return False
    if isinstance(layer, nn.Linear | BlockSparseLinear) or getattr(layer, "kind", "") == "Linear":
        shape = _shape(producer)
        if shape is None or len(shape[0]) != 2:  # BatchNorm1d on (N, C, L) normalises dim 1, not the features
            return False
    if isinstance(layer, KernelForm):
        layer.fold_batch_norm(bn)
    else:
        fused = fuse_linear_bn_eval(layer, bn) if isinstance(layer, nn.Linear) else fuse_conv_bn_eval(layer, bn)
        _replace_submodule(gm, _module_name(producer), fused)
    node.replace_all_uses_with(producer)
    gm.graph.erase_node(node)
    report.batch_norms.append(str(producer.target))
    return True


def _fuse_residual(gm: fx.GraphModule, node: fx.Node, report: FusionReport) -> bool:
    in_place = node.target in (operator.iadd, "add_")
    for mine, other in ((0, 1), (1, 0)):
        producer, residual = node.args[mine], node.args[other]
        if not isinstance(producer, fx.Node):  # as _sole_producer would answer; narrows for the checker
            continue
        conv = _sole_producer(gm, producer, (BlockSparseConv,))
        if conv is None or conv.kind == "Linear" or conv.relu or len(producer.args) != 1:
            continue
        if not isinstance(residual, fx.Node) or _shape(residual) is None or _shape(residual) != _shape(producer):
            continue
        if in_place and other == 0 and len(residual.users) > 1:  # `r += layer(x)` changes r for its other users
            continue
        node.prepend(producer)  # the residual must exist before the kernel runs; the kernel's inputs already do
        producer.args = (producer.args[0], residual)
        node.replace_all_uses_with(producer)
        gm.graph.erase_node(node)
        report.residuals.append(str(producer.target))
        return True
    return False


def _fuse_relu(gm: fx.GraphModule, node: fx.Node, report: FusionReport) -> bool:
    producer = node.args[0] if node.args else None
    if not isinstance(producer, fx.Node):  # as _sole_producer would answer; narrows for the checker
        return False
    layer = _sole_producer(gm, producer, KERNEL_FORMS)
    if layer is None or layer.relu:
        return False
    layer.relu = True
    node.replace_all_uses_with(producer)
    gm.graph.erase_node(node)
    report.relus.append(str(producer.target))
    return True


def _inline_module(gm: fx.GraphModule, node: fx.Node) -> bool:
    """Replace a call of a parameter-free ReLU / Flatten / Identity module by the function it computes."""
    module = _module(gm, node)
    if type(module) not in (nn.ReLU, nn.Flatten, nn.Identity) or len(node.args) != 1 or node.kwargs:
        return False
    (source,) = node.args
    if isinstance(module, nn.Identity):
        node.replace_all_uses_with(cast(fx.Node, source))  # a traced module call's input is a Node
        gm.graph.erase_node(node)
        return True
    with gm.graph.inserting_before(node):
        if isinstance(module, nn.Flatten):
            call = gm.graph.call_method("flatten", (source, module.start_dim, module.end_dim))
        else:
            fresh = (isinstance(source, fx.Node) and len(source.users) == 1
                     and isinstance(_module(gm, source), nn.Linear | nn.Conv1d | nn.Conv2d))
            call = gm.graph.call_function(torch.relu_ if fresh else torch.relu, (source,))
    call.meta = dict(node.meta)
    node.replace_all_uses_with(call)
    gm.graph.erase_node(node)
    return True


def _replace_submodule(gm: fx.GraphModule, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(gm.get_submodule(parent_name) if parent_name else gm, child, module)


def pin_submodules(model: nn.Module) -> None:
    """Make ``parent.child`` a plain instance attribute for every submodule, so that the generated forward's
    ``getattr(self.features, "0")`` costs a dict lookup instead of a failed ``__getattribute__`` (a formatted
    AttributeError) followed by ``nn.Module.__getattr__``: about a microsecond per call, which adds up at batch 1.

    ``nn.Module.__setattr__`` drops the instance attribute when a child is reassigned, so the pin cannot go stale
    that way; the model is an inference artefact, so children are not deleted from it.
    """
    for module in model.modules():
        for name, child in module._modules.items():
            if child is not None:
                object.__setattr__(module, name, child)


def fuse_for_inference(model: nn.Module, example: torch.Tensor) -> tuple[nn.Module, FusionReport]:
    """``model`` (eval mode, already a copy the caller owns: its modules are changed in place) with the fusions of
    the module docstring, and what was fused."""
    report = FusionReport()
    try:
        graph = _LeafTracer().trace(model)
    except Exception as exc:  # fx cannot trace data-dependent control flow and some Python constructs
        report.skipped = f"torch.fx cannot trace the model ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
        return model, report
    gm = fx.GraphModule(model, graph, class_name=type(model).__name__)
    try:
        with torch.inference_mode():
            ShapeProp(gm).propagate(example)
    except Exception as exc:  # the traced graph does not run as traced (e.g. it mutates its input)
        report.skipped = f"the traced graph does not run ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
        return model, report
    for node in list(gm.graph.nodes):
        if node.op == "call_module":
            _fold_batch_norm(gm, node, report)
    for node in list(gm.graph.nodes):
        if _is_add(node):
            _fuse_residual(gm, node, report)
        elif _is_relu(gm, node):
            _fuse_relu(gm, node, report)
    for node in list(gm.graph.nodes):
        if node.op == "call_module" and not _inline_module(gm, node):
            module = _module(gm, node)
            if (module is not None and type(module) in _DICT_LAYERS and not module._forward_hooks
                    and not module._forward_pre_hooks):
                module.__class__ = _DICT_LAYERS[type(module)]
    gm.graph.lint()
    gm.delete_all_unused_submodules()
    gm.recompile()
    # fx wraps every call in a frame that rewrites tracebacks (about 3 us); the fused model is a plain module.
    type(gm).__call__ = nn.Module.__call__  # type: ignore[method-assign]  # deliberately, as said above
    pin_submodules(gm)
    return gm, report
