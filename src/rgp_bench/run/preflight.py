"""Compose the config once before Hydra runs, so a bad override fails with one line and no run starts.

Hydra reports composition errors over several lines (with its search path); users get one line that
names the bad value and the valid choices instead. Sweep values are checked one by one.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import NoReturn

from hydra import compose
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException, ValidationError

from rgp_bench.config.fields import lookup_check, show
from rgp_bench.config.location import GROUPS
from rgp_bench.core.cli import one_line
from rgp_bench.core.errors import UserError, choices_error
from rgp_bench.run.configs import HYDRA_GROUPS, group_options, hydra_group_options
from rgp_bench.run.searchpath import PRIMARY_CONFIG, hydra_session, primary_configs
from rgp_bench.run.validate import check_output_dir, check_structure, check_with_model, validate_config

_ENUM_CHOICES = re.compile(r"expected one of \[(.*)\]")


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


_VALUE_FLAGS = {"--cfg", "-c", "--package", "-p", "--config-name", "-cn", "--config-path", "-cp", "--config-dir",
                "-cd", "--info", "-i", "--experimental-rerun"}
_QUOTING = ("write KEY=VALUE, and quote a value with spaces, brackets or non-ASCII characters "
            "(e.g. 'cache_dir=\"/my dir\"')")


def _split_argv(argv: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """(overrides, flags with values) of a command line."""
    overrides: list[str] = []
    flags: dict[str, str] = {}
    args = iter(argv)
    for arg in args:
        if arg.startswith("-"):
            flag, eq, value = arg.partition("=")
            if eq and flag in _VALUE_FLAGS:
                flags[flag] = value
            elif arg in _VALUE_FLAGS:
                flags[arg] = next(args, "")
            continue
        overrides.append(arg)
    return overrides, flags


def _parse(overrides: list[str]) -> list[Override]:
    """Parse every override; a malformed one is one line naming it."""
    parser = OverridesParser.create()
    parsed = []
    for arg in overrides:
        try:
            (override,) = parser.parse_overrides([arg])
        except HydraException as exc:
            reason = _first_line(exc).removeprefix("Error parsing override").removeprefix("LexerNoViableAltException:")
            reason = reason.strip(" '\"")
            detail = f" ({reason})" if reason and reason != arg else ""
            raise UserError(f"cannot parse the override {arg!r}{detail}; {_QUOTING}") from None
        if not override.key_or_group:
            raise UserError(f"the override {arg!r} has no key; write KEY=VALUE")
        parsed.append(override)
    return parsed


def _user_overrides(overrides: list[str], parsed: list[Override]) -> list[str]:
    """The config overrides, leaving out `hydra.*` settings and Hydra's own groups."""
    return [arg for arg, ov in zip(overrides, parsed, strict=True) if not ov.key_or_group.startswith("hydra")]


def _expand(overrides: list[str]) -> list[list[str]]:
    """One override list per sweep value (others fixed at their first value), so each value is checked."""
    parsed = OverridesParser.create().parse_overrides(overrides)
    choices: list[list[str]] = []
    for line, ov in zip(overrides, parsed, strict=True):
        lhs = line.split("=", 1)[0]
        try:
            values = list(ov.sweep_string_iterator()) if ov.is_sweep_override() else [None]
        except Exception:  # glob() expands against the config store at launch; Hydra checks it then
            continue
        choices.append([line if v is None else f"{lhs}={v}" for v in values])
    if not choices:
        return [[]]
    combos = [[c[0] for c in choices]]
    for i, options in enumerate(choices):
        for value in options[1:]:
            combo = [c[0] for c in choices]
            combo[i] = value
            combos.append(combo)
    return combos


def _check_groups(parsed: list[Override]) -> None:
    for ov in parsed:
        group = ov.key_or_group
        if ov.is_delete():
            raise UserError(f"~{group} deletes a setting every run needs; set it instead ({group}=VALUE)")
        if group in GROUPS:
            valid = group_options(group)
        elif group in HYDRA_GROUPS:
            valid = hydra_group_options(group)
        else:
            continue
        if ov.is_sweep_override():
            try:
                values = list(ov.sweep_string_iterator())
            except Exception:  # glob() and similar expand against the config store; Hydra checks those
                continue
        else:
            values = [ov.get_value_element_as_str()]
        for value in values:
            if value and value != "null" and value not in valid:
                raise choices_error(f"{group} option", value, valid)


def _check_hydra_settings(parsed: list[Override]) -> None:
    for ov in parsed:
        if ov.key_or_group in ("hydra.run.dir", "hydra.sweep.dir") and not str(ov.value() or "").strip():
            raise UserError(f"{ov.key_or_group} is empty; valid: a directory path")
        if ov.key_or_group in ("hydra.run.dir", "hydra.sweep.dir") and "${" not in str(ov.value()):
            check_output_dir(ov.key_or_group, str(ov.value()))


