"""The config search path Hydra will use for a command line, so the pre-flight checks what Hydra will compose.

A user extends the packaged configs the usual Hydra ways: `--config-dir DIR` (prepended), `--config-path DIR`
(another primary config directory, with `--config-name`), a `hydra.searchpath=[...]` override, or a
`hydra.searchpath` list in their own primary config. Each is honoured here as Hydra honours it at launch, so a
user's own experiment, method or dataset files are options the pre-flight knows (and still checks).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from hydra._internal.config_repository import ConfigRepository
from hydra._internal.hydra import Hydra
from hydra._internal.utils import compute_search_path_dir, create_config_search_path
from hydra.core.config_search_path import ConfigSearchPath, SearchPathQuery
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.types import Override
from omegaconf import OmegaConf

from rgp_bench.config.location import conf_dir
from rgp_bench.core.errors import UserError

PRIMARY_CONFIG = "config"
_ENTRY_FILE = str(Path(__file__).resolve().parents[1] / "__main__.py")  # where @hydra.main sits


def _flag(flags: Mapping[str, str], long: str, short: str) -> str | None:
    return flags.get(long, flags.get(short))


def _base_search_path(flags: Mapping[str, str]) -> ConfigSearchPath:
    """Hydra's search path before `hydra.searchpath`: the primary config dir (`--config-path`, else conf/), then
    `--config-dir` prepended the way Hydra's launcher does it."""
    config_path = _flag(flags, "--config-path", "-cp") or str(conf_dir())
    search_path = create_config_search_path(compute_search_path_dir(_ENTRY_FILE, None, config_path))
    config_dir = _flag(flags, "--config-dir", "-cd")
    if config_dir is not None:
        absolute = os.path.abspath(os.path.expanduser(config_dir))
        if not os.path.isdir(absolute):
            raise UserError(f"--config-dir {config_dir} is not a directory; valid: a folder of your own configs "
                            "(e.g. my_conf/experiment/myexp.yaml)")
        search_path.prepend(provider="command-line", path=f"file://{absolute}",
                            anchor=SearchPathQuery(provider="schema"))
    return search_path


def _extra_entries(search_path: ConfigSearchPath, config_name: str, overrides: Sequence[Override]) -> list[str]:
    """`hydra.searchpath` from the command line, else from the primary config (Hydra uses one or the other)."""
    for override in overrides:
        if override.get_key_element() == "hydra.searchpath":
            value = override.value()
            return [str(v) for v in value] if isinstance(value, list) else [str(value)]
    loaded = ConfigRepository(search_path).load_config(config_path=config_name)
    entries = OmegaConf.select(loaded.config, "hydra.searchpath") if loaded is not None else None
    return [str(v) for v in entries] if entries is not None and OmegaConf.is_list(entries) else []


def _with_entries(search_path: ConfigSearchPath, entries: list[str]) -> ConfigSearchPath:
    paths = search_path.get_path()
    schema = paths.pop(-1)  # structured:// stays last, as in Hydra's config loader
    for entry in entries:
        search_path.append(provider="hydra.searchpath", path=entry)
    paths.append(schema)
    return search_path


@contextmanager
def hydra_session(flags: Mapping[str, str], overrides: Sequence[Override]) -> Iterator[str]:
    """Initialise Hydra with the search path the launch will use; yields the primary config's name.

    Inside, `compose(name, ...)`, `group_options` and `hydra_group_options` see the user's config folders too.
    """
    config_name = _flag(flags, "--config-name", "-cn") or PRIMARY_CONFIG
    search_path = _base_search_path(flags)
    search_path = _with_entries(search_path, _extra_entries(search_path, config_name, overrides))
    GlobalHydra.instance().clear()
    Hydra.create_main_hydra2(task_name="rgp_bench", config_search_path=search_path)
    try:
        yield config_name
    finally:
        GlobalHydra.instance().clear()


def primary_configs() -> list[str]:
    """The primary configs (top-level YAML files) on the active search path."""
    names = GlobalHydra.instance().config_loader().get_group_options("")
    return sorted(n for n in names if not n.startswith("_") and not n.endswith("_schema"))
