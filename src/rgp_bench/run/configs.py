"""The configs Hydra composes: the schemas in its ConfigStore (the methods' from the method registry), and the
options of each config group."""

from __future__ import annotations

from hydra import initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra

from rgp_bench.config.location import conf_dir
from rgp_bench.config.schema import GROUP_SCHEMAS, BenchCfg, Mnist1dCfg
from rgp_bench.methods import METHODS

# Hydra's own config groups a user commonly picks on the command line.
HYDRA_GROUPS: tuple[str, ...] = ("hydra/launcher", "hydra/sweeper")


def register() -> None:
    """Register the schemas with Hydra's ConfigStore (idempotent), the methods' from the method registry.

    Each method is stored as `<name>_schema` (its YAML lists it in `defaults`); a method without a YAML file
    in `conf/method/` (e.g. a plugin) is also stored as `<name>` itself, so `method=<name>` still works.
    """
    cs = ConfigStore.instance()
    cs.store(name="bench_schema", node=BenchCfg)
    for group, schema in GROUP_SCHEMAS.items():
        cs.store(group=group, name=f"{group}_schema", node=schema)
    cs.store(group="dataset", name="mnist1d_schema", node=Mnist1dCfg)
    yaml_methods = {p.stem for p in (conf_dir() / "method").glob("*.yaml")}
    for name, method in METHODS.items():
        cs.store(group="method", name=f"{name}_schema", node=method.schema)
        if name not in yaml_methods:
            cs.store(group="method", name=name, node=method.schema)


def group_options(group: str) -> list[str]:
    """Names of the options of a config group: the YAML files in `conf/<group>/` (and, while Hydra is initialised,
    every option on its search path, e.g. a user's `--config-dir`), and for `method` every registered method (a
    plugin method may come without a YAML file). `*_schema` entries are not options.
    """
    names = {p.stem for p in (conf_dir() / group).glob("*.yaml")}
    if GlobalHydra.instance().is_initialized():  # inside the pre-flight: the user's config folders too
        names |= set(GlobalHydra.instance().config_loader().get_group_options(group))
    if group == "method":
        names |= set(METHODS)
    return sorted(n for n in names if not n.endswith("_schema"))


def hydra_group_options(group: str) -> list[str]:
    """The options of one of Hydra's config groups (plugins included), e.g. hydra/launcher."""
    if GlobalHydra.instance().is_initialized():
        return sorted(GlobalHydra.instance().config_loader().get_group_options(group))
    with initialize_config_dir(str(conf_dir()), version_base="1.3"):
        return sorted(GlobalHydra.instance().config_loader().get_group_options(group))
