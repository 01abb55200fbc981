"""Pruning methods: each is a schema plus a pure mask function, registered by name."""

from rgp_bench.methods.base import MaskContext, MaskResult, Method
from rgp_bench.methods.registry import METHODS, get_method

__all__ = ["METHODS", "MaskContext", "MaskResult", "Method", "get_method"]
