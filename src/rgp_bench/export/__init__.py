"""Saving a run's pruned model, and exporting it as a file that runs without rgp-bench (torch.export or ONNX)."""

from rgp_bench.export.state import MODEL_FILE, load_model, save_model_state

__all__ = ["MODEL_FILE", "load_model", "save_model_state"]
