"""Issue 22, finding 5: a user's own presets (`--config-dir`, `--config-path`, `hydra.searchpath`) run, and the
pre-flight checks them like the packaged ones. The README's example is run as written."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from tests.cli_runner import run_rgp_bench
from tests.conftest import read_results

from rgp_bench.core.errors import UserError
from rgp_bench.run.configs import register
from rgp_bench.run.preflight import preflight

README = Path(__file__).resolve().parents[1] / "README.md"
TINY = ["dataset=digits", "model=mlp", "train.epochs=1", "logger=none", "measure.latency.enabled=false"]


def _readme_example() -> tuple[str, list[str]]:
    """The preset file and the command of the README's "Your own presets" paragraph."""
    section = README.read_text(encoding="utf-8").split("### Your own presets", 1)[1].split("\n## ", 1)[0]
    preset = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    command = re.search(r"```bash\n(.*?)```", section, re.S).group(1).strip()
    assert command.startswith("python -m rgp_bench "), command
    return preset, command.split()[3:]


def _user_conf(root: Path) -> Path:
    preset, _ = _readme_example()
    (root / "my_conf" / "experiment").mkdir(parents=True)
    (root / "my_conf" / "experiment" / "myexp.yaml").write_text(preset, encoding="utf-8")
    (root / "my_conf" / "method").mkdir()
    (root / "my_conf" / "method" / "myrgp.yaml").write_text("defaults:\n  - rgp_schema\nname: rgp\nnodes: 32\n")
    return root / "my_conf"


def test_the_readme_example_runs_a_users_own_preset(tmp_path):
    _user_conf(tmp_path)
    _, argv = _readme_example()
    assert argv == ["--config-dir", "my_conf", "experiment=myexp"]
    outputs = [f"hydra.run.dir={tmp_path}/run", f"cache_dir={tmp_path}/cache"]
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    proc = run_rgp_bench([*argv, *outputs, *TINY], tmp_path, env, 240)  # the command as written, flags first
    assert proc.returncode == 0, proc.stderr[-2000:]
    record = read_results(tmp_path / "run")
    assert record["status"] == "complete" and record["config"]["ratio"] == 0.8  # the preset's own value
    assert (record["method"], record["epochs"]["total"]) == ("rgp", 1)


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    register()
    monkeypatch.chdir(tmp_path)
    _user_conf(tmp_path)
    return tmp_path


def test_a_typo_in_a_user_preset_lists_the_users_presets_too(in_tmp):
    with pytest.raises(UserError, match=r"^unknown experiment option 'myexpp'; valid choices: .*\bmyexp\b"):
        preflight(["--config-dir", "my_conf", "experiment=myexpp"])
    with pytest.raises(UserError, match=r"unknown experiment option 'myexp'"):  # not on the search path
        preflight(["experiment=myexp"])


def test_a_users_method_settings_are_used_and_checked(in_tmp):
    preflight(["--config-dir", "my_conf", "method=myrgp"])
    with pytest.raises(UserError, match=r"method.nodes=0 is invalid"):
        preflight(["--config-dir", "my_conf", "method=myrgp", "method.nodes=0"])
    with pytest.raises(UserError, match=r"--config-dir nope is not a directory"):
        preflight(["--config-dir", "nope", "seed=1"])


def test_hydra_searchpath_override_and_a_users_primary_config(in_tmp):
    preflight([f"hydra.searchpath=[file://{in_tmp / 'my_conf'}]", "experiment=myexp"])
    preflight(["-m", "--config-dir=my_conf", "experiment=myexp,aspl_study"])
    from rgp_bench.config.location import conf_dir

    (in_tmp / "user").mkdir()
    (in_tmp / "user" / "mine.yaml").write_text(
        f"defaults:\n  - config\n  - _self_\nhydra:\n  searchpath:\n    - file://{conf_dir()}\n"
        f"    - file://{in_tmp / 'my_conf'}\nseed: 3\n")
    preflight(["--config-path", str(in_tmp / "user"), "--config-name", "mine", "experiment=myexp"])
    with pytest.raises(UserError, match=r"unknown experiment option 'myexpp'; valid choices: .*\bmyexp\b"):
        preflight(["--config-path", str(in_tmp / "user"), "--config-name", "mine", "experiment=myexpp"])
    with pytest.raises(UserError, match=r"unknown --config-name 'minee'; valid choices: mine$"):
        preflight(["--config-path", str(in_tmp / "user"), "--config-name", "minee"])
