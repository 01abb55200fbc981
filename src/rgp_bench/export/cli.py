"""`python -m rgp_bench.export RUN_DIR [--materialise] [--format pt|aoti|onnx] [--out FILE] [--no-time]`.

Writes the run's pruned model as a file that runs without rgp-bench: `pt` is a `torch.export` program
(`torch.export.load(FILE).module()(x)`), `aoti` that program compiled by AOTInductor, `onnx` an ONNX graph (e.g.
for onnxruntime). All take a batch of inputs of the run's shape, any batch size. `--materialise` exports the
materialised form (channels removed, or RGP's block forms) instead of the masked model.

With `--materialise`, `pt` and `aoti` export the fastest forms measured here (as the run's latency phase chooses
them), C++ kernel forms included: such a program calls the operators `rgp_bench::block_sparse_*`, so the kernel
library is copied next to it and a plain torch process loads it with two lines (printed, and written to FILE's
`.load.txt`): `torch.ops.load_library(LIB)`, then `torch.export.load(FILE).module()` (`pt`) or
`torch._inductor.aoti_load_package(FILE)` (`aoti`: compiled ahead of time, which needs a C++ compiler here; it
drops the exported module's Python overhead per call, and `model.loader.boxed_run([x])` also the package
wrapper's). The library is built for this CPU and torch version.
`onnx` keeps the portable forms (ONNX has no custom operators) and is timed in ONNX Runtime against the torch
model it came from (1 thread, outputs checked equal) at the run's latency batch sizes.
"""

from __future__ import annotations

import argparse
import json
import shutil
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
from rgp_bench.speedup.kernel import compiler_missing

FORMATS = {"pt": ".pt2", "aoti": ".aoti.pt2", "onnx": ".onnx"}
# model(x) parses the package's input and output specs on every call (torch's AOTICompiledModel): at batch 1 that
# costs more than the pruned layers (benchmarks.export_speed). The loader runs the same compiled code without it.
AOTI_DIRECT_CALL = ("run = model.loader.boxed_run  # y = run([x])[0]: model(x) without its per-call input parsing, "
                    "the fast call at small batches")
TRACED = ("pt", "aoti")  # formats made from a torch.export program (C++ kernel operators included)


def _parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m rgp_bench.export", description=__doc__.split("\n\n")[1])
    p.add_argument("run_dir", metavar="RUN_DIR", help="a completed run's directory (it holds results.json)")
    p.add_argument("--materialise", action="store_true", help="export the materialised (faster) form")
    p.add_argument("--format", default="pt",
                   help="pt (torch.export, default; materialised: the fastest forms, C++ kernels included), aoti "
                        "(the same program compiled by AOTInductor: no Python overhead per call; needs a C++ "
                        "compiler) or onnx (materialised: the portable forms only, as ONNX has no custom operators)")
    p.add_argument("--out", metavar="FILE", help="where to write (default: RUN_DIR/model_<form>.<pt2|onnx>)")
    p.add_argument("--no-time", action="store_true", help="onnx: skip timing the export in ONNX Runtime")
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


def export_model(model: nn.Module, example: torch.Tensor, fmt: str, out: Path) -> torch.export.ExportedProgram | None:
    """Write `model` as `fmt` with a dynamic batch dimension; the program for `pt` and `aoti`."""
    batch = torch.export.Dim("batch", min=1, max=1 << 16)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        if fmt in TRACED:
            program = torch.export.export(model, (example,), dynamic_shapes=({0: batch},))
            if fmt == "pt":
                torch.export.save(program, out)
            else:
                torch._inductor.aoti_compile_and_package(program, package_path=str(out))
            return program
        torch.onnx.export(model, (example,), out, dynamo=True, dynamic_shapes=({0: batch},),
                          input_names=["input"], output_names=["logits"], verbose=False, external_data=False)
    return None


def uses_kernel_ops(program: torch.export.ExportedProgram) -> bool:
    """Whether the program calls RGP's C++ operators (torch.ops.rgp_bench.*)."""
    return any(getattr(node.target, "namespace", None) == "rgp_bench" for node in program.graph.nodes)


