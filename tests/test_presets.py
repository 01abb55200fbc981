"""Experiment presets (conf/experiment/): they compose to the RGP paper's settings, their sweeps are valid, and
each one runs end to end (one batch, fabricated data) through the real CLI. New presets are picked up
automatically by the composition and smoke tests."""

from __future__ import annotations

import itertools
import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig
from tests.conftest import make_cfg, read_results, run_cli
from tests.test_data import write_cifar10, write_cifar100
from tests.test_imagenet import write_imagenet

from rgp_bench.config import conf_dir
from rgp_bench.graphs import build_graph, feasible_degree
from rgp_bench.run.validate import validate_config

PRESETS = sorted(p.stem for p in (conf_dir() / "experiment").glob("*.yaml"))

# The RGP authors' training recipes (their configs/ and orders/experiment/).
CIFAR = {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": False, "schedule": "cosine", "epochs": 100,
         "batch_size": 256, "weight_decay": 5e-4, "label_smoothing": 0.0}
IMAGENET = {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": False, "schedule": "step", "step_size": 30,
            "gamma": 0.1, "epochs": 100, "batch_size": 256, "weight_decay": 1e-4, "label_smoothing": 0.1}
FIVE_SEEDS = [0, 1, 2, 3, 4]
CIFAR_K = [4, 6, 8]  # n = 64
RESNET56_K = [4, 6, 8, 10, 12]  # n = 16
IMAGENET_K = [16, 24, 30, 36]  # n = 64

# name -> (dataset, model, nodes n, swept k, swept seeds, single-run k, single-run seed, recipe)
PAPER: dict[str, tuple] = {
    "rgp_cifar10_vgg16": ("cifar10", "vgg16", 64, CIFAR_K, FIVE_SEEDS, 6, 0, CIFAR),
    "rgp_cifar10_resnet18": ("cifar10", "resnet18", 64, CIFAR_K, FIVE_SEEDS, 6, 0, CIFAR),
    "rgp_cifar100_vgg16": ("cifar100", "vgg16", 64, CIFAR_K, FIVE_SEEDS, 6, 0, CIFAR),
    "rgp_cifar100_resnet18": ("cifar100", "resnet18", 64, CIFAR_K, FIVE_SEEDS, 6, 0, CIFAR),
    "rgp_cifar10_resnet56": ("cifar10", "resnet56", 16, RESNET56_K, FIVE_SEEDS, 8, 0, CIFAR),
    "rgp_cifar100_resnet56": ("cifar100", "resnet56", 16, RESNET56_K, FIVE_SEEDS, 8, 0, CIFAR),
    "rgp_imagenet_resnet50": ("imagenet", "resnet50", 64, IMAGENET_K, [2021], 24, 2021, IMAGENET),
}
ASPL_ITERS = [0, 2, 4, 8, 16, 64, None]  # aspl_study: ring lattice ... the engine's full default budget

# Fabricated data is tiny: ImageNet at 64 px (resnet50 keeps its ImageNet stem) and a validation fraction that
# leaves some of its 18 training images for validation.
SMOKE = ["train.epochs=1", "train.limit_batches=1", "train.batch_size=2", "train.eval_batch_size=2",
         "hardware=cpu", "train.progress=false"]
SMOKE_EXTRA = {"imagenet": ["dataset.image_size=64", "dataset.val_fraction=0.25"]}
# A tiny search budget: the presets' own (50 episodes per action) is the real experiment's.
SMOKE_METHOD = {"gnnrl": ["method.episodes=2"], "random_search": ["method.evaluations=2"]}
MULTIRUN = "multirun_aspl_study"  # key of the `-m` run in cli_runs


def compose_with_hydra(*overrides: str) -> DictConfig:
    """The composed config including its `hydra` node (where the preset's sweep lives)."""
    with initialize_config_dir(str(conf_dir()), version_base="1.3"):
        return compose("config", overrides=list(overrides), return_hydra_config=True)


