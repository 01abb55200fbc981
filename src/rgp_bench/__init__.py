"""rgp-bench: reproducible benchmarking of neural-network pruning."""

__version__ = "0.1.0"
