"""Config schemas (every group typed, every choice an enum, every range declared) and the config directory."""

from rgp_bench.config.location import GROUPS, conf_dir
from rgp_bench.config.schema import BenchCfg

__all__ = ["GROUPS", "BenchCfg", "conf_dir"]
