"""Closed sets of choices as string enums, so OmegaConf rejects a bad value when the config is composed.

Members compare equal to their plain strings (`Regime.scratch == "scratch"`) and print as them, so records,
hashes and messages read exactly as the YAML does.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum


class Choice(str, Enum):
    """Base of every config choice: a str enum whose str() and format() are the plain value."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)

    @classmethod
    def of(cls, name: str, values: Iterable[str]) -> type[Choice]:
        """A Choice enum from plain strings (member names equal values, so keywords like `global` work)."""
        return cls(name, [(v, v) for v in values])  # type: ignore[return-value]

    @classmethod
    def values(cls) -> tuple[str, ...]:
        return tuple(str(m.value) for m in cls)


Regime = Choice.of("Regime", ("auto", "scratch", "finetune"))
Optimizer = Choice.of("Optimizer", ("sgd", "adam"))
Schedule = Choice.of("Schedule", ("cosine", "step", "constant"))
Device = Choice.of("Device", ("auto", "cpu", "cuda"))
Precision = Choice.of("Precision", ("fp32", "bf16", "fp16"))
LoggerMode = Choice.of("LoggerMode", ("offline", "online", "disabled"))
LayerType = Choice.of("LayerType", ("Conv1d", "Conv2d", "Linear"))
# Where a method ranks weights: over all prunable layers at once, or within each layer.
Scope = Choice.of("Scope", ("global", "layer"))
# What a method's `ratio` removes: a fraction of the prunable weights, or of the model's MACs; `none` for the
# dense reference, which prunes nothing (its runs ignore `ratio`).
Budget = Choice.of("Budget", ("weights", "macs", "none"))
# A sanity check applied to a method's masks (Frankle et al., ICLR 2021): see rgp_bench.run.sanity.
Sanity = Choice.of("Sanity", ("none", "shuffle", "reinit", "invert"))
