"""Which settings can change what, derived from the `effect` each schema field declares (rgp_bench.config.fields).

Every list of "settings that cannot change X" in the project comes from here: the run identity's volatile keys
(and Hydra's job-directory exclusions, which a test keeps equal to them), the training settings that cannot change
the dense weights or the recipe, and the settings a report never splits a comparison cell by.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from rgp_bench.config.fields import EFFECT, Effect
from rgp_bench.config.schema import GROUP_SCHEMAS, BenchCfg


def effect_of(field: dataclasses.Field[Any]) -> Effect:
    """What one schema field can change (everything unless it says otherwise)."""
    return field.metadata.get(EFFECT, Effect.ALL)


def _walk(schema: type, prefix: str = "") -> list[tuple[str, Effect]]:
    """(dotted key, effect) of every field of `schema`, nested schemas and the root's config groups included; a
    field whose effect is NONE stands for its whole subtree."""
    out: list[tuple[str, Effect]] = []
    for field in dataclasses.fields(schema):
        key, effect = prefix + field.name, effect_of(field)
        nested = GROUP_SCHEMAS.get(field.name) if schema is BenchCfg else None
        nested = nested or _nested_schema(field)
        if nested is not None and effect != Effect.NONE:
            out += [(k, e & effect) for k, e in _walk(nested, key + ".")]
        else:
            out.append((key, effect))
    return out


def _nested_schema(field: dataclasses.Field[Any]) -> type | None:
    """The dataclass a field holds (its default factory's type), if any."""
    if field.default_factory is not dataclasses.MISSING:
        value = field.default_factory()
        return type(value) if dataclasses.is_dataclass(value) else None
    return None


@functools.cache
def keys_without(effect: Effect) -> tuple[str, ...]:
    """The dotted keys of the root config (method settings aside) that cannot have `effect`, in schema order; a key
    stands for its subtree (`logger` covers `logger.mode`)."""
    return tuple(key for key, declared in _walk(BenchCfg) if not declared & effect)


def volatile_keys() -> tuple[str, ...]:
    """Settings that cannot change a run's results (paths, logging, display): left out of its identity."""
    return keys_without(Effect.RESULT)


def group_keys_without(group: str, effect: Effect) -> tuple[str, ...]:
    """The fields of one config group (e.g. "train") that cannot have `effect`, without the group prefix."""
    prefix = group + "."
    return tuple(key.removeprefix(prefix) for key in keys_without(effect) if key.startswith(prefix))


def covered(key: str, keys: tuple[str, ...]) -> bool:
    """Whether the dotted `key` is one of `keys` or inside one of their subtrees."""
    return any(key == k or key.startswith(k + ".") for k in keys)
