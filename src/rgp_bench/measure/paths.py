"""Effective paths, effective weights and effective nodes of a masked network (Pham et al., NeurIPS 2023, NPB).

NPB (pvh1602/NPB @090830c3, `Utils/metrics.py::measure_node_path` with `Pruners/utils.py::copynet`) sets every
parameter of a float64 copy of the network to 1 (pruned weights stay 0 through their masks), makes BatchNorm the
identity and average pooling a sum, feeds one all-ones input and reads: the **effective paths**, the sum of the
outputs (the number of input→output paths made of kept weights); the **effective parameters**, the weights whose
gradient of that sum is non-zero (those on at least one such path); the **effective nodes**, the channels that carry
an effective weight (NPB: per conv, its input channels; for the classifier, its inputs and outputs).

Here both passes run as interpreters over the model's torch.fx graph (conv/linear weights replaced by the masks,
all-ones for layers that are not pruned):

- the *count* pass carries path counts in the log domain: every conv/linear output is divided by its largest
  entry and the log of the divisor travels with the tensor; a residual sum or a concatenation first brings its
  operands to a common scale. Counts never overflow (float64 would near 1e308: ResNet-110 gets close).
- the *reach* pass clips every conv/linear output to {0, 1} forwards and its gradient to {0, 1} backwards, so a
  weight's gradient is positive exactly when it joins a unit the input reaches to a unit that reaches the output.
  That is NPB's non-zero-gradient test without overflow or underflow. Max pooling is an OR over its window there.

Deviations from NPB's code (docs/topology.md): biases are 0, not 1 (only paths from the input count); ReLU6 and
hardtanh are the identity (the path structure alone, as the layer-collapse check); an AvgPool sums its whole window
(NPB scales by the kernel size, not its area); effective nodes count each tensor a weight layer reads once, plus the
output units (NPB's count for CNNs with one linear classifier; its loop counts an MLP's hidden units twice).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import fx, nn
from torch.fx.node import map_aggregate
from torch.nn.modules.batchnorm import _BatchNorm

from rgp_bench.core.layer_types import WEIGHT_LAYERS


class PathError(ValueError):
    """The model's graph has an operation the path interpreter cannot count through (the message names it)."""


@dataclass
class _Scaled:
    """A tensor of path counts stored as `value · exp(log)`."""

    value: torch.Tensor
    log: float = 0.0


@dataclass(frozen=True)
class LayerPaths:
    """A weight layer's share of the effective structure."""

    kept_weights: int
    effective_weights: int  # kept weights on at least one input→output path
    effective_in_channels: int  # input channels with an effective weight
    effective_out_channels: int  # output channels with an effective weight


@dataclass(frozen=True)
class NetworkPaths:
    """NPB's effective paths, parameters and nodes of a whole masked network."""

    log10_paths: float | None  # log10 of the number of effective paths (None: no path survives)
    effective_params: int  # over every conv/linear weight, pruned layers or not
    kept_params: int
    total_params: int
    effective_nodes: int
    total_nodes: int
    layers: dict[str, LayerPaths]  # every conv/linear layer, by module name


_IDENTITY_MODULES = (_BatchNorm, nn.ReLU, nn.ReLU6, nn.Hardtanh, nn.LeakyReLU, nn.Identity, nn.Dropout, nn.Dropout1d,
                     nn.Dropout2d)
_APPLY_MODULES = (nn.Flatten, nn.Unflatten)
_MAX_POOLS = (nn.MaxPool1d, nn.MaxPool2d)
_AVG_POOLS = (nn.AvgPool1d, nn.AvgPool2d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)
_ADD = {operator.add, operator.iadd, torch.add}
_IDENTITY_FUNCTIONS = {F.relu, torch.relu, F.relu6, F.hardtanh, F.leaky_relu, F.dropout}
_APPLY_FUNCTIONS = {F.pad, operator.getitem, torch.flatten, torch.reshape, getattr}
_MAX_POOL_FUNCTIONS = {F.max_pool1d: 1, F.max_pool2d: 2}
_AVG_POOL_FUNCTIONS = {F.avg_pool1d: 1, F.avg_pool2d: 2, F.adaptive_avg_pool1d: 1, F.adaptive_avg_pool2d: 2}
_APPLY_METHODS = {"flatten", "view", "reshape", "contiguous", "permute", "transpose", "squeeze", "unsqueeze", "size",
                  "dim"}
