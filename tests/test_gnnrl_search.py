"""GNN-RL searches on real validation accuracy: the reward rises, the result beats uniform pruning before
fine-tuning, the test split is never touched, and a killed search resumes to the same result."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch
from tests.conftest import make_cfg, poisoned_bench, read_results, run_cli

import rgp_bench.gnnrl.checkpoint as search_checkpoint
from rgp_bench.methods import get_method
from rgp_bench.pruning import apply_channel_gates, apply_masks, apply_param_masks, find_prunable_layers
from rgp_bench.run.pipeline import mask_context
from rgp_bench.train import train_phase

torch.set_num_threads(1)
# The toy setting (gnn-rl-design.md): digits, MLP 128 x 4 (3 prunable channel groups), 70 % of the MACs removed.
TOY = ["model=mlp", "model.width=128", "model.depth=4", "train.progress=false", "hardware=cpu"]
TOY_RATIO = 0.7
TOY_EPISODES = 300



@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """The toy bench with a briefly trained dense MLP, its test split poisoned."""
    cfg, hw, bench = poisoned_bench(*TOY, "method=gnnrl", f"cache_dir={tmp_path_factory.mktemp('cache')}")
    train_phase(bench.model, bench.data.train, bench.val_loader, cfg.train, hw, phase="pretrain", epochs=8,
                lr=0.1, seed=0)
    return cfg, hw, bench


def _run(toy, method: str, *overrides: str, ratio: float = TOY_RATIO, seed: int = 0, state_dir=None,
         evaluate=None):
    base, hw, bench = toy
    cfg = make_cfg(*TOY, f"method={method}", f"ratio={ratio}", f"seed={seed}", f"cache_dir={base.cache_dir}",
                   *overrides)
    m = get_method(method)
    ctx = mask_context(m, cfg, bench, hw, state_dir=state_dir)
    if evaluate is not None:
        ctx = dataclasses.replace(ctx, evaluate=evaluate(ctx.evaluate))
    return m.compute_masks(cfg.method, bench.layers, cfg.ratio, ctx)


def _validation_top1(toy, result) -> float:
    """Validation top-1 of the dense model with the method's masks applied (before any fine-tuning)."""
    cfg, hw, bench = toy
    model = copy.deepcopy(bench.model)
    apply_masks(find_prunable_layers(model, bench.example, cfg.layers, channels=True), result.masks)
    apply_param_masks(model, result.param_masks)
    apply_channel_gates(model, result.input_gates)
    return mask_context(get_method("gnnrl"), cfg, bench, hw).evaluate(model)


@pytest.fixture(scope="module")
def toy_search(toy):
    return _run(toy, "gnnrl", f"method.episodes={TOY_EPISODES}")


def test_the_mean_episode_reward_rises_over_the_search(toy_search) -> None:
    curve = toy_search.info["reward_curve"]
    fifth = len(curve) // 5
    first, last = sum(curve[:fifth]) / fifth, sum(curve[-fifth:]) / fifth
    assert len(curve) == TOY_EPISODES
    assert last > first + 5.0, (first, last)


def test_gnnrl_beats_uniform_pruning_before_fine_tuning(toy, toy_search) -> None:
    uniform = _run(toy, "uniform")
    assert uniform.info["mac_budget"]["achieved"] >= TOY_RATIO
    assert toy_search.info["mac_budget"]["achieved"] == pytest.approx(TOY_RATIO, abs=2e-3)
    uniform_top1 = _validation_top1(toy, uniform)
    gnnrl_top1 = _validation_top1(toy, toy_search)
    assert gnnrl_top1 == pytest.approx(toy_search.info["best_val_top1"])  # the reward is what the masks give
    assert toy_search.info["best_reward"] == pytest.approx(gnnrl_top1 - 100)
    assert gnnrl_top1 > uniform_top1 + 5.0, (gnnrl_top1, uniform_top1)
    search = toy_search.info["search"]
    assert search["episodes"] == TOY_EPISODES and 0 < search["evaluations"] <= search["candidates"] <= TOY_EPISODES


def test_random_search_keeps_its_best_candidate_on_the_same_reward(toy) -> None:
    result = _run(toy, "random_search", "method.evaluations=30")
    info = result.info
    assert info["best_reward"] == pytest.approx(max(info["reward_curve"]), abs=1e-4) and len(info["reward_curve"]) == 30
    assert _validation_top1(toy, result) == pytest.approx(info["best_val_top1"])
    assert info["search"]["candidates"] == 30


@pytest.mark.parametrize(("method", "budget"), [("gnnrl", "episodes"), ("random_search", "evaluations")])
def test_the_search_never_touches_the_test_split(toy, method: str, budget: str) -> None:
    _, _, bench = toy
    with pytest.raises(AssertionError, match="test split"):
        iter(bench.test_loader)  # the poison works
    result = _run(toy, method, f"method.{budget}=15")  # every search of this file runs on this poisoned bench
    assert result.info["search"]["candidates"] > 0 and result.info["best_val_top1"] > 0


