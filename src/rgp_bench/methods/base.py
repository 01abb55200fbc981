"""What a pruning method is: a typed settings schema plus a pure function from layers to masks.

A method is one module in this package (or a plugin module named in `$RGP_BENCH_PLUGINS`):

    @dataclass
    class TopKCfg(MethodCfg):
        name: str = "topk"
        scope: Scope = Scope.layer

    @register_method(TopKCfg, canonical_regime=Regime.finetune, style=MethodStyle("#e7ba52", "o"))
    def topk_masks(cfg: TopKCfg, layers, ratio, ctx) -> MaskResult:  # cfg: the run's method settings
        ...

plus `conf/method/<name>.yaml` (its defaults line and comments) and a test. The registry gives the config
its schema, validation its choices and the tests their variants. The method declares in code its
canonical regime, the basis of its budget, and what it needs from the run (`Need`): the runner supplies
only that, through `MaskContext`. The test split is never reachable from a method.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import torch
from omegaconf import MISSING, DictConfig
from torch import nn

from rgp_bench.config.choices import Budget, Choice, Regime
from rgp_bench.pruning.layers import PrunableLayer
from rgp_bench.record.schema import MethodFacts, MethodStyle


class Need(Choice):
    model = "model"
    train_batches = "train_batches"
    evaluate = "evaluate"
    costs = "costs"


Batch = tuple[torch.Tensor, torch.Tensor]


@dataclass
class MethodCfg:
    """Fields every method's settings have; a method's schema subclasses this."""

    name: str = MISSING


@dataclass
class MaskResult:
    """Boolean keep-masks, plus the method's facts for the run record.

    `masks` has one entry per prunable layer (its weight's mask); `param_masks` masks any other parameter by
    its `"module.param"` path (BN γ/β, biases, consumers' input columns), as channel methods need;
    `input_gates` zeroes input channels of parameter-free modules by module name (the option-A shortcuts of a
    channel-pruned CIFAR ResNet). `scores` (higher = keep, shaped like each layer's weight) are given by
    methods that rank weights, so a sanity check can invert them.
    """

    masks: dict[str, torch.Tensor]
    info: dict[str, Any] = field(default_factory=dict)
    # Multiply each layer's initial weights by this factor (only meaningful before training from scratch).
    init_scale: dict[str, float] = field(default_factory=dict)
    param_masks: dict[str, torch.Tensor] = field(default_factory=dict)
    input_gates: dict[str, torch.Tensor] = field(default_factory=dict)
    scores: dict[str, torch.Tensor] = field(default_factory=dict)


class MissingNeed(RuntimeError):
    """A method used a run input it did not declare in `needs`."""


def _missing(what: Need) -> Any:
    def fail(*_args: Any, **_kwargs: Any) -> Any:
        raise MissingNeed(f"the method did not declare needs={{{what}}}, so the run does not supply it")

    return fail


@dataclass(frozen=True)
class MaskContext:
    """Run inputs a mask function may use besides the layers, each supplied only when the method needs it.

    - `model`: a private copy of the model (pretrained in the finetune regime); mutate it freely.
    - `train_batches(count)`: a seeded iterator over `count` batches of the **training** split (None: one pass).
    - `evaluate(model)`: top-1 accuracy (%) of `model` on the validation split (carved from training data).
    - `costs(model)`: the cost report (params, MACs) exactly as the record will show it, for a masked model.
    `example` (one input), `num_classes` (the dataset's) and `device` are always there, and so are `state_dir` (a
    directory private to this run, kept until it completes: where a long search checkpoints, so a killed run
    resumes) and `log(metrics)` (to the run's tracker, e.g. a search's reward curve; a no-op without one).
    """

    seed: int
    cache_dir: Path | None = None
    progress: bool = False
    state_dir: Path | None = None
    log: Callable[[dict[str, Any]], None] = field(default=lambda _metrics: None)
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    example: torch.Tensor | None = None
    num_classes: int | None = None
    model: nn.Module | None = None
    train_batches: Callable[[int | None], Iterator[Batch]] = field(default=_missing(Need.train_batches))
    evaluate: Callable[[nn.Module], float] = field(default=_missing(Need.evaluate))
    costs: Callable[[nn.Module], Any] = field(default=_missing(Need.costs))


# A method's functions take its settings typed as its schema (`CfgT`, a MethodCfg subclass): at run time they get a
# structured DictConfig of that schema, which reads like it. A registered Method keeps them as taking `Any`.
CfgT = TypeVar("CfgT", bound=MethodCfg)
MaskFn = Callable[[CfgT, Sequence[PrunableLayer], float, MaskContext], MaskResult]
# (settings, prunable layers, ratio, model, example input) -> None; raises UserError when the method cannot prune
# these layers at this ratio. Runs at pre-flight, before any output directory exists.
CheckFn = Callable[[CfgT, Sequence[PrunableLayer], float, nn.Module, torch.Tensor], None]
# The regime `train.regime=auto` runs, from the settings.
AutoRegimeFn = Callable[[CfgT], Regime]


@dataclass(frozen=True)
class Method:
    """A registered pruning method: its schema, its mask function and what it declares about itself."""

    name: str
    schema: type[MethodCfg]
    compute_masks: MaskFn[Any]
    description: str
    canonical_regime: Regime
    # How every report and plot draws the method (each registered method has its own colour-and-marker pair).
    style: MethodStyle
    budget: Budget = Budget.weights
    needs: frozenset[Need] = frozenset()
    regimes: frozenset[Regime] = frozenset({Regime.scratch, Regime.finetune})
    # The method ranks weights by a score it returns in MaskResult.scores (so sanity=invert applies).
    scored: bool = False
    check: CheckFn[Any] | None = None
    # The regime `train.regime=auto` gives, from the method's settings (None: always `canonical_regime`).
    auto_regime: AutoRegimeFn[Any] | None = None
    # Its masks have RGP's regular block structure (rgp_bench.speedup's block kernels and export forms apply).
    block_structured: bool = False

    @property
    def exportable(self) -> bool:
        """The run's model has a materialised form: the dense reference is its own, a MAC-budget (channel) method's
        drops the removed channels, a block-structured method's runs block kernels; single weights have none."""
        return self.budget != Budget.weights or self.block_structured

    @property
    def facts(self) -> MethodFacts:
        """What the method declares about itself, as the run record stores it."""
        return MethodFacts(block_structured=self.block_structured, exportable=self.exportable, style=self.style)

    @property
    def prunes(self) -> bool:
        """False for the dense reference (budget `none`): it keeps every weight and its runs ignore `ratio`."""
        return self.budget != Budget.none

    def regime_for(self, method_cfg: DictConfig, requested: Regime) -> Regime:
        """The regime a run of this method trains in: `requested`, or for `auto` the method's own choice."""
        if requested != Regime.auto:
            return Regime(requested)
        return self.auto_regime(method_cfg) if self.auto_regime is not None else self.canonical_regime


def check_result(result: MaskResult, layers: Sequence[PrunableLayer], method: str) -> None:
    """A method must return exactly one boolean mask of the weight's shape per prunable layer."""
    names = {layer.name for layer in layers}
    if set(result.masks) != names:
        missing, extra = sorted(names - set(result.masks)), sorted(set(result.masks) - names)
        raise ValueError(f"method {method} returned masks for the wrong layers (missing {missing}, extra {extra})")
    for layer in layers:
        mask = result.masks[layer.name]
        if mask.dtype != torch.bool or tuple(mask.shape) != layer.weight_shape:
            raise ValueError(f"method {method}: mask for {layer.name} is {mask.dtype} {tuple(mask.shape)}, "
                             f"expected torch.bool {layer.weight_shape}")
    overlap = {f"{name}.weight" for name in names} & set(result.param_masks)
    if overlap:
        raise ValueError(f"method {method}: param_masks repeats prunable weights {sorted(overlap)}; use `masks`")


def describe(fn: Callable[..., Any]) -> str:
    """The first line of a function's docstring."""
    return (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else fn.__name__

