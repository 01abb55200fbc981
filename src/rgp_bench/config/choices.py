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
        """A Choice enum from plain strings kept elsewhere (member names equal values). mypy cannot see the members
        of an enum built by this call: a set owned here is written as a class (below), which it checks."""
        # typeshed's EnumMeta.__call__ overloads cover value lookup only, not the functional API on a subclass.
        return cls(name, [(v, v) for v in values])  # type: ignore[call-overload]

    @classmethod
    def values(cls) -> tuple[str, ...]:
        return tuple(str(m.value) for m in cls)


class Regime(Choice):
    auto = "auto"
    scratch = "scratch"
    finetune = "finetune"


class Optimizer(Choice):
    sgd = "sgd"
    adam = "adam"


class Schedule(Choice):
    cosine = "cosine"
    step = "step"
    constant = "constant"


class Device(Choice):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class Precision(Choice):
    fp32 = "fp32"
    bf16 = "bf16"
    fp16 = "fp16"


class LoggerMode(Choice):
    offline = "offline"
    online = "online"
    disabled = "disabled"


class LayerType(Choice):
    Conv1d = "Conv1d"
    Conv2d = "Conv2d"
    Linear = "Linear"


class Scope(Choice):
    """Where a method ranks weights: over all prunable layers at once, or within each layer."""

    # `global` is a keyword, so that member goes in through the class namespace (OmegaConf matches member names).
    locals()["global"] = "global"
    layer = "layer"


class Budget(Choice):
    """What a method's `ratio` removes: a fraction of the prunable weights, or of the model's MACs; `none` for
    the dense reference, which prunes nothing (its runs ignore `ratio`)."""

    weights = "weights"
    macs = "macs"
    none = "none"


class Sanity(Choice):
    """A sanity check applied to a method's masks (Frankle et al., ICLR 2021): see rgp_bench.run.sanity."""

    none = "none"
    shuffle = "shuffle"
    reinit = "reinit"
    invert = "invert"