def sweep_values(name: str) -> dict[str, list]:
    """The preset's hydra.sweeper.params, parsed as Hydra's basic sweeper parses them."""
    params = compose_with_hydra(f"experiment={name}").hydra.sweeper.params or {}
    parser = OverridesParser.create()
    out = {}
    for key, value in params.items():
        override = parser.parse_override(f"{key}={value}")
        out[key] = list(override.sweep_iterator()) if override.is_sweep_override() else [override.value()]
    return out


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, Path]]:
    """Every preset run once through the real CLI (one batch, fabricated data), plus one `-m` sweep.

    The runs are independent processes, started two at a time with one thread each: most of a run is
    single-threaded start-up (imports, composition), so this roughly halves the wall time on a small CPU.
    Result: name -> (completed process, run dir), and MULTIRUN -> (process, sweep dir).
    """
    root = tmp_path_factory.mktemp("data")
    write_cifar10(root)
    write_cifar100(root)
    write_imagenet(root)
    jobs: dict[str, tuple[list[str], Path]] = {}
    for name in PRESETS:
        cfg = make_cfg(f"experiment={name}")
        extra = [*SMOKE_EXTRA.get(cfg.dataset.name, []), *SMOKE_METHOD.get(cfg.method.name, [])]
        jobs[name] = ([f"experiment={name}", *SMOKE, f"dataset.root={root}", *extra], Path("run"))
    jobs[MULTIRUN] = (["-m", "experiment=aspl_study", "seed=0", *SMOKE], Path("sweep"))
    base = tmp_path_factory.mktemp("cli")
    for name in jobs:
        (base / name).mkdir()
    # One cache for all (the last cache_dir wins): MNIST-1D is generated once and RGP's graphs are shared, as in a
    # user's sweeps; the runs write it concurrently, as a sweep's jobs do.
    shared_cache = f"cache_dir={base / 'cache'}"

    def launch(name: str) -> tuple[subprocess.CompletedProcess, Path]:
        args, out = jobs[name]
        return run_cli([*args, shared_cache], base / name, timeout=600), base / name / out

    # Slowest first, so the two workers finish together.
    order = sorted(jobs, key=lambda n: ("resnet50" not in n, "vgg16" not in n, n != MULTIRUN))
    with pytest.MonkeyPatch.context() as mp, ThreadPoolExecutor(max_workers=2) as pool:
        mp.setenv("OMP_NUM_THREADS", "1")
        return dict(zip(order, pool.map(launch, order), strict=True))


def test_presets_found() -> None:
    assert set(PAPER) | {"aspl_study"} <= set(PRESETS)


@pytest.mark.parametrize("name", PRESETS)
def test_preset_composes_validates_and_its_sweep_is_valid(name: str) -> None:
    cfg = make_cfg(f"experiment={name}")
    validate_config(cfg)
    assert 0.0 < cfg.ratio < 1.0
    for key, values in sweep_values(name).items():
        assert values, key
        for value in values:  # every swept value composes and validates, as `-m` would run it
            override = "null" if value is None else value
            validate_config(make_cfg(f"experiment={name}", f"{key}={override}"))


@pytest.mark.parametrize("name", sorted(PAPER))
def test_preset_matches_the_paper(name: str) -> None:
    dataset, model, nodes, ks, seeds, k_single, seed_single, recipe = PAPER[name]
    cfg = make_cfg(f"experiment={name}")
    assert (cfg.dataset.name, cfg.model.name, cfg.method.name) == (dataset, model, "rgp")
    # nodes=auto resolves to n (checked on real models in the smoke run) and keeps baselines composable.
    assert cfg.method.nodes == "auto" and cfg.method.degree is None and not cfg.method.self_loops
    assert {key: cfg.train[key] for key in recipe} == recipe
    assert cfg.train.regime == "auto"
    sweep = sweep_values(name)
    assert set(sweep) == ({"ratio", "seed"} if len(seeds) > 1 else {"ratio"})
    assert sweep.get("seed", [cfg.seed]) == seeds and cfg.seed == seed_single
    # k = n * (1 - ratio) exactly, and the engine's degree choice for that ratio is that k.
    assert [nodes * (1 - r) for r in sweep["ratio"]] == pytest.approx(ks, abs=1e-12)
    assert [feasible_degree(nodes, r) for r in sweep["ratio"]] == ks
    assert feasible_degree(nodes, cfg.ratio) == k_single and cfg.ratio in sweep["ratio"]
    if dataset == "imagenet":
        assert (cfg.hardware.name, cfg.hardware.device, cfg.hardware.precision) == ("cuda_amp", "cuda", "bf16")
        assert cfg.dataset.image_size == 224
    # The documented baseline sweep composes: the preset pins nothing that only rgp's schema has.
    for method in ("magnitude", "random"):
        other = make_cfg(f"experiment={name}", f"method={method}")
        assert other.method.name == method and other.train.epochs == recipe["epochs"]


