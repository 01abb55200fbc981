"""Saved models and `python -m rgp_bench.export`: every export loads in a fresh process without rgp-bench and
computes what the run's model computes; bad input gets one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tests.conftest import run_cli

from rgp_bench.export import load_model
from rgp_bench.export.cli import AOTI_DIRECT_CALL, FORMATS, main, with_suffix

TINY = ["train.epochs=1", "train.pretrain_epochs=1", "model.width=64", "model.depth=3", "train.progress=false"]
# Loads the export with torch (and onnxruntime) only, in a process that never imports rgp_bench.
CHECK = """
import sys, numpy as np, torch
path, x_path, y_path = sys.argv[1:4]
x, y = torch.load(x_path), torch.load(y_path)
if path.endswith(".onnx"):
    import onnxruntime
    session = onnxruntime.InferenceSession(path)
    out = torch.from_numpy(session.run(None, {session.get_inputs()[0].name: x.numpy()})[0])
else:
    out = torch.export.load(path).module()(x)
assert "rgp_bench" not in sys.modules
err = float((out - y).abs().max() / y.abs().max())
print(err)
assert err < 1e-5, err
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """One finished run per kind of mask: channels (uniform), block-regular (rgp), unstructured (magnitude)."""
    out = {}
    for method, ratio in (("uniform", 0.5), ("rgp", 0.75), ("magnitude", 0.75)):
        tmp = tmp_path_factory.mktemp(method)
        proc = run_cli([f"method={method}", f"ratio={ratio}", *TINY], tmp)
        assert proc.returncode == 0, proc.stderr
        out[method] = tmp / "run"
    return out


