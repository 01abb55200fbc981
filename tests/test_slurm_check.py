"""The pre-submission SLURM check (GPUs and partition against sinfo), on injected sinfo output; one live test."""

from __future__ import annotations

import subprocess

import pytest
from hydra import compose, initialize_config_dir

from rgp_bench import slurm_check
from rgp_bench.config import conf_dir
from rgp_bench.core.errors import UserError
from rgp_bench.slurm_check import (
    check_command_line,
    check_gpus,
    check_slurm_launch,
    gres_gpus,
    partition_gpus,
    read_sinfo,
)

CPU_ONLY = "debug*|(null)\n"
MIXED = "cpu*|(null)\ngpu|gpu:a100:4(S:0-1)\ngpu|gpu:2\nbig|gpu:a100:2,gpu:v100:2(S:0)\n"


@pytest.mark.parametrize(("gres", "gpus"), [
    ("(null)", 0), ("gpu:4", 4), ("gpu:a100:4(S:0-1)", 4), ("gpu:a100:2,gpu:v100:2(S:0)", 4), ("gpu", 1),
    ("gpu:a100", 1), ("shard:8,gpu:1(IDX:0)", 1), ("mps:100", 0), ("gpu:tesla:2(S:0,1)", 2),
])
def test_gres_strings_count_gpus_per_node(gres, gpus):
    assert gres_gpus(gres) == gpus


def test_partitions_keep_their_largest_node_and_the_default():
    assert partition_gpus(MIXED) == ({"cpu": 0, "gpu": 4, "big": 4}, "cpu")
    assert partition_gpus("") == ({}, None)


def test_a_gpu_request_on_a_cpu_only_cluster_is_one_line_naming_the_setting():
    with pytest.raises(UserError) as err:
        check_gpus(1, "debug", CPU_ONLY)
    message = str(err.value)
    assert "\n" not in message
    assert message == ("hydra.launcher.gpus_per_node=1 but partition 'debug' has no GPUs (sinfo shows no gpu gres); "
                       "valid values: 0 (run on the CPU: hydra.launcher.gpus_per_node=0 hardware=cpu)")
    with pytest.raises(UserError, match="partition 'debug' has no GPUs"):
        check_gpus(1, None, CPU_ONLY)  # no partition: the default one
    check_gpus(0, "debug", CPU_ONLY)
    check_gpus(None, None, CPU_ONLY)


def test_too_many_gpus_name_the_valid_range():
    check_gpus(4, "gpu", MIXED)
    with pytest.raises(UserError, match=r"^hydra.launcher.gpus_per_node=8 but the nodes of partition 'gpu' have at "
                                        r"most 4 GPUs; valid values: 0 to 4$"):
        check_gpus(8, "gpu", MIXED)
    with pytest.raises(UserError, match="partition 'cpu' has no GPUs"):
        check_gpus(1, None, MIXED)
    check_gpus(4, "cpu,gpu", MIXED)  # a list of partitions: any of them may take the job


def test_an_unknown_partition_lists_the_cluster_s_partitions():
    with pytest.raises(UserError, match=r"^hydra.launcher.partition='a100' is not a partition of this SLURM cluster; "
                                        r"valid choices: big, cpu, gpu$"):
        check_gpus(1, "a100", MIXED)


def test_unreadable_sinfo_leaves_the_verdict_to_sbatch():
    check_gpus(1, "debug", "")
    check_gpus(1, "debug", "slurm_load_partitions: Unable to contact slurm controller\n")
    check_slurm_launch({"_target_": "x.SlurmLauncher", "gpus_per_node": 1}, None)


def test_only_slurm_launchers_are_checked():
    check_slurm_launch({"_target_": "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"}, CPU_ONLY)
    check_slurm_launch({"_target_": "hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher",
                        "gpus_per_node": 1}, CPU_ONLY)


def _launcher(*overrides: str):
    with initialize_config_dir(str(conf_dir()), version_base="1.3"):
        return compose("config", overrides=list(overrides), return_hydra_config=True).hydra.launcher


def test_the_slurm_preset_is_checked_as_composed():
    with pytest.raises(UserError, match="gpus_per_node=1 but partition 'debug' has no GPUs"):
        check_slurm_launch(_launcher("hydra/launcher=slurm"), CPU_ONLY)
    check_slurm_launch(_launcher("hydra/launcher=slurm", "hydra.launcher.gpus_per_node=0"), CPU_ONLY)
    with pytest.raises(UserError, match="partition='gpu' is not a partition"):
        check_slurm_launch(_launcher("hydra/launcher=submitit_slurm", "hydra.launcher.partition=gpu",
                                     "hydra.launcher.gpus_per_node=1"), CPU_ONLY)


def test_the_command_line_check_runs_only_for_a_slurm_multirun():
    def no_sinfo() -> str:
        raise AssertionError("sinfo must not be read for this command line")

    slurm = ["-m", "hydra/launcher=slurm", "hydra.launcher.partition=debug", "method=rgp,random", "seed=0,1"]
    with pytest.raises(UserError, match="gpus_per_node=1 but partition 'debug' has no GPUs"):
        check_command_line(slurm, lambda: CPU_ONLY)
    check_command_line([*slurm, "hydra.launcher.gpus_per_node=0"], lambda: CPU_ONLY)
    check_command_line(slurm, lambda: None)  # no sinfo here: sbatch will judge
    check_command_line(slurm[1:], no_sinfo)  # a single run does not launch
    check_command_line(["-m", "hydra/launcher=joblib", "method=rgp,random"], no_sinfo)
    check_command_line(["-m", "method=rgp,random"], no_sinfo)
    check_command_line(["-m", "hydra/launcher=slurm", "hydra.launcher.no_such_key=1"], lambda: CPU_ONLY)


def test_read_sinfo_is_none_without_slurm(monkeypatch):
    monkeypatch.setattr(slurm_check.shutil, "which", lambda _cmd: None)
    assert read_sinfo() is None


@pytest.mark.slurm
def test_the_check_agrees_with_sbatch_on_the_test_cluster():
    sinfo = read_sinfo()
    assert sinfo is not None
    gpus, _ = partition_gpus(sinfo)
    assert gpus.get("debug") == 0  # scripts/slurm/cluster.sh's node has no GPUs
    with pytest.raises(UserError, match=r"^hydra\.launcher\.gpus_per_node=1 "):
        check_gpus(1, "debug", sinfo)
    test = ["sbatch", "--test-only", "--partition=debug", "--wrap=true"]
    refused = subprocess.run([*test, "--gpus-per-node=1"], capture_output=True, text=True, timeout=30)
    assert refused.returncode != 0 and "gres" in refused.stderr.lower(), refused.stderr
    assert subprocess.run(test, capture_output=True, text=True, timeout=30).returncode == 0