def _check_flags(flags: dict[str, str]) -> None:
    name = flags.get("--config-name", flags.get("-cn"))
    if name is not None:
        valid = primary_configs()
        if name not in valid:
            raise choices_error("--config-name", name, valid)


def _compose_without(override_set: list[str], key: str, primary: str) -> DictConfig | None:
    """The config the user chose (e.g. method=magnitude) minus the override of `key`, or None."""
    others = [o for o in override_set if o.split("=", 1)[0].lstrip("+~") != key]
    try:
        return compose(primary, overrides=others)
    except (HydraException, OmegaConfBaseException):
        return None


def _explain(exc: BaseException, override_set: list[str], primary: str = PRIMARY_CONFIG) -> UserError:
    cause = exc.__cause__ or exc
    full_key = str(getattr(cause, "full_key", "") or "")
    if isinstance(cause, ConfigAttributeError | ConfigKeyError) and full_key:
        parent = full_key.rsplit(".", 1)[0] if "." in full_key else ""
        # List the keys of the config the user actually chose, minus the bad override.
        base = _compose_without(override_set, full_key, primary)
        node = OmegaConf.select(base, parent) if (base is not None and parent) else base
        if isinstance(node, DictConfig) and not dataclasses.is_dataclass(OmegaConf.get_type(node)) and parent:
            # a free-form mapping (e.g. dataset.generator): new keys need Hydra's leading `+`
            return UserError(f"unknown key '{full_key}'; {parent} takes new keys with a leading +, "
                             f"e.g. +{full_key}=VALUE")
        if isinstance(node, DictConfig):
            where = f"of {parent}" if parent else "at the top level"
            keys = ', '.join(sorted(map(str, node.keys())))
            return UserError(f"unknown key '{full_key}'; valid keys {where}: {keys}")
    if isinstance(cause, ValidationError) and full_key:
        value = getattr(cause, "value", None)
        choices = _ENUM_CHOICES.search(str(cause))
        if choices:  # an enum field: name the choices the way every other choice error does
            key = re.sub(r"\[\d+\]$", " entry", full_key)
            return choices_error(key, value, [c.strip() for c in choices.group(1).split(",")])
        base = _compose_without(override_set, full_key, primary)
        check = lookup_check(base, full_key) if base is not None else None
        if check is not None:  # a value of the wrong type: say what the setting accepts
            return UserError(f"{full_key}={show(value)} is invalid; {check.valid}")
    bad = next((o for o in override_set if o.split("=", 1)[0].lstrip("+~") in str(exc)), None)
    prefix = f"invalid override '{bad}': " if bad else ""
    return UserError(prefix + _first_line(cause))


_MODE_FLAGS = {"-m": "--multirun", "--multirun": "--multirun", "--cfg": "--cfg", "-c": "--cfg", "--info": "--info",
               "-i": "--info", "--run": "--run", "-r": "--run", "--shell-completion": "--shell-completion",
               "-sc": "--shell-completion"}


def _check_hydra_flags(argv: Sequence[str]) -> None:
    """Parse the command line with Hydra's own argument parser, so a bad flag (e.g. `--info bogus`) is one line
    here instead of Hydra's usage text."""
    from hydra._internal.utils import get_args_parser

    parser = get_args_parser()

    def error(message: str) -> NoReturn:
        words = message.removeprefix("unrecognized arguments:").split()
        misplaced = message.startswith("unrecognized arguments") and not all(w.startswith("-") for w in words)
        line = one_line(message)
        if misplaced:
            line += "; flags (-m, --cfg, --config-dir, ...) go before the overrides"
        elif "; valid choices: " not in line:
            line += "; see python -m rgp_bench --help"
        raise UserError(line)

    parser.error = error  # type: ignore[method-assign]
    parser.parse_args(list(argv))


def _check_mode_flags(argv: Sequence[str]) -> None:
    modes = sorted({_MODE_FLAGS[a] for a in argv if a in _MODE_FLAGS})
    if len(modes) > 1:
        raise UserError(f"conflicting flags {' and '.join(modes)}; use only one of --run, --multirun (-m), "
                        "--cfg, --info, --shell-completion")


def preflight(argv: Sequence[str]) -> None:
    """Validate a command line before Hydra runs anything; raise UserError with one line on the first problem.

    Every value of a sweep is composed and validated, and checks that need the model (the prunable layers, a
    method's feasibility) run on it too, so a mistake fails before any output directory is created.
    """
    _check_hydra_flags(argv)
    _check_mode_flags(argv)
    words, flags = _split_argv(argv)
    parsed = _parse(words)
    with hydra_session(flags, parsed) as primary:
        _check_flags(flags)
        _check_groups(parsed)
        _check_hydra_settings(parsed)
        overrides = _user_overrides(words, parsed)
        for combo in _expand(overrides):
            try:
                cfg = compose(primary, overrides=combo)
            except (HydraException, OmegaConfBaseException, ValueError) as exc:
                raise _explain(exc, combo, primary) from None
            check_structure(cfg)
            validate_config(cfg)
            check_with_model(cfg)
