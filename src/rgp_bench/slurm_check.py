"""Check a SLURM launch against the cluster before submitting: one line instead of sbatch's refusal as a traceback.

`hydra/launcher=slurm` asks for `hydra.launcher.gpus_per_node` GPUs per job (the preset: 1). Where the partition's
nodes have no GPUs, sbatch refuses the whole job array ("Invalid generic resource (gres) specification" on a
cluster without GPUs, "Requested node configuration is not available" on one whose GPUs are in other partitions),
and submitit raises that through Hydra as a 40-line traceback after the sweep has started. The same holds for a
partition that does not exist ("invalid partition specified"). `sinfo --noheader --format=%P|%G` tells both in
advance: each line is a partition (the default one marked `*`) and the generic resources of a group of its nodes.

`check_command_line(sys.argv[1:])` (a multirun whose command line picks a SLURM launcher) and
`check_slurm_launch(cfg.hydra.launcher, read_sinfo())` raise a UserError naming the setting and its valid values;
the checks themselves are pure functions of the sinfo text.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rgp_bench.core.errors import UserError

SINFO_COMMAND = ("sinfo", "--noheader", "--format=%P|%G")
_PARENS = re.compile(r"\([^)]*\)")  # socket or index lists: gpu:a100:4(S:0-1), gpu:2(IDX:0,1)
SLURM_LAUNCHERS = ("slurm", "submitit_slurm")  # hydra/launcher options that submit to SLURM


def gres_gpus(gres: str) -> int:
    """The GPUs per node in a `%G` gres string: 0 for "(null)", 4 for "gpu:a100:4(S:0-1)", 3 for "gpu:a:1,gpu:b:2"."""
    total = 0
    for item in _PARENS.sub("", gres).split(","):
        fields = item.strip().split(":")
        if fields[0] != "gpu":
            continue
        count = fields[-1] if len(fields) > 1 else "1"
        total += int(count) if count.isdigit() else 1  # gpu:a100 (a type, no count) is one GPU
    return total


def partition_gpus(sinfo_output: str) -> tuple[dict[str, int], str | None]:
    """Each partition's most GPUs on one node, and the default partition (None if none is marked), from sinfo."""
    gpus: dict[str, int] = {}
    default = None
    for line in sinfo_output.splitlines():
        if "|" not in line:
            continue
        name, gres = (part.strip() for part in line.split("|", 1))
        if name.endswith("*"):
            name = name[:-1]
            default = name
        gpus[name] = max(gpus.get(name, 0), gres_gpus(gres))
    return gpus, default


def check_gpus(gpus_per_node: int | None, partition: str | None, sinfo_output: str) -> None:
    """Raise a one-line UserError if the partition is unknown or its nodes cannot hold `gpus_per_node` GPUs."""
    gpus, default = partition_gpus(sinfo_output)
    if not gpus:  # sinfo said nothing we can read: leave the verdict to sbatch
        return
    if partition:
        names = [p.strip() for p in str(partition).split(",") if p.strip()]  # SLURM takes a list of partitions
        unknown = [p for p in names if p not in gpus]
        if unknown:
            raise UserError(f"hydra.launcher.partition={unknown[0]!r} is not a partition of this SLURM cluster; "
                            f"valid choices: {', '.join(sorted(gpus))}")
    elif default is not None:
        names = [default]
    else:
        return
    wanted = int(gpus_per_node or 0)
    most = max(gpus[p] for p in names)
    if wanted <= most:
        return
    where = f"partition {names[0]!r}" if len(names) == 1 else f"partitions {', '.join(map(repr, names))}"
    if most == 0:
        raise UserError(f"hydra.launcher.gpus_per_node={wanted} but {where} has no GPUs (sinfo shows no gpu gres); "
                        f"valid values: 0 (run on the CPU: hydra.launcher.gpus_per_node=0 hardware=cpu)")
    raise UserError(f"hydra.launcher.gpus_per_node={wanted} but the nodes of {where} have at most {most} GPUs; "
                    f"valid values: 0 to {most}")


def is_slurm_launcher(launcher: Mapping[str, Any]) -> bool:
    """Whether Hydra's launcher config is hydra-submitit-launcher's SLURM one (`slurm` or `submitit_slurm`)."""
    return str(launcher.get("_target_", "")).endswith("SlurmLauncher")


def check_slurm_launch(launcher: Mapping[str, Any], sinfo_output: str | None) -> None:
    """Check a SLURM launcher config (`cfg.hydra.launcher`) against sinfo; no-op for other launchers or no sinfo."""
    if sinfo_output is None or not is_slurm_launcher(launcher):
        return
    check_gpus(launcher.get("gpus_per_node"), launcher.get("partition"), sinfo_output)


def read_sinfo(timeout: float = 30) -> str | None:
    """`sinfo --noheader --format=%P|%G` on this machine, or None where sinfo is missing or fails."""
    if shutil.which(SINFO_COMMAND[0]) is None:
        return None
    try:
        proc = subprocess.run(SINFO_COMMAND, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None


def check_command_line(argv: Sequence[str], sinfo: Callable[[], str | None] = read_sinfo) -> None:
    """Check a command line's SLURM launch before Hydra submits it; a no-op unless it is a multirun whose
    `hydra/launcher=` picks a SLURM launcher (then its `hydra*` overrides are composed and checked against sinfo)."""
    if not any(a in ("-m", "--multirun") for a in argv):
        return
    hydra_overrides = [a for a in argv if not a.startswith("-") and a.lstrip("+~").startswith("hydra")]
    launchers = [a.split("=", 1)[1] for a in hydra_overrides if a.lstrip("+~").startswith("hydra/launcher=")]
    if not launchers or launchers[-1] not in SLURM_LAUNCHERS:
        return
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from rgp_bench.config import conf_dir
    from rgp_bench.run.configs import register

    register()  # the schemas the config's defaults name (idempotent)
    try:
        with initialize_config_dir(str(conf_dir()), version_base="1.3"):
            launcher = compose("config", overrides=hydra_overrides, return_hydra_config=True).hydra.launcher
    except (HydraException, OmegaConfBaseException):  # a bad hydra override: Hydra itself reports it
        return
    check_slurm_launch(launcher, sinfo())
