"""The README's "Adding a method" example, as one module: the registry, the config, the validation, the CLI
and the generated method tests pick it up without any other file changing."""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from tests.conftest import run_cli

from rgp_bench.config import conf_dir
from rgp_bench.core.errors import UserError
from rgp_bench.methods import METHODS, get_method
from rgp_bench.run.configs import register
from rgp_bench.run.preflight import preflight
from rgp_bench.run.validate import validate_config

ROOT = Path(__file__).resolve().parents[1]
NAME = "row_magnitude"


def example_source() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- example-method:begin -->\s*```python\n(.*?)```\s*<!-- example-method:end -->", readme,
                      re.S)
    assert block, "README has no example method"
    return block.group(1)


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("plugin")
    (folder / f"{NAME}.py").write_text(example_source(), encoding="utf-8")
    return folder


@pytest.fixture
def plugin_env(plugin_dir) -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(plugin_dir), str(ROOT), os.environ.get("PYTHONPATH")]))
    return {"RGP_BENCH_PLUGINS": NAME, "PYTHONPATH": path}


def test_one_module_registers_composes_and_validates(plugin_dir, monkeypatch):
    monkeypatch.syspath_prepend(str(plugin_dir))
    try:
        importlib.import_module(NAME)
        register()
        method = get_method(NAME)
        assert method.canonical_regime == "finetune" and method.budget == "weights" and not method.needs
        with initialize_config_dir(str(conf_dir()), version_base="1.3"):
            cfg = compose("config", overrides=[f"method={NAME}", "method.keep=smallest"])
        validate_config(cfg)
        assert (cfg.method.name, cfg.method.keep) == (NAME, "smallest")
        with pytest.raises(UserError, match=r"unknown method.keep 'middle'; valid choices: largest, smallest"):
            preflight([f"method={NAME}", "method.keep=middle"])
        with pytest.raises(UserError, match=rf"unknown method option 'bogus'; valid choices: .*{NAME}"):
            preflight(["method=bogus"])
    finally:
        METHODS.pop(NAME, None)
        sys.modules.pop(NAME, None)


@pytest.mark.slow
def test_the_cli_runs_the_plugin_method(tmp_path, plugin_env):
    proc = run_cli([f"method={NAME}", "ratio=0.75", "train.epochs=1", "train.pretrain_epochs=1", "model.width=32",
                    "model.depth=2"], tmp_path, env=plugin_env)
    assert proc.returncode == 0, proc.stderr
    record = json.loads((tmp_path / "run" / "results.json").read_text())
    assert (record["method"], record["regime"], record["method_info"]) == (NAME, "finetune", {"keep": "largest"})
    assert record["sparsity"]["achieved"] == pytest.approx(0.75)
    bad = run_cli([f"method={NAME}", "method.keep=middle"], tmp_path / "run", env=plugin_env)
    assert bad.returncode == 2 and bad.stderr.strip() == (
        "error: unknown method.keep 'middle'; valid choices: largest, smallest")


@pytest.mark.slow
def test_the_generated_method_tests_cover_the_plugin(plugin_env):
    env = {**os.environ, **plugin_env}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_methods.py",
                           "-k", NAME], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:]
    passed = int(re.search(r"(\d+) passed", proc.stdout).group(1))
    # contract: (default, keep=smallest) x 2 models; on every model: 8 models
    assert passed >= 2 * 2 + 8, proc.stdout[-2000:]
