"""Config schemas, config-directory lookup and pre-flight validation of overrides."""

from rgp_bench.config.location import GROUPS, conf_dir, group_options
from rgp_bench.config.schema import BenchCfg, register

__all__ = ["GROUPS", "BenchCfg", "conf_dir", "group_options", "register"]
