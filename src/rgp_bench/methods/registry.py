"""The one registry of pruning methods, filled by `@register_method` where each method is defined.

Every module of this package is imported once (`load_methods`), so a new method module registers itself;
modules named in `$RGP_BENCH_PLUGINS` (comma-separated, importable) are loaded the same way.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import pkgutil
from collections.abc import Callable, Iterable

from rgp_bench.config.choices import Budget, Regime
from rgp_bench.core.errors import UserError, choices_error
from rgp_bench.methods.base import AutoRegimeFn, CfgT, CheckFn, MaskFn, Method, MethodStyle, Need, describe

PLUGINS_ENV = "RGP_BENCH_PLUGINS"
METHODS: dict[str, Method] = {}


def register_method(
    schema: type[CfgT],
    *,
    canonical_regime: Regime,
    style: MethodStyle,
    budget: Budget = Budget.weights,
    needs: Iterable[Need] = (),
    regimes: Iterable[Regime] = (Regime.scratch, Regime.finetune),
    scored: bool = False,
    check: CheckFn[CfgT] | None = None,
    description: str | None = None,
    auto_regime: AutoRegimeFn[CfgT] | None = None,
    block_structured: bool = False,
) -> Callable[[MaskFn[CfgT]], MaskFn[CfgT]]:
    """Register the decorated mask function as the method named by `schema`'s `name` default.

    `canonical_regime` is what `train.regime=auto` runs; `regimes` lists the regimes the method supports;
    `needs` says which run inputs `MaskContext` must supply; `budget` says whether `ratio` counts weights or MACs;
    `scored` says the method returns per-weight scores (`MaskResult.scores`); `check` validates the settings
    against the model's prunable layers at pre-flight (before any output directory exists); `auto_regime` maps the
    method's settings to the regime `train.regime=auto` runs (default: always `canonical_regime`). `budget=none`
    declares a method that prunes nothing (the dense reference): its runs ignore `ratio`. `style` is how every
    report draws the method (a colour and marker no other method uses); `block_structured` says its masks have
    RGP's regular block structure, so the block kernels of rgp_bench.speedup (and `export --materialise`) apply.
    """
    name = next((f.default for f in dataclasses.fields(schema) if f.name == "name"), None)
    if not isinstance(name, str) or not name:
        raise TypeError(f"{schema.__name__} must give `name` a default: the method's name")
    if canonical_regime not in set(regimes) or canonical_regime == Regime.auto:
        raise ValueError(f"method {name}: canonical regime {canonical_regime} must be one of its regimes")

    def decorate(fn: MaskFn[CfgT]) -> MaskFn[CfgT]:
        known = METHODS.get(name)
        if known is not None and known.compute_masks.__qualname__ != fn.__qualname__:
            raise ValueError(f"method {name!r} is registered twice ({known.compute_masks.__module__}, {fn.__module__})")
        METHODS[name] = Method(name=name, schema=schema, compute_masks=fn, description=description or describe(fn),
                               canonical_regime=canonical_regime, budget=budget, needs=frozenset(needs),
                               regimes=frozenset(regimes), scored=scored, check=check,
                               auto_regime=auto_regime, style=style, block_structured=block_structured)
        return fn

    return decorate


def get_method(name: str) -> Method:
    """Look a method up by name; unknown names list the valid choices."""
    try:
        return METHODS[str(name)]
    except KeyError:
        raise choices_error("method", name, METHODS) from None


def load_methods() -> None:
    """Import every method module of this package, then the plugin modules named in $RGP_BENCH_PLUGINS."""
    package = importlib.import_module("rgp_bench.methods")
    for info in pkgutil.iter_modules(package.__path__):
        if info.name not in ("base", "registry"):
            importlib.import_module(f"rgp_bench.methods.{info.name}")
    for module in filter(None, (m.strip() for m in os.environ.get(PLUGINS_ENV, "").split(","))):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise UserError(f"${PLUGINS_ENV} names {module!r}, which cannot be imported ({exc}); "
                            "valid: comma-separated importable module names") from None
