"""The search loops: GNN-RL's PPO episodes and random search, one loop for both (progress, checkpoints, best).

A searcher plays one episode at a time (`episode()`); `run_search` plays until its SearchBudget is spent,
keeps the best evaluated candidate by validation reward, the reward curve, the best reward against distinct
evaluations, the counts and the wall time, shows progress, logs every episode to the run's tracker and
checkpoints every few episodes. Everything random draws from generators seeded by the run seed, inside a
forked RNG, so a search is a function of its seed and resumes to the same result.
"""

from __future__ import annotations

import contextlib
import logging
import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import torch

from rgp_bench.gnnrl.checkpoint import SearchCheckpoint
from rgp_bench.gnnrl.env import ChannelEnv, Outcome
from rgp_bench.gnnrl.features import GraphState, StateBuilder, collate
from rgp_bench.gnnrl.graph import build_network_graph
from rgp_bench.gnnrl.ppo import PPO, PPOSettings, Rollout
from rgp_bench.measure.latency import thread_count

log = logging.getLogger(__name__)
# gnnrl's `episodes: auto`: play until this many PPO updates (10,000 environment steps at the authors' update
# every 100 steps), the episode in progress included. The authors ran 15,000 episodes (the presets pin that).
AUTO_PPO_UPDATES = 100
AUTO_STEPS = AUTO_PPO_UPDATES * PPOSettings().update_every  # random_search's `evaluations: auto`
# An evaluation budget stops after this many draws per requested evaluation, whether or not that many distinct
# keep sets turned up (a small policy space, e.g. three groups of 25 channels, has fewer).
MAX_DRAWS_PER_EVALUATION = 3
LOG_LINES = 10  # plain progress lines per search when stderr is not a terminal
BudgetUnit = Literal["episodes", "steps", "evaluations"]


@dataclass(frozen=True)
class SearchBudget:
    """When a search stops: once `count` episodes, environment steps or distinct reward evaluations are done
    (an episode in progress always finishes), or after `max_episodes` episodes, whichever comes first."""

    unit: BudgetUnit
    count: int
    max_episodes: int | None = None

    def spent(self, progress: SearchProgress) -> bool:
        return progress.of(self.unit) >= self.count or (
            self.max_episodes is not None and progress.episodes >= self.max_episodes)

    def describe(self) -> str:
        return f"{self.count} {self.unit}"


@dataclass
class SearchProgress:
    """Counts so far: episodes played, environment steps taken, distinct reward evaluations run."""

    episodes: int = 0
    steps: int = 0
    evaluations: int = 0

    def of(self, unit: BudgetUnit) -> int:
        return int(getattr(self, unit))


def gnnrl_budget(episodes: Any, update_every: int) -> SearchBudget:
    """gnnrl's `episodes`: an integer, or auto = until AUTO_PPO_UPDATES PPO updates."""
    if episodes == "auto":
        return SearchBudget("steps", AUTO_PPO_UPDATES * update_every)
    return SearchBudget("episodes", int(episodes))


def random_search_budget(evaluations: Any) -> SearchBudget:
    """random_search's `evaluations`: distinct reward evaluations, an integer or auto = AUTO_STEPS (gnnrl's default
    number of environment steps, so at least as many as gnnrl's default search can evaluate)."""
    count = AUTO_STEPS if evaluations == "auto" else int(evaluations)
    return SearchBudget("evaluations", count, max_episodes=MAX_DRAWS_PER_EVALUATION * count)


@dataclass(frozen=True)
class Episode:
    """What one episode gave: its reward, the evaluated candidate (None when the budget was missed), the MAC
    reduction it reached and the environment steps it took."""

    reward: float
    outcome: Outcome | None
    reduction: float
    steps: int = 1


class Searcher(Protocol):
    def episode(self) -> Episode: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    def summary(self) -> dict[str, Any]: ...

    def counters(self) -> dict[str, int]: ...


@dataclass
class SearchResult:
    """The best candidate and what the search cost."""

    best: Outcome
    curve: list[float]  # reward per episode
    best_curve: list[list[float]]  # [distinct evaluations so far, best reward] each time the best improved
    progress: SearchProgress
    candidates: int  # episodes that met the budget (each a rescaled, rewarded candidate)
    seconds: float
    fallback: bool
    summary: dict[str, Any] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class GnnrlSettings:
    """GNN-RL's episode length and PPO constants."""

    max_steps: int = 5
    ppo: PPOSettings = field(default_factory=PPOSettings)