def test_the_topology_study_runs_one_job_per_core_by_default() -> None:
    launcher = compose_with_hydra("experiment=topology_study").hydra.launcher
    assert launcher._target_.endswith("ResilientJoblibLauncher") and launcher.n_jobs == -1
    other = compose_with_hydra("experiment=topology_study", "hydra/launcher=basic").hydra.launcher
    assert other._target_.endswith("BasicLauncher")  # the command line still picks another


def test_aspl_study_spans_ring_to_optimised_graph() -> None:
    cfg = make_cfg("experiment=aspl_study")
    assert (cfg.dataset.name, cfg.model.name, cfg.method.name) == ("digits", "mlp", "rgp")
    assert (cfg.method.nodes, cfg.ratio, feasible_degree(64, cfg.ratio)) == (64, 0.9375, 4)
    assert (cfg.method.start, cfg.method.strategy, cfg.method.graph_iters, cfg.seed) == ("ring", "greedy", None, 0)
    assert cfg.train.epochs == 30
    sweep = sweep_values("aspl_study")
    assert sweep == {"method.graph_iters": ASPL_ITERS, "seed": [0, 1, 2]}
    # Mean ASPL over the study's seeds, per swap budget: from the ring lattice down to the optimised graph, in
    # clearly distinct steps (single seeds can tie or cross between neighbouring budgets).
    aspl = [sum(build_graph(64, 4, strategy="greedy", start="ring", iters=i, seed=s)[1]["aspl"] for s in range(3)) / 3
            for i in ASPL_ITERS]
    assert aspl[0] == pytest.approx(8.380952, abs=1e-6)  # the ring lattice itself
    assert all(a > b + 0.1 for a, b in itertools.pairwise(aspl))
    assert aspl[-1] < 3.0  # the optimised graph (Moore bound 2.857)


@pytest.mark.slow
@pytest.mark.parametrize("name", PRESETS)
def test_preset_runs_one_batch_end_to_end(name: str, cli_runs: dict) -> None:
    cfg = make_cfg(f"experiment={name}")
    proc, run_dir = cli_runs[name]
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = read_results(run_dir)
    assert record["status"] == "complete"
    assert (record["method"], record["model"], record["dataset"]) == (cfg.method.name, cfg.model.name,
                                                                      cfg.dataset.name)
    assert (record["ratio"], record["seed"]) == (cfg.ratio, cfg.seed)
    assert record["config"]["train"]["lr"] == cfg.train.lr and record["epochs"]["train"] == 1
    if name in PAPER:
        _, _, nodes, _, _, k_single, _, _ = PAPER[name]
        info = record["method_info"]
        assert (info["nodes"], info["degree"]) == (nodes, k_single)
        assert record["sparsity"]["achieved"] == pytest.approx(1 - k_single / nodes)


@pytest.mark.slow
def test_sweep_params_in_a_preset_drive_multirun(cli_runs: dict) -> None:
    # `-m` expands the preset's hydra.sweeper.params; a value given on the command line (seed) replaces its sweep.
    proc, sweep_dir = cli_runs[MULTIRUN]
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = [json.loads(p.read_text()) for p in sorted(sweep_dir.glob("*/results.json"))]
    assert len(records) == len(ASPL_ITERS)
    assert {r["seed"] for r in records} == {0}
    by_iters = {r["config"]["method"]["graph_iters"]: r["method_info"]["aspl"] for r in records}
    assert set(by_iters) == set(ASPL_ITERS)
    aspl = [by_iters[i] for i in ASPL_ITERS]
    assert aspl[0] == max(aspl) and aspl[-1] == min(aspl) and len(set(aspl)) >= 5  # ring lattice ... optimised
