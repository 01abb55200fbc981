"""Whole-model timing: dense eager, dense compiled (Inductor, freezing), masked and materialised, interleaved."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import cast

import torch
from torch import nn
from torch.nn.utils import prune

from rgp_bench.measure.latency import compare_variants
from rgp_bench.speedup.forms import copy_module

DENSE, DENSE_COMPILED, MASKED_MODEL, MATERIALISED = "dense", "dense_compiled", "masked", "materialised"
MATERIALISED_COMPILED = "materialised_compiled"  # the materialised model compiled as a whole (BN/ReLU/add fused)


@dataclass(frozen=True)
class EndToEnd:
    """Median seconds per forward pass of each variant, and speed-ups over dense eager and dense compiled."""

    batch_size: int
    threads: int
    seconds: dict[str, float]
    iqr: dict[str, float]
    speedup_vs_dense: dict[str, float]
    speedup_vs_compiled: dict[str, float] | None
    mac_limit: float  # dense MACs / effective MACs: the speed-up that removing every masked MAC would give

    @property
    def fraction_of_limit(self) -> float:
        """Materialised speed-up over dense eager, as a fraction of the MAC limit."""
        return self.speedup_vs_dense.get(MATERIALISED, float("nan")) / self.mac_limit

    def to_dict(self) -> dict:
        return {**asdict(self), "fraction_of_limit": self.fraction_of_limit}


def dense_copy(masked: nn.Module) -> nn.Module:
    """The same network with every prune mask removed and the unmasked weights (``weight_orig``) restored."""
    dense = copy_module(masked)
    for module in dense.modules():
        for hook in list(module._forward_pre_hooks.values()):
            if isinstance(hook, prune.BasePruningMethod):
                name = hook._tensor_name
                original = getattr(module, f"{name}_orig").detach().clone()
                prune.remove(module, name)
                with torch.no_grad():
                    getattr(module, name).copy_(original)
    return dense


def folded_copy(masked: nn.Module) -> nn.Module:
    """The pruned model as deployed without fast forms: each mask multiplied into its weight once, so dense
    kernels run on the pruned weights with no per-call mask multiply."""
    folded = copy_module(masked)
    for module in folded.modules():
        for hook in list(module._forward_pre_hooks.values()):
            if isinstance(hook, prune.BasePruningMethod):
                prune.remove(module, hook._tensor_name)
    return folded


def compile_frozen(model: nn.Module) -> nn.Module:
    """``torch.compile`` with Inductor freezing (weights folded as constants; compiled at the first no-grad call)."""
    # Compiling a Module gives an OptimizedModule (a Module); the stubs type the result as a plain callable.
    return cast(nn.Module, torch.compile(copy_module(model).eval(), dynamic=False, options={"freezing": True}))


def measure_end_to_end(
    variants: Mapping[str, nn.Module],
    example: torch.Tensor,
    threads: int,
    mac_limit: float,
    *,
    rounds: int = 7,
    min_run_time: float = 0.2,
) -> EndToEnd:
    """Time the variants interleaved at ``example``'s shape; ``variants`` must contain "dense".

    Compiled variants are compiled by their first call, which happens before timing starts.
    """
    comparison = compare_variants(
        variants, tuple(example.shape[1:]), example.dtype, example.device, threads, (example.shape[0],),
        baseline=DENSE, rounds=rounds, min_run_time=min_run_time,
    )[example.shape[0]]
    stats = comparison.variants
    vs_compiled = comparison.speedups(DENSE_COMPILED) if DENSE_COMPILED in stats else None
    return EndToEnd(
        batch_size=int(example.shape[0]), threads=comparison.threads,
        seconds={name: s.median for name, s in stats.items()}, iqr={name: s.iqr for name, s in stats.items()},
        speedup_vs_dense={name: s.speedup for name, s in stats.items()}, speedup_vs_compiled=vs_compiled,
        mac_limit=mac_limit,
    )
