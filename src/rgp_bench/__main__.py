"""Command-line entry: `python -m rgp_bench [overrides]` and the `rgp-bench` console script."""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from rgp_bench.config import conf_dir
from rgp_bench.core.errors import UserError
from rgp_bench.run.configs import register
from rgp_bench.run.preflight import preflight
from rgp_bench.slurm_check import check_command_line

# Ctrl-C in a sweep whose jobs run in processes of their own (hydra/launcher=joblib): each job recorded its stop.
INTERRUPTED_SWEEP = ("interrupted; relaunch the same command to resume (complete runs are skipped, interrupted ones "
                     "resume from their last checkpoint)")
SIGINT_EXIT = 130


@hydra.main(config_path=str(conf_dir()), config_name="config", version_base="1.3")
def _hydra_entry(cfg: DictConfig) -> float | None:
    from rgp_bench.run.job import run_job

    return run_job(cfg)


def main() -> None:
    """Register the schemas, validate the overrides, then hand over to Hydra (single run or `-m` multirun)."""
    if any(arg in ("--help", "-h") for arg in sys.argv[1:]):
        from rgp_bench.help import help_text

        register()
        print(help_text())
        return
    try:
        register()
        preflight(sys.argv[1:])
        check_command_line(sys.argv[1:])
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    try:
        _hydra_entry()
    except KeyboardInterrupt:  # a run or an in-process sweep ends its own way (run_job); this is a launcher's parent
        print(INTERRUPTED_SWEEP, file=sys.stderr)
        sys.exit(SIGINT_EXIT)


if __name__ == "__main__":
    main()