def loader_lines(out: Path, fmt: str) -> list[str]:
    """Copy the kernel library next to the export; the two lines that load both in a plain torch process."""
    from rgp_bench.speedup.kernel import library_path

    library = out.parent / library_path().name
    if library.resolve() != library_path().resolve():
        shutil.copy2(library_path(), library)
    load = "torch.export.load({!r}).module()" if fmt == "pt" else "torch._inductor.aoti_load_package({!r})"
    lines = [f"torch.ops.load_library({str(library.resolve())!r})", "model = " + load.format(str(out.resolve()))]
    if fmt == "aoti":
        lines.append(AOTI_DIRECT_CALL)
    return lines


def write_loader_note(out: Path, lines: list[str]) -> Path:
    """FILE.load.txt next to the export: how to load it without rgp-bench."""
    note = out.with_suffix(".load.txt")
    note.write_text(f"# {out.name} calls RGP's C++ kernels (torch.ops.rgp_bench.*). In a plain torch process (no "
                    f"rgp-bench), after `import torch`:\n" + "\n".join(lines) +
                    f"\n# The library is built for this CPU (-march=native) and torch {torch.__version__}.\n",
                    encoding="utf-8")
    return note


def time_onnx_export(model: nn.Module, out: Path, saved: dict, record: dict) -> list[str]:
    """The ONNX Runtime timing lines at the run's latency batch sizes (ValueError if the outputs differ)."""
    from rgp_bench.export.materialised import latency_setting
    from rgp_bench.export.timing import time_onnx

    _, threads = latency_setting(record, saved)
    sizes = ((saved["config"].get("measure") or {}).get("latency") or {}).get("batch_sizes") or [1, 64]
    generator = torch.Generator().manual_seed(0)
    return [time_onnx(model, out, torch.randn(size, *saved["input_shape"], generator=generator), threads).describe()
            for size in sizes]


def with_suffix(path: Path, suffix: str) -> Path:
    """`path` ending in the format's suffix (torch.export warns on saving and loading a `.pt2` archive under another
    name): `m.pt` becomes `m.pt2`, `m` becomes `m.pt2`; a name already ending in it is kept."""
    if path.name.endswith(suffix):
        return path
    known = {".pt", ".pt2", ".onnx", ".aoti"}
    stem = path.name
    while Path(stem).suffix in known:
        stem = Path(stem).stem
    return path.with_name(stem + suffix)


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
            from rgp_bench.export.materialised import latency_setting, materialise_for_export

            budget = (record.get("budget") or {}).get("basis", "weights")
            batch_size, threads = latency_setting(record, saved)
            model = materialise_for_export(model, saved, budget, str(record["method"]), fastest=args.format in TRACED,
                                           batch_size=batch_size, threads=threads)
        model = plain(model)
        form = "materialised" if args.materialise else "masked"
        suffix = FORMATS[args.format]
        out = with_suffix(Path(args.out), suffix) if args.out else run_dir / f"model_{form}{suffix}"
        if args.format == "aoti" and (missing := compiler_missing()) is not None:
            raise UserError(f"--format aoti compiles the model with AOTInductor and needs a C++ compiler: {missing}")
        if not out.parent.is_dir():
            raise UserError(f"cannot write {out}: folder {out.parent} does not exist")
        example = torch.zeros(2, *saved["input_shape"])
        program = export_model(model, example, args.format, out)
        print(f"exported the {form} model of {run_dir} ({record['method']}) to {out}")
        if program is not None and uses_kernel_ops(program):
            lines = loader_lines(out, args.format)
            note = write_loader_note(out, lines)
            print(f"it calls RGP's C++ kernels; load it in a plain torch process with (also in {note}):")
            print("\n".join(f"  {line}" for line in lines))
        if args.format == "onnx" and not args.no_time:
            for line in time_onnx_export(model, out, saved, record):
                print(f"onnxruntime vs torch: {line}")
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except ValueError as exc:  # ONNX Runtime's output differs from torch's
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