@pytest.mark.parametrize(("method", "budget"), [("gnnrl", "episodes"), ("random_search", "evaluations")])
def test_a_killed_search_resumes_to_the_same_result(toy, tmp_path, monkeypatch, method: str, budget: str) -> None:
    monkeypatch.setattr(search_checkpoint, "CHECKPOINT_EVERY", 4)
    monkeypatch.setattr(search_checkpoint, "CHECKPOINT_SECONDS", 0.0)
    settings = [f"method.{budget}=30"]
    uninterrupted = _run(toy, method, *settings)

    calls = {"n": 0}

    def dying(evaluate):
        def run(model):
            calls["n"] += 1
            if calls["n"] > 9:
                raise KeyboardInterrupt("killed")
            return evaluate(model)
        return run

    with pytest.raises(KeyboardInterrupt):
        _run(toy, method, *settings, state_dir=tmp_path, evaluate=dying)
    assert (tmp_path / f"{method}_search.pt").is_file()
    calls["n"] = -10**9  # the rerun is not killed
    resumed = _run(toy, method, *settings, state_dir=tmp_path, evaluate=dying)
    assert calls["n"] + 10**9 < uninterrupted.info["search"]["evaluations"]  # it did not start over
    assert all(torch.equal(resumed.masks[k], uninterrupted.masks[k]) for k in uninterrupted.masks)
    same = {k: v for k, v in resumed.info.items() if k != "search"}
    assert same == {k: v for k, v in uninterrupted.info.items() if k != "search"}
    search = {k: v for k, v in resumed.info["search"].items() if k != "seconds"}
    assert search == {k: v for k, v in uninterrupted.info["search"].items() if k != "seconds"}


def test_a_checkpoint_of_another_search_is_ignored(toy, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(search_checkpoint, "CHECKPOINT_EVERY", 4)
    monkeypatch.setattr(search_checkpoint, "CHECKPOINT_SECONDS", 0.0)
    calls = {"n": 0}

    def dying(evaluate):
        def run(model):
            calls["n"] += 1
            if calls["n"] > 6:
                raise KeyboardInterrupt("killed")
            return evaluate(model)
        return run

    with pytest.raises(KeyboardInterrupt):
        _run(toy, "random_search", "method.evaluations=20", state_dir=tmp_path, evaluate=dying)
    fresh = _run(toy, "random_search", "method.evaluations=20", seed=1)
    other_seed = _run(toy, "random_search", "method.evaluations=20", seed=1, state_dir=tmp_path)
    assert other_seed.info["reward_curve"] == fresh.info["reward_curve"]


def test_the_cli_runs_gnnrl_end_to_end_and_records_the_search(tmp_path) -> None:
    proc = run_cli(["method=gnnrl", "ratio=0.5", "model.width=64", "train.epochs=2", "method.episodes=12",
                    "train.progress=false"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = read_results(tmp_path / "run")
    info = record["method_info"]
    assert record["status"] == "complete" and record["regime"] == "finetune"
    assert info["search"]["episodes"] == 12 and len(info["reward_curve"]) == 12
    assert info["mac_budget"]["achieved"] == pytest.approx(record["cost"]["reduction"]["macs"], abs=1e-9)
    assert info["mac_budget"]["achieved"] >= 0.5
    assert "gnnrl episodes 12/12: best reward" in proc.stdout + proc.stderr
    search = info["search"]
    assert search["budget"] == "12 episodes" and search["ppo_updates"] == search["env_steps"] // 100
    assert 12 <= search["env_steps"] <= 60 and 0 < search["evaluations"] <= search["candidates"] <= 12
    assert set(info["prunable_groups"]) == set(info["keep_fraction"]) and "features.1" in info["prunable_groups"]


def test_fine_tuning_inside_the_search_is_seeded_and_raises_the_rewards(toy) -> None:
    """`method.search_finetune_batches`: each candidate trains on training batches (the test split stays poisoned)
    before its reward; the same settings give the same rewards, and the search's own draws are undisturbed."""
    plain = _run(toy, "random_search", "method.evaluations=6")
    tuned = _run(toy, "random_search", "method.evaluations=6", "method.search_finetune_batches=4")
    again = _run(toy, "random_search", "method.evaluations=6", "method.search_finetune_batches=4")
    assert tuned.info["reward_curve"] == again.info["reward_curve"]
    assert tuned.info["policy"] == again.info["policy"]
    mean = lambda curve: sum(curve) / len(curve)  # noqa: E731
    assert mean(tuned.info["reward_curve"]) > mean(plain.info["reward_curve"]) + 5.0
    assert tuned.info["mac_budget"]["achieved"] == pytest.approx(TOY_RATIO, abs=2e-3)
    # gnnrl too: 4 episodes stay before PPO's first update, so both searches propose the same candidates.
    untuned = _run(toy, "gnnrl", "method.episodes=4")
    searched = _run(toy, "gnnrl", "method.episodes=4", "method.search_finetune_batches=4")
    assert searched.info["search"]["candidates"] == untuned.info["search"]["candidates"] > 0
    assert searched.info["best_val_top1"] > untuned.info["best_val_top1"] + 5.0
