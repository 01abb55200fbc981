"""One place for each setting: a schema field carries its default, its type and the range its value must be in.

`setting(default, check=...)` declares a field; `check_fields(cfg)` walks a composed config against its
schemas and raises one UserError line for the first value out of range. Types and enum choices are
enforced by OmegaConf at composition; the checks here cover what a type cannot say (ranges, "null or").
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeGuard, cast

from omegaconf import DictConfig, ListConfig, OmegaConf

from rgp_bench.core.errors import UserError

CHECK = "check"
EFFECT = "effect"


class Effect(enum.Flag):
    """What a setting can change. A schema field changes everything (`ALL`) unless it declares less, and every list
    of "settings that cannot change X" (run identity, dense cache key, wandb recipe, report variants) is derived
    from these declarations (rgp_bench.config.facts)."""

    NONE = 0
    RESULT = enum.auto()  # the run's results: the setting is part of the run id
    DENSE = enum.auto()  # the pretrained dense weights: part of the dense cache key
    RECIPE = enum.auto()  # the training recipe a wandb group names
    VARIANT = enum.auto()  # two runs that differ in it are different experiments in a report
    ALL = RESULT | DENSE | RECIPE | VARIANT


def setting(default: Any = dataclasses.MISSING, *, check: Check | None = None,
            factory: Callable[[], Any] | None = None, effect: Effect = Effect.ALL) -> Any:
    """A schema field with an optional range check (see `Number`, `AutoOr`, `NonEmpty`) and what it can change
    (`effect`, see `Effect`)."""
    metadata: dict[str, Any] = {CHECK: check} if check is not None else {}
    if effect != Effect.ALL:
        metadata[EFFECT] = effect
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def show(value: object) -> str:
    """A value as error messages print it: strings quoted, numbers plain."""
    return repr(value) if isinstance(value, str) else str(value)


def _is_number(value: object, integer: bool) -> TypeGuard[int | float]:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) if integer else isinstance(value, int | float)


class Check:
    """A rule on one setting's value; `valid` describes what is accepted, for error messages."""

    @property
    def valid(self) -> str:
        return ""

    def accepts(self, value: object) -> bool:
        raise NotImplementedError

    def __call__(self, key: str, value: object) -> None:
        if not self.accepts(value):
            raise UserError(f"{key}={show(value)} {self.verdict(value)}; {self.valid}")

    def verdict(self, value: object) -> str:
        return "is invalid"


@dataclass(frozen=True)
class Number(Check):
    """A finite number (an integer with `integer`) with optional bounds; `nullable` also accepts null."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = True
    integer: bool = False
    nullable: bool = False

    def _in_bounds(self, value: float) -> bool:
        if self.lo is not None and (value <= self.lo if self.lo_open else value < self.lo):
            return False
        return not (self.hi is not None and (value >= self.hi if self.hi_open else value > self.hi))

    def accepts(self, value: object) -> bool:
        if value is None:
            return self.nullable
        if not _is_number(value, self.integer) or not math.isfinite(value):
            return False
        return self._in_bounds(float(value))

    def verdict(self, value: object) -> str:
        bounded = self.lo is not None and self.hi is not None
        if bounded and _is_number(value, self.integer) and math.isfinite(value):
            return "is out of range"
        return "is invalid"

    @property
    def valid(self) -> str:
        kind = "an integer" if self.integer else "a number"
        if self.lo is not None and self.hi is not None:
            return f"valid range: {'(' if self.lo_open else '['}{self.lo}, {self.hi}{')' if self.hi_open else ']'}"
        if self.lo is not None:
            kind = f"{kind} {'>' if self.lo_open else '>='} {self.lo:g}"
        return f"valid: null or {kind}" if self.nullable else f"valid range: {kind}"


@dataclass(frozen=True)
class AutoOr(Check):
    """The string `auto`, or an integer >= `minimum`."""

    minimum: int

    def accepts(self, value: object) -> bool:
        return value == "auto" or (_is_number(value, True) and value >= self.minimum)

    @property
    def valid(self) -> str:
        return f"valid choices: auto or an integer >= {self.minimum}"


@dataclass(frozen=True)
class OneOf(Check):
    """One of a few numbers (for numeric choices such as a norm's order)."""

    options: tuple[int, ...]

    def accepts(self, value: object) -> bool:
        return _is_number(value, True) and value in self.options

    @property
    def valid(self) -> str:
        return "valid choices: " + ", ".join(str(o) for o in self.options)


@dataclass(frozen=True)
class KeysFrom(Check):
    """A mapping whose keys all come from `allowed()` (a function, so the list can come from a package)."""

    allowed: Callable[[], Iterable[str]]
    what: str = "option"

    def __call__(self, key: str, value: object) -> None:
        valid = sorted(self.allowed())
        for name in _keys(value):
            if name not in valid:
                raise UserError(f"unknown {key} {self.what} {name!r}; valid choices: {', '.join(valid)}")

    def accepts(self, value: object) -> bool:
        return all(name in set(self.allowed()) for name in _keys(value))


@dataclass(frozen=True)
class NonEmpty(Check):
    """A list with at least one entry."""

    what: str = "at least one entry"

    def accepts(self, value: object) -> bool:
        return isinstance(value, list | tuple | ListConfig) and len(value) > 0

    @property
    def valid(self) -> str:
        return f"valid: {self.what}"


def _keys(value: object) -> Iterable[str]:
    """A KeysFrom setting's keys: its schema type makes it a mapping or null."""
    return cast("Iterable[str]", value or {})


def field_check(schema: type | None, name: str) -> Check | None:
    """The check declared on field `name` of dataclass `schema`, if any."""
    if not dataclasses.is_dataclass(schema):
        return None
    for f in dataclasses.fields(schema):
        if f.name == name:
            return f.metadata.get(CHECK)
    return None


def lookup_check(cfg: DictConfig, dotted: str) -> Check | None:
    """The check of the setting at `dotted` (e.g. "method.graph_iters"), found through the config's schemas."""
    *parents, leaf = dotted.split(".")
    node: Any = cfg
    for part in parents:
        node = node.get(part) if isinstance(node, DictConfig) else None
    if not isinstance(node, DictConfig):
        return None
    return field_check(OmegaConf.get_type(node), leaf)


def check_fields(cfg: DictConfig, prefix: str = "") -> None:
    """Apply every declared field check in `cfg` (recursively, through nested schemas)."""
    schema = OmegaConf.get_type(cfg)
    if not dataclasses.is_dataclass(schema):
        return
    for f in dataclasses.fields(schema):
        if f.name not in cfg:
            continue
        value = cfg[f.name]
        key = f"{prefix}{f.name}"
        check = f.metadata.get(CHECK)
        if check is not None:
            check(key, OmegaConf.to_container(value) if isinstance(value, ListConfig | DictConfig) else value)
        if isinstance(value, DictConfig):
            check_fields(value, key + ".")