class GnnrlSearcher:
    """PPO over the two-level graph: each step multiplies the preserve ratios by (1 - action), clipped to
    [lower, 1]; the episode ends when the MAC budget is met (reward: the rescaled candidate's validation
    reward) or after `max_steps` steps (reward: the -100 penalty); earlier steps give 0.

    A state is a function of the kept channels per group and the step, so states are built once per update
    period and the acting policy's mean action is computed once per state between two updates (the policy
    does not change in between and acts in eval mode): the first state of every episode, the dense model, costs
    one GNN forward per update period. Actions are still drawn one by one from the seeded generator.
    """

    def __init__(self, env: ChannelEnv, example: torch.Tensor, settings: GnnrlSettings, seed: int,
                 device: torch.device) -> None:
        from rgp_bench.gnnrl.encoder import ActorCritic  # torch_geometric: only when a search runs

        self.env = env
        self.settings = settings
        self.device = device
        graph = build_network_graph(env.problem.model, example, env.problem.groups)
        self.builder = StateBuilder(graph, env.counts)
        torch.manual_seed(seed)
        self.agent = PPO(ActorCritic(env.actions).to(device), settings.ppo, torch.Generator().manual_seed(seed))
        self.rollout = Rollout()
        self.steps = 0
        self.updates = 0
        self._dense = tuple(env.counts.channels.tolist())
        self._states: dict[tuple[tuple[int, ...], int], GraphState] = {}  # this update period's states
        self._means: dict[tuple[tuple[int, ...], int], torch.Tensor] = {}  # the acting policy's mean per state

    def _key(self, preserve: torch.Tensor, step: int) -> tuple[tuple[int, ...], int]:
        return tuple(self.env.counts.group_counts(preserve).tolist()), step

    def state(self, preserve: torch.Tensor, step: int) -> GraphState:
        """The graph of the model pruned to `preserve`, before step `step` of an episode."""
        return self._state(self._key(preserve, step))

    def _state(self, key: tuple[tuple[int, ...], int]) -> GraphState:
        state = self._states.get(key)
        if state is None:
            counts, step = key
            state = self.builder(torch.tensor(counts), 1.0 - self.env.ratio, step / self.settings.max_steps)
            self._states[key] = state
        return state

    def prepare(self, keys: list[tuple[torch.Tensor, int]]) -> Any:
        """The rollout's compact states (preserve ratios, step) rebuilt into one batch."""
        return collate([self.state(preserve, step) for preserve, step in keys]).to(self.device)

    def _act(self, key: tuple[tuple[int, ...], int], deterministic: bool = False) -> tuple[torch.Tensor, float]:
        """An action in the state of `key` (kept channels per group, step)."""
        mean = self._means.get(key)
        if mean is None:
            mean = self.agent.mean(collate([self._state(key)]).to(self.device))
            self._means[key] = mean
        return self.agent.sample(mean, deterministic)

    def _update(self) -> None:
        self.agent.update(self.rollout, self.prepare)
        self.rollout.clear()
        self.updates += 1
        self._states.clear()
        self._means.clear()

    def episode(self) -> Episode:
        preserve, counts = torch.ones(self.env.actions), self._dense
        for step in range(self.settings.max_steps):
            action, logprob = self._act((counts, step))
            moved = self.env.step(preserve, action, step, self.settings.max_steps)
            self.rollout.add((preserve, step), action, logprob, moved.reward, moved.done)
            preserve, counts = moved.preserve, moved.counts
            self.steps += 1
            if self.steps % self.settings.ppo.update_every == 0:
                self._update()
            if moved.done:
                return Episode(moved.reward, moved.outcome, moved.reduction, step + 1)
        raise AssertionError("unreachable: the last step ends the episode")

    def summary(self) -> dict[str, Any]:
        """The final policy's mean actions played out (not evaluated): its preserve ratios and MAC reduction."""
        preserve, counts, reduction, steps = torch.ones(self.env.actions), self._dense, 0.0, 0
        while steps < self.settings.max_steps and reduction < self.env.ratio:
            action, _ = self._act((counts, steps), deterministic=True)
            preserve, kept, reduction = self.env.advance(preserve, action)
            counts = tuple(kept.tolist())
            steps += 1
        return {"mean_policy": {"preserve": _rounded(self.env.fractions(preserve)), "steps": steps,
                                "mac_reduction": round(reduction, 6), "meets_budget": reduction >= self.env.ratio}}

    def counters(self) -> dict[str, int]:
        return {"ppo_updates": self.updates}

    def state_dict(self) -> dict[str, Any]:
        rollout = {name: list(getattr(self.rollout, name))
                   for name in ("states", "actions", "logprobs", "rewards", "terminals")}
        return {"agent": self.agent.state_dict(), "rollout": rollout, "steps": self.steps, "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.agent.load_state_dict(state["agent"])
        self.rollout = Rollout(**{k: list(v) for k, v in state["rollout"].items()})
        self.rollout.states = [(preserve, int(step)) for preserve, step in self.rollout.states]
        self.steps = int(state["steps"])
        self.updates = int(state["updates"])
        self._states.clear()
        self._means.clear()


class RandomSearcher:
    """Random search: preserve ratios drawn uniformly from [lower, 1] per action, rescaled to the exact budget
    and evaluated; every episode is one candidate (one step)."""

    def __init__(self, env: ChannelEnv, seed: int) -> None:
        self.env = env
        self.generator = torch.Generator().manual_seed(seed)

    def episode(self) -> Episode:
        draw = torch.rand(self.env.actions, generator=self.generator, dtype=torch.float64).float()
        outcome = self.env.evaluate(self.env.lower + (1.0 - self.env.lower) * draw)
        return Episode(outcome.reward, outcome, self.env.counts.reduction(torch.tensor(outcome.counts)))

    def summary(self) -> dict[str, Any]:
        return {}

    def counters(self) -> dict[str, int]:
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])


