"""Parsed JSON into a dataclass tree, checked on the way: each mismatch raises `RecordError` naming the field.

A dataclass node must hold exactly its fields: a missing field without a default and a key the dataclass does not
declare are both errors, so a renamed field is named instead of read as absent. Free-form parts (`dict[str, Any]`)
are taken as they are. A null where a number belongs reads as NaN: the writer stores NaN and infinities as null
(rgp_bench.core.fileio.write_json_atomic).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any


class RecordError(ValueError):
    """A stored record that cannot be read as a run record; the message is one line naming the field."""


def build(kind: Any, value: object, where: str = "") -> Any:
    """Convert parsed JSON `value` into type `kind` (a dataclass, list, dict, optional or scalar type).

    `where` is the dotted path of `value` in the record, used in error messages ("" for the record itself).
    """
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        return build(options[0], value, where)
    if dataclasses.is_dataclass(kind):
        return _dataclass(kind, value, where)
    if origin is list:
        if not isinstance(value, list):
            raise RecordError(f"{where} is not a list")
        (item,) = typing.get_args(kind)
        return [build(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise RecordError(f"{where} is not an object")
        _, item = typing.get_args(kind)
        if item is Any:
            return value
        return {k: build(item, v, f"{where}.{k}") for k, v in value.items()}
    return _scalar(kind, value, where)


def _dataclass(kind: Any, value: object, where: str) -> Any:
    if not isinstance(value, dict):
        raise RecordError(f"{where or 'the record'} is not an object")
    hints = typing.get_type_hints(kind)
    fields = dataclasses.fields(kind)
    out = {}
    for f in fields:
        key = f"{where}.{f.name}" if where else f.name
        if f.name in value:
            out[f.name] = build(hints[f.name], value[f.name], key)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise RecordError(f"{key} is missing")
    unknown = [k for k in value if k not in {f.name for f in fields}]
    if unknown:
        name = f"{where}.{unknown[0]}" if where else str(unknown[0])
        raise RecordError(f"{name} is not a field of {where or 'the record'}")
    return kind(**out)


def _scalar(kind: Any, value: object, where: str) -> Any:
    if kind is Any:
        return value
    if kind is float:
        if value is None:  # how the writer stores NaN and infinities (strict JSON has neither)
            return math.nan
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RecordError(f"{where} is not a number: {value!r}")
        return float(value)
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise RecordError(f"{where} is not an integer: {value!r}")
        return value
    if (kind is bool and not isinstance(value, bool)) or (kind is str and not isinstance(value, str)):
        raise RecordError(f"{where} is not a {kind.__name__}: {value!r}")
    return value
