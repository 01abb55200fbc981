"""Issue 22, findings 6 and 7: every CLI's argument errors are one line and non-zero, Hydra-quoted values with
spaces and non-ASCII characters pass the pre-flight, and the graph CLI's cache path, progress and size limit."""

from __future__ import annotations

import io
import sys

import pytest

from rgp_bench.core.cli import OneLineParser, one_line


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "usage:" not in err and "Traceback" not in err
    return lines[0]


def test_a_bad_choice_names_the_valid_choices_on_one_line(capsys):
    parser = OneLineParser(prog="tool")
    parser.add_argument("--metric", choices=["best_val", "final"])
    with pytest.raises(SystemExit) as exited:
        parser.parse_args(["--metric", "bogus"])
    assert exited.value.code == 2
    line = _one_error_line(capsys.readouterr().err)
    assert line == "error: argument --metric: invalid choice: 'bogus'; valid choices: best_val, final"
    assert one_line("the following arguments\n are required: PATH") == "the following arguments are required: PATH"


def test_rgp_bench_info_bogus_is_one_line(monkeypatch, capsys, tmp_path):
    from rgp_bench.__main__ import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["rgp_bench", "--info", "bogus"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    line = _one_error_line(capsys.readouterr().err)
    assert line.endswith("invalid choice: 'bogus'; valid choices: all, config, defaults, defaults-tree, plugins, "
                         "searchpath")
    assert not list(tmp_path.iterdir())


def test_report_metric_bogus_is_one_line(capsys, tmp_path):
    from rgp_bench.report.cli import main

    with pytest.raises(SystemExit) as exited:
        main([str(tmp_path), "--metric", "bogus"])
    assert exited.value.code == 2
    assert _one_error_line(capsys.readouterr().err).endswith("valid choices: best_val, final")


@pytest.mark.parametrize("argv", [[], ["RUN", "--bogus"]])
def test_export_argument_errors_are_one_line(argv, capsys):
    from rgp_bench.export.cli import main

    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    _one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    "argv",
    [['hydra.run.dir="/tmp/x y/ünï"', 'cache_dir="/tmp/a b"'], ["hydra.run.dir='/tmp/x y/ünï'"],
     ["-m", 'hydra.sweep.dir="/tmp/x y/ünï"', 'cache_dir="/tmp/a b","/tmp/ü c"']],
)
def test_quoted_values_with_spaces_and_non_ascii_pass_the_preflight(argv):
    from rgp_bench.run.configs import register
    from rgp_bench.run.preflight import preflight

    register()
    flags = [a for a in argv if a.startswith("-")]
    preflight([*flags, "logger=none", *[a for a in argv if a not in flags]])  # raises UserError if refused


def test_a_flag_after_the_overrides_is_one_line_that_says_where_flags_go():
    from rgp_bench.core.errors import UserError
    from rgp_bench.run.preflight import preflight

    with pytest.raises(UserError, match=r"unrecognized arguments: seed=0,1; flags .* go before the overrides"):
        preflight(["logger=none", "-m", "seed=0,1"])


# --- the graph CLI ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("below", ["", "/sub"])
def test_graph_cli_refuses_a_cache_dir_that_is_a_file(below, tmp_path, capsys):
    from rgp_bench.graphs.cli import main

    blocker = tmp_path / "afile"
    blocker.write_text("x")
    assert main(["--nodes", "16", "--degree", "4", "--iters", "10", "--cache-dir", f"{blocker}{below}"]) == 2
    captured = capsys.readouterr()
    line = _one_error_line(captured.err)
    assert f"--cache-dir {blocker}{below}" in line and "is a file" in line and captured.out == ""
    assert blocker.read_text() == "x"


def test_graph_cli_states_and_enforces_its_size_limit(capsys):
    from rgp_bench.graphs.cli import MAX_NODES, _parser, main

    assert f"at most {MAX_NODES}" in " ".join(_parser().format_help().split())
    assert main(["--nodes", str(MAX_NODES + 1), "--ratio", "0.9"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert f"must be <= {MAX_NODES}" in line and str(MAX_NODES + 1) in line


def test_graph_cli_prints_plain_progress_lines_while_building(monkeypatch, capsys, tmp_path):
    """A build longer than the interval prints plain lines (here the interval is 0, so every build is 'long')."""
    from rgp_bench.graphs import progress
    from rgp_bench.graphs.cli import main

    monkeypatch.setattr(progress, "EVERY_S", 0.0)
    monkeypatch.setattr(progress.Heartbeat.__init__, "__defaults__", (0.0, None))
    assert main(["--nodes", "32", "--degree", "4", "--iters", "2000", "--no-cache", "--json"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err and all(line.startswith("building n=32 k=4: ") for line in err), err
    assert err[-1].startswith("building n=32 k=4: done in ")
    assert main(["--nodes", "32", "--degree", "4", "--iters", "2000", "--no-cache", "--json", "-q"]) == 0
    assert capsys.readouterr().err == ""


def test_heartbeat_lines_carry_the_search_state():
    from rgp_bench.graphs.progress import Heartbeat

    stream = io.StringIO()
    with Heartbeat("building n=8 k=3", every_s=3600, stream=stream) as beat:
        beat.update(120)
        beat.set_postfix(aspl="1.5000")
        assert beat.line().endswith("s elapsed, 120 swaps tried, aspl 1.5000")
    assert stream.getvalue() == ""  # shorter than the interval: silent


def test_an_unknown_flag_is_one_line():
    from rgp_bench.core.errors import UserError
    from rgp_bench.run.preflight import preflight

    with pytest.raises(UserError, match=r"^unrecognized arguments: --bogus; see python -m rgp_bench --help$"):
        preflight(["--bogus", "seed=1"])
