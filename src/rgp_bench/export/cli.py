"""`python -m rgp_bench.export RUN_DIR [--materialise] [--format pt|onnx] [--out FILE]`.

Writes the run's pruned model as a file that runs without rgp-bench: `pt` is a `torch.export` program
(`torch.export.load(FILE).module()(x)`), `onnx` an ONNX graph (e.g. for onnxruntime). Both take a batch of
inputs of the run's shape, any batch size. `--materialise` exports the materialised form (channels removed,
or RGP's gather + grouped form) instead of the masked model.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils import prune

from rgp_bench.core.cli import OneLineParser
from rgp_bench.core.errors import UserError, choices_error
from rgp_bench.export.state import load_model
from rgp_bench.record.io import ERROR_FILE, RESULTS_FILE

FORMATS = {"pt": ".pt2", "onnx": ".onnx"}


def _parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m rgp_bench.export", description=__doc__.split("\n\n")[1])
    p.add_argument("run_dir", metavar="RUN_DIR", help="a completed run's directory (it holds results.json)")
    p.add_argument("--materialise", action="store_true", help="export the materialised (faster) form")
    p.add_argument("--format", default="pt", help="pt (torch.export, default) or onnx")
    p.add_argument("--out", metavar="FILE", help="where to write (default: RUN_DIR/model_<form>.<pt2|onnx>)")
    return p


def _completed_record(run_dir: Path) -> dict:
    if not run_dir.is_dir():
        raise UserError(f"run directory not found: {run_dir}")
    if (run_dir / ERROR_FILE).is_file() and not (run_dir / RESULTS_FILE).is_file():
        error = json.loads((run_dir / ERROR_FILE).read_text(encoding="utf-8")).get("error", "")
        raise UserError(f"run {run_dir} failed ({str(error).splitlines()[0] if error else 'no message'}); "
                        "only completed runs can be exported")
    try:
        record = json.loads((run_dir / RESULTS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise UserError(f"no complete run record ({RESULTS_FILE}) in {run_dir}") from None
    if not isinstance(record, dict) or record.get("status") != "complete":
        raise UserError(f"{run_dir / RESULTS_FILE} is not a complete run record")
    return record


def plain(model: nn.Module) -> nn.Module:
    """Masks made permanent (zeros in the weights, no prune hooks); channel gates stay (registered buffers)."""
    for module in model.modules():
        for hook in list(module._forward_pre_hooks.values()):
            if isinstance(hook, prune.BasePruningMethod):
                prune.remove(module, hook._tensor_name)
    return model.eval()


def export_model(model: nn.Module, example: torch.Tensor, fmt: str, out: Path) -> Path:
    """Write `model` as `fmt` with a dynamic batch dimension."""
    batch = torch.export.Dim("batch", min=1, max=1 << 16)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        if fmt == "pt":
            program = torch.export.export(model, (example,), dynamic_shapes=({0: batch},))
            torch.export.save(program, out)
        else:
            torch.onnx.export(model, (example,), out, dynamo=True, dynamic_shapes=({0: batch},),
                              input_names=["input"], output_names=["logits"], verbose=False, external_data=False)
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the export CLI; return the exit code (0 ok, 2 bad input)."""
    args = _parser().parse_args(argv)
    try:
        if args.format not in FORMATS:
            raise choices_error("format", args.format, FORMATS)
        run_dir = Path(args.run_dir)
        record = _completed_record(run_dir)
        model, saved = load_model(run_dir)
        if args.materialise:
            from rgp_bench.export.materialised import materialise_for_export

            budget = (record.get("budget") or {}).get("basis", "weights")
            model = materialise_for_export(model, saved, budget, str(record["method"]))
        model = plain(model)
        form = "materialised" if args.materialise else "masked"
        out = Path(args.out) if args.out else run_dir / f"model_{form}{FORMATS[args.format]}"
        if not out.parent.is_dir():
            raise UserError(f"cannot write {out}: folder {out.parent} does not exist")
        example = torch.zeros(2, *saved["input_shape"])
        export_model(model, example, args.format, out)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"exported the {form} model of {run_dir} ({record['method']}) to {out}")
    return 0