class _Progress:
    """A tqdm bar on a terminal, else LOG_LINES plain log lines over the search (in the budget's unit)."""

    def __init__(self, label: str, budget: SearchBudget, done: int, bar: bool) -> None:
        self.label, self.unit, self.total = label, budget.unit, budget.count
        self.every = max(1, math.ceil(self.total / LOG_LINES))
        self.logged = done // self.every
        self.bar = None
        if bar:
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, initial=done, desc=label, unit=self.unit.rstrip("s"), file=sys.stderr,
                            leave=False)

    def update(self, done: int, finished: bool, best: float | None, reduction: float) -> None:
        best_text = "none" if best is None else f"{best:.2f}"
        if self.bar is not None:
            self.bar.set_postfix_str(f"best reward {best_text}, MACs -{100 * reduction:.1f}%", refresh=False)
            self.bar.update(min(done, self.total) - self.bar.n)
        elif done // self.every > self.logged or finished:
            self.logged = done // self.every
            log.info("%s %s %d/%d: best reward %s, last MAC reduction %.4f", self.label, self.unit, done, self.total,
                     best_text, reduction)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@contextlib.contextmanager
def _private_rng(seed: int, device: torch.device) -> Iterator[None]:
    """Seed torch's global generators for the block and restore them afterwards (dropout, data order)."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def _rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict[str, torch.Tensor], device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


@dataclass(frozen=True)
class SearchRun:
    """Where a search runs and reports: its seed, device, checkpoint directory, progress display and tracker."""

    seed: int
    device: torch.device
    state_dir: Path | None = None
    progress: bool = False
    log: Callable[[dict[str, Any]], None] = field(default=lambda _metrics: None)


def run_search(make_searcher: Callable[[], Searcher], env: ChannelEnv, budget: SearchBudget, ctx: SearchRun,
               label: str, key: str) -> SearchResult:
    """Play episodes of `make_searcher()` (built inside the seeded RNG) until `budget` is spent; keep the best.

    Resumes from the checkpoint in `ctx.state_dir` when one of this search (`key`) is there. When no episode
    met the budget, the all-ones policy (= uniform keep fractions) rescaled to the budget is evaluated instead.
    """
    checkpoint = SearchCheckpoint(ctx.state_dir, label, key)
    # One intra-op thread for the whole search on a CPU: the agent's tensors are tiny (a few hundred graph nodes)
    # and an evaluation is one small forward pass per validation batch, thousands of times. Threads add little
    # there and cost much when the cores are shared: on this project's 2-core machine under load, the digits MLP's
    # validation pass took 13 ms on one thread and 130 ms on two (docs/gnnrl.md).
    with _private_rng(ctx.seed, ctx.device), thread_count(1):
        searcher: Searcher = make_searcher()
        curve: list[float] = []
        best_curve: list[list[float]] = []
        progress, candidates, seconds, best = SearchProgress(), 0, 0.0, None
        state = checkpoint.load()
        if state is not None:
            curve, best_curve = list(state["curve"]), [list(point) for point in state["best_curve"]]
            candidates, seconds = int(state["candidates"]), float(state["seconds"])
            progress = SearchProgress(**state["progress"])
            env.load_state_dict(state["env"])
            if state["best"] is not None:
                b = state["best"]
                best = Outcome(b["preserve"], tuple(b["counts"]), float(b["top1"]), float(b["reward"]))
            searcher.load_state_dict(state["searcher"])
            _set_rng_state(state["rng"], ctx.device)
        bar = _Progress(label, budget, progress.of(budget.unit), bar=ctx.progress and sys.stderr.isatty())
        start = time.perf_counter()
        try:
            while not budget.spent(progress):
                result = searcher.episode()
                curve.append(result.reward)
                progress.episodes += 1
                progress.steps += result.steps
                progress.evaluations = env.evaluations
                if result.outcome is not None:
                    candidates += 1
                    if best is None or result.outcome.reward > best.reward:
                        best = result.outcome
                        best_curve.append([env.evaluations, best.reward])
                best_reward = None if best is None else best.reward
                ctx.log({f"{label}/episode": progress.episodes, f"{label}/reward": result.reward,
                         f"{label}/best_reward": best_reward, f"{label}/mac_reduction": result.reduction,
                         f"{label}/evaluations": env.evaluations})
                finished = budget.spent(progress)
                bar.update(progress.of(budget.unit), finished, best_reward, result.reduction)
                if not finished and checkpoint.due(progress.episodes):
                    checkpoint.save({
                        "episode": progress.episodes, "progress": vars(progress), "curve": curve,
                        "best_curve": best_curve, "candidates": candidates, "env": env.state_dict(),
                        "seconds": seconds + time.perf_counter() - start, "rng": _rng_state(ctx.device),
                        "best": None if best is None else {"preserve": best.preserve, "counts": list(best.counts),
                                                           "top1": best.top1, "reward": best.reward},
                        "searcher": searcher.state_dict(),
                    })
        finally:
            bar.close()
        fallback = best is None
        if best is None:
            log.warning("%s: no episode met the MAC budget; falling back to uniform keep fractions", label)
            best = env.evaluate(torch.ones(env.actions))
            progress.evaluations = env.evaluations
        if progress.of(budget.unit) < budget.count:
            log.warning("%s: stopped after %d episodes with %d distinct keep sets evaluated (asked: %s); the policy "
                        "space has few distinct keep sets", label, progress.episodes, env.evaluations,
                        budget.describe())
        summary, counters = searcher.summary(), searcher.counters()
    return SearchResult(best, curve, best_curve, progress, candidates, seconds + time.perf_counter() - start,
                        fallback, summary, counters)


def _rounded(values: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 6) for k, v in values.items()}


def search_info(env: ChannelEnv, result: SearchResult, budget: SearchBudget, setting: Any) -> dict[str, Any]:
    """The facts both search methods record: policy, sharing, best reward, curves and search cost."""
    shared = next((gids for gids in env.action_groups if len(gids) > 1), ())
    return {
        "policy": _rounded(env.fractions(result.best.preserve)),
        "actions": env.actions,
        "shared_action_groups": list(shared),
        "lower_bound": env.lower,
        "reachable_reduction": round(env.reachable, 6),
        "best_reward": result.best.reward,
        "best_val_top1": result.best.top1,
        "fallback": result.fallback,
        "reward_curve": [round(r, 4) for r in result.curve],
        "best_curve": [[int(n), round(r, 4)] for n, r in result.best_curve],
        "search": {"episodes": result.progress.episodes, "env_steps": result.progress.steps,
                   **result.counters, "candidates": result.candidates, "evaluations": result.progress.evaluations,
                   "seconds": round(result.seconds, 3), "budget": budget.describe(), "budget_setting": setting},
        **result.summary,
    }
