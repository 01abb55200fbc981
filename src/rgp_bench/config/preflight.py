"""Compose the config once before Hydra runs, so a bad override fails with one line and no run starts.

Hydra reports composition errors over several lines (with its search path); users get one line that
names the bad value and the valid choices instead. Sweep values are checked one by one.
"""

from __future__ import annotations

from collections.abc import Sequence

from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

from rgp_bench.config.location import GROUPS, conf_dir, group_options
from rgp_bench.config.validate import validate_config
from rgp_bench.errors import UserError, choices_error


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _user_overrides(argv: Sequence[str]) -> list[str]:
    """Config overrides from a command line, leaving out Hydra's flags and `hydra.*` settings."""
    out: list[str] = []
    skip_next = False
    for arg in argv:
        if skip_next:
            skip_next = False
            continue
        if arg.startswith("-"):
            # Flags that take a separate value.
            skip_next = arg in {"--cfg", "-c", "--package", "-p", "--config-name", "-cn",
                                "--config-path", "-cp", "--config-dir", "-cd", "--info", "-i"}
            continue
        if "=" not in arg:
            continue
        key = arg.split("=", 1)[0].lstrip("+~")
        if key.startswith("hydra"):
            continue
        out.append(arg)
    return out


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


def _check_groups(overrides: list[str]) -> None:
    parsed = OverridesParser.create().parse_overrides(overrides)
    for ov in parsed:
        group = ov.key_or_group
        if group not in GROUPS or ov.is_delete():
            continue
        valid = [o for o in group_options(group) if not o.endswith("_schema")]
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


def _explain(exc: BaseException, override_set: list[str]) -> UserError:
    cause = exc.__cause__ or exc
    if isinstance(cause, ConfigAttributeError | ConfigKeyError) and getattr(cause, "full_key", None):
        full_key = str(cause.full_key)
        parent = full_key.rsplit(".", 1)[0] if "." in full_key else ""
        # List the keys of the config the user actually chose (e.g. method=magnitude), minus the bad override.
        others = [o for o in override_set if o.split("=", 1)[0].lstrip("+~") != full_key]
        try:
            base: DictConfig | None = compose("config", overrides=others)
        except (HydraException, OmegaConfBaseException):
            base = None
        node = OmegaConf.select(base, parent) if (base is not None and parent) else base
        if isinstance(node, DictConfig):
            where = f"of {parent}" if parent else "at the top level"
            return UserError(f"unknown key '{full_key}'; valid keys {where}: {', '.join(sorted(node.keys()))}")
    bad = next((o for o in override_set if o.split("=", 1)[0].lstrip("+~") in str(exc)), None)
    prefix = f"invalid override '{bad}': " if bad else ""
    return UserError(prefix + _first_line(cause))


_MODE_FLAGS = {"-m": "--multirun", "--multirun": "--multirun", "--cfg": "--cfg", "-c": "--cfg", "--info": "--info",
               "-i": "--info", "--run": "--run", "-r": "--run", "--shell-completion": "--shell-completion",
               "-sc": "--shell-completion"}


def _check_mode_flags(argv: Sequence[str]) -> None:
    modes = sorted({_MODE_FLAGS[a] for a in argv if a in _MODE_FLAGS})
    if len(modes) > 1:
        raise UserError(f"conflicting flags {' and '.join(modes)}; use only one of --run, --multirun (-m), "
                        "--cfg, --info, --shell-completion")


def preflight(argv: Sequence[str]) -> None:
    """Validate the command line's overrides; raise UserError with one line on the first problem."""
    _check_mode_flags(argv)
    overrides = _user_overrides(argv)
    _check_groups(overrides)
    try:
        combos = _expand(overrides)
    except HydraException as exc:
        raise UserError(f"cannot parse the command line: {_first_line(exc)}") from None
    with initialize_config_dir(str(conf_dir()), version_base="1.3"):
        for combo in combos:
            try:
                cfg = compose("config", overrides=combo)
            except (HydraException, OmegaConfBaseException) as exc:
                raise _explain(exc, combo) from None
            validate_config(cfg)
