"""Pruning methods: each is a schema plus a pure mask function, registered by name where it is defined."""

from rgp_bench.methods.base import MaskContext, MaskResult, Method, MethodCfg, MethodStyle, Need
from rgp_bench.methods.registry import METHODS, get_method, load_methods, register_method

load_methods()

__all__ = ["METHODS", "MaskContext", "MaskResult", "Method", "MethodCfg", "MethodStyle", "Need", "get_method",
           "load_methods", "register_method"]