def _reference(run_dir: Path, tmp_path: Path) -> tuple[Path, Path]:
    model, saved = load_model(run_dir)
    x = torch.randn(5, *saved["input_shape"], generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        y = model(x)
    torch.save(x, tmp_path / "x.pt")
    torch.save(y, tmp_path / "y.pt")
    return tmp_path / "x.pt", tmp_path / "y.pt"


def test_the_run_saves_a_model_that_loads_with_weights_only(runs):
    for method, run_dir in runs.items():
        saved = torch.load(run_dir / "model.pt", weights_only=True)
        assert saved["format"] == 1 and saved["input_shape"] == [1, 8, 8], method
        masks = [k for k in saved["state_dict"] if k.endswith("_mask")]
        assert masks, method
        model, _ = load_model(run_dir)
        record = json.loads((run_dir / "results.json").read_text())
        # the rebuilt model has the run's masks: its non-zero weight count is the record's
        from rgp_bench.measure import measure_costs

        cost = measure_costs(model, torch.zeros(1, 1, 8, 8), set())
        assert cost.total.params_nonzero == record["cost"]["pruned"]["params_nonzero"], method


@pytest.mark.slow
@pytest.mark.parametrize(("method", "materialise", "fmt"), [
    ("uniform", False, "pt"), ("uniform", True, "pt"), ("uniform", True, "onnx"),
    ("rgp", False, "onnx"), ("rgp", True, "pt"), ("rgp", True, "onnx"), ("magnitude", False, "pt"),
])
def test_export_round_trips_in_a_fresh_process(runs, method, materialise, fmt, tmp_path, capsys):
    run_dir = runs[method]
    out = tmp_path / f"model.{fmt}"
    assert main([str(run_dir), "--format", fmt, "--out", str(out), *(["--materialise"] if materialise else [])]) == 0
    if fmt == "onnx":  # timed in ONNX Runtime at the run's latency batch sizes, outputs checked equal
        assert capsys.readouterr().out.count("onnxruntime vs torch: batch") == 2
    written = with_suffix(out, FORMATS[fmt])  # model.pt is written as model.pt2: torch.export's own suffix
    assert written.is_file() and str(written) in capsys.readouterr().out + str(written)
    x, y = _reference(run_dir, tmp_path)
    proc = subprocess.run([sys.executable, "-c", CHECK, str(written), str(x), str(y)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # loading warns about nothing (the check script's own lines, "<string>:N", aside)
    assert not [line for line in proc.stderr.splitlines() if "Warning" in line and not line.startswith("<string>")]


def test_an_export_is_named_with_its_format_suffix():
    assert with_suffix(Path("m.pt"), ".pt2") == Path("m.pt2")
    assert with_suffix(Path("out/m"), ".pt2") == Path("out/m.pt2")
    assert with_suffix(Path("m.pt2"), ".pt2") == Path("m.pt2")
    assert with_suffix(Path("m.pt2"), ".onnx") == Path("m.onnx")
    assert with_suffix(Path("m.aoti.pt2"), ".aoti.pt2") == Path("m.aoti.pt2")
    assert with_suffix(Path("model.v1.pt"), ".pt2") == Path("model.v1.pt2")


def test_materialised_rgp_keeps_only_the_kept_blocks(runs):
    from rgp_bench.export.materialised import materialise_for_export

    model, saved = load_model(runs["rgp"])
    fast = materialise_for_export(model, saved, "weights", "rgp")
    masked_params = sum(p.numel() for p in model.parameters())
    assert sum(p.numel() for p in fast.parameters()) < 0.6 * masked_params  # 3 of 4 hidden weights pruned
    x = torch.randn(3, *saved["input_shape"])
    with torch.no_grad():
        assert torch.allclose(fast(x), model(x), rtol=1e-5, atol=1e-6)


def test_materialised_channels_are_smaller(runs, tmp_path):
    from rgp_bench.export.materialised import materialise_for_export

    model, saved = load_model(runs["uniform"])
    small = materialise_for_export(model, saved, "macs", "uniform")
    assert sum(p.numel() for p in small.parameters()) < sum(p.numel() for p in model.parameters()) / 1.5


@pytest.mark.parametrize(("args", "expected"), [
    (["{missing}"], "run directory not found"),
    (["{uniform}", "--format", "tflite"], "unknown format 'tflite'; valid choices: aoti, onnx, pt"),
    (["{magnitude}", "--materialise"], "method magnitude prunes single weights, which have no materialised form"),
    (["{failed}"], "run {failed} failed (boom); only completed runs can be exported"),
    (["{empty}"], "no complete run record (results.json) in {empty}"),
])
def test_bad_input_is_one_line(runs, tmp_path, capsys, args, expected):
    failed, empty = tmp_path / "failed", tmp_path / "empty"
    failed.mkdir()
    empty.mkdir()
    (failed / "error.json").write_text(json.dumps({"status": "failed", "error": "boom"}))
    names = {"missing": tmp_path / "nowhere", "failed": failed, "empty": empty, **runs}
    argv = [a.format(**names) for a in args]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {expected.format(**names)}" or err.startswith(f"error: {expected.format(**names)}"), err
    assert len(err.splitlines()) == 1


# Runs the export's own loader note (the two documented lines) with torch only, and checks the output.
PLAIN_LOAD = """
import sys, torch
note, x_path, y_path = sys.argv[1:4]
namespace = {"torch": torch}
exec(open(note).read(), namespace)
out = namespace["model"](torch.load(x_path))
y = torch.load(y_path)
assert "rgp_bench" not in sys.modules
if sys.argv[4].endswith(".aoti.pt2"):  # compiled: its graph is C++ code; the note's direct call gives the same
    assert "aoti_load_package" in open(note).read()
    assert torch.equal(namespace["run"]([torch.load(x_path)])[0], out)
else:
    assert any(getattr(n.target, "namespace", None) == "rgp_bench" for n in torch.export.load(sys.argv[4]).graph.nodes)
err = float((out - y).abs().max() / y.abs().max())
print(err)
assert err < 1e-5, err
"""


def _kernel_forms_first(calls):
    """A deterministic stand-in for the timer: the C++ kernel forms are 'fastest', so the export must use them."""
    return {name: 0.5 if name in ("direct", "direct_shift", "gemm") else 1.0 for name in calls}


@pytest.mark.slow
@pytest.mark.parametrize(("fmt", "loader"), [("pt", "torch.export.load({!r}).module()"),
                                             ("aoti", "torch._inductor.aoti_load_package({!r})")])
def test_materialised_export_with_the_cpp_kernels_loads_in_plain_torch(runs, tmp_path, monkeypatch, capsys, fmt,
                                                                       loader):
    from rgp_bench import speedup
    from rgp_bench.speedup import load_kernel
    from rgp_bench.speedup.kernel import compiler_missing

    if load_kernel(build=True) is None:
        pytest.skip(f"C++ kernel unavailable here ({speedup.kernel_status().detail})")
    real = speedup.materialise
    monkeypatch.setattr(speedup, "materialise", lambda *a, **k: real(*a, **k, timer=_kernel_forms_first))
    if fmt == "aoti" and compiler_missing():
        pytest.skip(compiler_missing())
    out = tmp_path / f"fast.{fmt}.pt2"
    assert main([str(runs["rgp"]), "--materialise", "--format", fmt, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    note = tmp_path / f"fast.{fmt}.load.txt"
    library = next(tmp_path.glob("rgp_block_sparse_*.so"))  # the kernel library, copied next to the export
    assert f"torch.ops.load_library({str(library.resolve())!r})" in printed
    assert f"model = {loader.format(str(out.resolve()))}" in printed
    assert (AOTI_DIRECT_CALL in printed) == (fmt == "aoti")
    x, y = _reference(runs["rgp"], tmp_path)
    proc = subprocess.run([sys.executable, "-c", PLAIN_LOAD, str(note), str(x), str(y), str(out)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_onnx_runtime_timing_checks_the_outputs(tmp_path):
    from rgp_bench.export.cli import export_model
    from rgp_bench.export.timing import ATOL, time_onnx

    pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(12, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3)).eval()
    path = tmp_path / "m.onnx"
    export_model(model, torch.zeros(2, 12), "onnx", path)
    timing = time_onnx(model, path, torch.randn(4, 12), threads=1, rounds=1, min_run_time=0.001)
    assert timing.batch_size == 4 and timing.threads == 1
    assert timing.torch_seconds > 0 and timing.onnx_seconds > 0 and timing.max_abs_error <= ATOL
    assert "onnxruntime" in timing.describe() and "rtol=" in timing.describe()
    with torch.no_grad():
        model[2].bias.add_(1.0)  # the torch model no longer matches the export
    with pytest.raises(ValueError, match="differs from torch's"):
        time_onnx(model, path, torch.randn(4, 12), rounds=1, min_run_time=0.001)


def test_linear_layers_never_keep_a_batch_shaped_form():
    from rgp_bench.export.materialised import exportable_choices
    from rgp_bench.speedup.report import CandidateResult, LayerReport, MaterialiseReport

    def layer(name, kernel, chosen, ratios):
        candidates = [CandidateResult(form, ratio=ratio) for form, ratio in ratios.items()]
        return LayerReport(name, "", "", None, 1, 1, candidates=candidates, chosen=chosen, kernel=kernel)

    report = MaterialiseReport(64, "cpu", 1, "", "", "", (), 1.05, output_error=0.0, layers=[
        layer("conv", (3, 3), "direct", {"grouped": 1.5, "direct": 3.0}),  # a convolution keeps the direct form
        layer("fc1", (), "direct", {"bmm": 1.2, "gemm": 2.0, "direct": 2.5}),
        layer("fc2", (), "direct_shift", {"bmm": 1.01, "direct_shift": 1.5}),  # nothing else beats masked by 5 %
        layer("fc3", (), "gemm", {"gemm": 4.0}),
    ])
    assert exportable_choices(report) == {"conv": "direct", "fc1": "gemm", "fc2": "masked", "fc3": "gemm"}
    report.layers = report.layers[3:]
    assert exportable_choices(report) is None