_ADD_METHODS = {"add", "add_", "__add__", "__iadd__"}
_IDENTITY_METHODS = {"relu", "relu_"}


class _Clip01(torch.autograd.Function):
    """Reachability: forward (x > 0), backward (gradient > 0), both as 0/1 of the input's dtype."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        return (grad > 0).to(grad.dtype)


def _tuple(value: int | tuple[int, ...], dims: int) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, tuple | list) else (int(value),) * dims


def _sum_pool(out: torch.Tensor, x: torch.Tensor, dims: int, kernel: int | tuple[int, ...] | None) -> torch.Tensor:
    """An average pooling's output `out` (of `x`) scaled to the sum over each window (NPB's ScaleAvgPool2d and
    ScaleAdaptiveAvgPool2d). `kernel` None: adaptive pooling, whose windows must all have one size."""
    if kernel is not None:
        return out * math.prod(_tuple(kernel, dims))
    windows = []
    for size, target in zip(x.shape[-dims:], out.shape[-dims:], strict=True):
        if size % target:
            raise PathError(f"effective paths: adaptive average pooling from {size} to {target} has windows of "
                            "different sizes; supported: input sizes divisible by the output size")
        windows.append(size // target)
    return out * math.prod(windows)


_POOL_PARAMS = ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices")


class _PathInterpreter(fx.Interpreter):
    """Runs a traced model on path counts (`reach=False`) or on 0/1 reachability (`reach=True`)."""

    def __init__(self, graph: fx.GraphModule, weights: Mapping[str, torch.Tensor], reach: bool) -> None:
        super().__init__(graph, garbage_collect_values=True)
        self.extra_traceback = False  # keep PathError messages to one line (and skip torch's structured logging)
        self.weights = weights
        self.reach = reach
        self.layer_inputs: list[tuple[str, str]] = []  # (layer name, the fx node it reads), per call
        self._node: fx.Node | None = None

    def run_node(self, n: fx.Node) -> Any:
        self._node = n
        return super().run_node(n)

    # -- helpers ---------------------------------------------------------------------------------------------------

    def _finish_layer(self, y: torch.Tensor, log: float) -> _Scaled:
        if self.reach:
            return _Scaled(_Clip01.apply(y))
        top = float(y.max()) if y.numel() else 0.0
        if top > 0.0:
            return _Scaled(y / top, log + math.log(top))
        return _Scaled(y, log)

    @staticmethod
    def _unwrap(obj: Any) -> Any:
        return map_aggregate(obj, lambda v: v.value if isinstance(v, _Scaled) else v)

    @staticmethod
    def _scaled(obj: Any) -> list[_Scaled]:
        found: list[_Scaled] = []
        map_aggregate(obj, lambda v: found.append(v) if isinstance(v, _Scaled) else None)
        return found

    def _apply(self, fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        scaled = self._scaled((args, kwargs))
        if len({s.log for s in scaled}) > 1:
            raise PathError(f"effective paths: {self._where()} combines tensors of different scales")
        out = fn(*self._unwrap(args), **self._unwrap(kwargs))
        return _Scaled(out, scaled[0].log) if isinstance(out, torch.Tensor) and scaled else out

    def _common(self, operands: list[_Scaled]) -> tuple[list[torch.Tensor], float]:
        top = max(s.log for s in operands)
        return [s.value * math.exp(s.log - top) if s.log != top else s.value for s in operands], top

    def _add(self, args: tuple) -> _Scaled:
        if len(args) != 2 or not all(isinstance(a, _Scaled) for a in args):
            raise PathError(f"effective paths: {self._where()} adds a constant; supported: sums of two tensors")
        (a, b), log = self._common(list(args))
        return _Scaled(a + b, log)

    def _cat(self, args: tuple, kwargs: dict) -> _Scaled:
        values, log = self._common(list(args[0]))
        return _Scaled(torch.cat(values, *args[1:], **kwargs), log)

    def _max_pool(self, fn: Callable[..., torch.Tensor], dims: int, x: _Scaled, params: dict[str, Any]) -> Any:
        if not self.reach:  # NPB's forward keeps max pooling
            return _Scaled(fn(x.value, **params), x.log)
        if any(d != 1 for d in _tuple(params.get("dilation", 1), dims)) or params.get("return_indices"):
            raise PathError(f"effective paths: {self._where()} is a dilated max pool or returns indices; "
                            "supported: dilation 1, values only")
        pool = F.avg_pool1d if dims == 1 else F.avg_pool2d
        kernel = params["kernel_size"]
        # A stride of None means the kernel size (torch's default), which the stubs leave out.
        stride = cast(Any, params.get("stride"))
        summed = pool(x.value, kernel, stride, params.get("padding", 0), params.get("ceil_mode", False))
        # OR over the window: every position of a reached window passes the gradient back.
        return _Scaled(_Clip01.apply(summed * math.prod(_tuple(kernel, dims))))

    def _where(self) -> str:
        return f"operation {self._node.format_node() if self._node is not None else '?'}"

    def _unsupported(self, what: object) -> PathError:
        return PathError(f"effective paths: unsupported operation {what} in the model ({self._where()})")

    # -- node kinds ------------------------------------------------------------------------------------------------

    def placeholder(self, target: Any, args: tuple, kwargs: dict) -> Any:
        return _Scaled(super().placeholder(target, args, kwargs))

    def call_module(self, target: Any, args: tuple, kwargs: dict) -> Any:
        module = self.fetch_attr(target)
        if isinstance(module, WEIGHT_LAYERS):
            x = args[0]
            node = self._node.args[0] if self._node is not None else None
            self.layer_inputs.append((target, node.name if isinstance(node, fx.Node) else ""))
            w = self.weights[target]
            y = F.linear(x.value, w) if isinstance(module, nn.Linear) else module._conv_forward(x.value, w, None)
            return self._finish_layer(y, x.log)
        if isinstance(module, _IDENTITY_MODULES):
            return args[0]
        if isinstance(module, _APPLY_MODULES):
            return self._apply(module, args, kwargs)
        if isinstance(module, _MAX_POOLS):
            params = {k: getattr(module, k) for k in _POOL_PARAMS}
            return self._max_pool(F.max_pool1d if isinstance(module, nn.MaxPool1d) else F.max_pool2d,
                                  1 if isinstance(module, nn.MaxPool1d) else 2, args[0], params)
        if isinstance(module, _AVG_POOLS):
            dims = 1 if isinstance(module, nn.AvgPool1d | nn.AdaptiveAvgPool1d) else 2
            x = args[0]
            kernel = getattr(module, "kernel_size", None)  # None: adaptive
            return _Scaled(_sum_pool(module(x.value), x.value, dims, kernel), x.log)
        raise self._unsupported(type(module).__name__)

    def call_function(self, target: Any, args: tuple, kwargs: dict) -> Any:
        if target in _ADD:
            return self._add(args)
        if target is torch.cat:
            return self._cat(args, kwargs)
        if target in _IDENTITY_FUNCTIONS:
            return args[0]
        if target in _APPLY_FUNCTIONS:
            if target is F.pad and float(kwargs.get("value", args[3] if len(args) > 3 else 0.0) or 0.0) != 0.0:
                raise PathError(f"effective paths: {self._where()} pads with a non-zero value")
            return self._apply(target, args, kwargs)
        if target in _MAX_POOL_FUNCTIONS:
            params = dict(zip(_POOL_PARAMS, args[1:], strict=False)) | kwargs
            return self._max_pool(target, _MAX_POOL_FUNCTIONS[target], args[0], params)
        if target in _AVG_POOL_FUNCTIONS:
            x = args[0]
            adaptive = target in (F.adaptive_avg_pool1d, F.adaptive_avg_pool2d)
            kernel = None if adaptive else kwargs.get("kernel_size", args[1] if len(args) > 1 else None)
            out = target(x.value, *args[1:], **kwargs)
            return _Scaled(_sum_pool(out, x.value, _AVG_POOL_FUNCTIONS[target], kernel), x.log)
        raise self._unsupported(getattr(target, "__name__", target))

    def call_method(self, target: Any, args: tuple, kwargs: dict) -> Any:
        if target in _ADD_METHODS:
            return self._add(args)
        if target in _IDENTITY_METHODS:
            return args[0]
        if target in _APPLY_METHODS:
            return self._apply(lambda obj, *a, **k: getattr(obj, target)(*a, **k), args, kwargs)
        raise self._unsupported(f"Tensor.{target}")

    def get_attr(self, target: Any, args: tuple, kwargs: dict) -> Any:
        raise self._unsupported(f"a direct use of the parameter or buffer {target}")


def _weights(model: nn.Module, masks: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Every conv/linear layer's weight as the path interpreter uses it: its mask, or all ones (float64 leaves that
    record their gradient)."""
    out = {}
    for name, module in model.named_modules():
        if isinstance(module, WEIGHT_LAYERS):
            mask = masks.get(name)
            w = (torch.ones(module.weight.shape, dtype=torch.float64) if mask is None
                 else mask.detach().to("cpu", torch.float64, copy=True))
            out[name] = w.requires_grad_(True)
    return out


