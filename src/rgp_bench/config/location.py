"""Find the `conf/` directory: inside the installed wheel, or at the top of a source checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent.parent


def conf_dir() -> Path:
    """Absolute path of the Hydra config directory.

    A wheel ships `conf/` as `rgp_bench/conf`; an editable install or a plain checkout uses the
    repository's top-level `conf/`.
    """
    for candidate in (_PACKAGE_DIR / "conf", _PACKAGE_DIR.parent.parent / "conf"):
        if (candidate / "config.yaml").is_file():
            return candidate
    raise FileNotFoundError(
        f"rgp-bench configs not found next to {_PACKAGE_DIR}; reinstall the package (pip install -e .)"
    )


def group_options(group: str) -> list[str]:
    """Names of the options of a config group: the YAML files in `conf/<group>/`, and for `method` every
    registered method (a plugin method may come without a YAML file). `*_schema` entries are not options.
    """
    names = {p.stem for p in (conf_dir() / group).glob("*.yaml")}
    if group == "method":
        from rgp_bench.methods import METHODS

        names |= set(METHODS)
    return sorted(n for n in names if not n.endswith("_schema"))


GROUPS: tuple[str, ...] = ("dataset", "model", "method", "hardware", "train", "logger", "experiment")


# Hydra's own config groups a user commonly picks on the command line.
HYDRA_GROUPS: tuple[str, ...] = ("hydra/launcher", "hydra/sweeper")


def hydra_group_options(group: str) -> list[str]:
    """The options of one of Hydra's config groups (plugins included), e.g. hydra/launcher."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    with initialize_config_dir(str(conf_dir()), version_base="1.3"):
        return sorted(GlobalHydra.instance().config_loader().get_group_options(group))