def _input_channel_flags(effective: torch.Tensor, module: nn.Module) -> torch.Tensor:
    """Which input channels (or features) of a layer an effective weight reads; `effective` is (out, in per group)."""
    groups = getattr(module, "groups", 1)
    out_ch, in_per_group = effective.shape
    return effective.reshape(groups, out_ch // groups, in_per_group).any(1).reshape(-1)


def network_paths(model: nn.Module, masks: Mapping[str, torch.Tensor], example: torch.Tensor) -> NetworkPaths:
    """NPB's effective paths (log domain), effective weights and effective nodes of `model` under `masks`.

    `masks` maps module names to boolean weight masks (the prunable layers); every other conv/linear layer counts as
    dense. `example` gives the input shape (its first dimension is the batch). The model is not modified; raises
    PathError (one line) when its graph has an operation the interpreter does not support.
    """
    try:
        traced = fx.symbolic_trace(model)
    except Exception as exc:  # any tracing failure is reported the same way
        raise PathError(f"effective paths: the model cannot be traced by torch.fx ({exc})") from None
    modules = dict(model.named_modules())
    ones = torch.ones((1, *example.shape[1:]), dtype=torch.float64)
    weights = _weights(model, masks)
    with torch.no_grad():
        counted = _PathInterpreter(traced, weights, reach=False).run(ones.clone())
    if not isinstance(counted, _Scaled):
        raise PathError("effective paths: the model's output is not a single tensor")
    total = float(counted.value.sum())
    log10_paths = (math.log(total) + counted.log) / math.log(10) if total > 0 else None

    reach = _PathInterpreter(traced, weights, reach=True)
    out = reach.run(ones.clone())
    reached = _Clip01.apply(out.value)
    if reached.requires_grad:
        reached.sum().backward()
    layers: dict[str, LayerPaths] = {}
    reads: dict[str, torch.Tensor] = {}  # fx node -> which of its channels an effective weight reads
    for name, node in reach.layer_inputs:
        w = weights[name]
        kept = w.detach() > 0
        effective = kept & (w.grad > 0) if w.grad is not None else torch.zeros_like(kept)
        flat = effective.reshape(effective.shape[0], effective.shape[1], -1).any(2)
        in_flags = _input_channel_flags(flat, modules[name])
        reads[node] = reads[node] | in_flags if node in reads else in_flags
        layers[name] = LayerPaths(kept_weights=int(kept.sum()), effective_weights=int(effective.sum()),
                                  effective_in_channels=int(in_flags.sum()),
                                  effective_out_channels=int(flat.any(1).sum()))
    output_units = int(reached.numel())
    effective_nodes = sum(int(flags.sum()) for flags in reads.values()) + int((reached > 0).sum())
    total_nodes = sum(int(flags.numel()) for flags in reads.values()) + output_units
    return NetworkPaths(
        log10_paths=log10_paths,
        effective_params=sum(layer.effective_weights for layer in layers.values()),
        kept_params=sum(layer.kept_weights for layer in layers.values()),
        total_params=sum(int(weights[name].numel()) for name in layers),
        effective_nodes=effective_nodes, total_nodes=total_nodes, layers=layers)
