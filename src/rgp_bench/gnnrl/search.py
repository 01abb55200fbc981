"""The search loops: GNN-RL's PPO episodes and random search, one loop for both (progress, checkpoints, best).

A searcher plays one episode at a time (`episode()`); `run_search` keeps the best evaluated candidate by
validation reward, the reward curve, the counts and the wall time, shows progress, logs every episode to the
run's tracker and checkpoints every few episodes. Everything random draws from generators seeded by the run
seed, inside a forked RNG, so a search is a function of its seed and resumes to the same result.
"""

from __future__ import annotations

import contextlib
import logging
import math
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from omegaconf import DictConfig, OmegaConf

from rgp_bench.config.fields import Number, setting
from rgp_bench.gnnrl.checkpoint import SearchCheckpoint, fingerprint
from rgp_bench.gnnrl.env import PENALTY, ChannelEnv, Outcome, RewardFinetune
from rgp_bench.gnnrl.features import GraphState, StateBuilder, collate
from rgp_bench.gnnrl.graph import build_network_graph
from rgp_bench.gnnrl.ppo import PPO, PPOSettings, Rollout
from rgp_bench.measure.latency import thread_count
from rgp_bench.methods.base import MaskContext, MaskResult, MethodCfg
from rgp_bench.methods.channel import channel_problem, channel_result
from rgp_bench.pruning.layers import PrunableLayer

log = logging.getLogger(__name__)
MAX_EPISODES = 15_000  # the authors' max_episodes
MIN_EPISODES = 200
EPISODES_PER_ACTION = 50
LOG_LINES = 10  # plain progress lines per search when stderr is not a terminal


def default_episodes(actions: int) -> int:
    """`episodes: auto`: EPISODES_PER_ACTION per action, within [MIN_EPISODES, MAX_EPISODES]."""
    return min(MAX_EPISODES, max(MIN_EPISODES, EPISODES_PER_ACTION * actions))


@dataclass(frozen=True)
class Episode:
    """What one episode gave: its reward, the evaluated candidate (None when the budget was missed), the MAC
    reduction it reached."""

    reward: float
    outcome: Outcome | None
    reduction: float


class Searcher(Protocol):
    def episode(self) -> Episode: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    def summary(self) -> dict[str, Any]: ...


@dataclass
class SearchResult:
    """The best candidate and what the search cost."""

    best: Outcome
    curve: list[float]
    episodes: int
    candidates: int  # episodes that met the budget (each a rescaled, rewarded candidate)
    evaluations: int  # reward evaluations run (distinct candidates' keep sets)
    seconds: float
    fallback: bool
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass
class SearchCfg(MethodCfg):
    """Settings every channel-policy search (gnnrl, random_search) has: fine-tuning inside the search."""

    # 0 (default) rewards each candidate as masked; N fine-tunes it first for N SGD steps (momentum 0.9) on
    # seeded training batches, as the authors' --finetune option does. Each reward then costs N training steps.
    search_finetune_batches: int = setting(0, check=Number(lo=0, integer=True))
    search_finetune_lr: float = setting(0.01, check=Number(lo=0.0, lo_open=True))


def reward_finetune(cfg: DictConfig, ctx: MaskContext) -> RewardFinetune | None:
    """The in-search fine-tuning `cfg` asks for, on the run's training batches; None when off."""
    batches = int(cfg.search_finetune_batches)
    return RewardFinetune(batches, float(cfg.search_finetune_lr), ctx.train_batches) if batches else None


@dataclass(frozen=True)
class GnnrlSettings:
    """GNN-RL's episode length and PPO constants."""

    max_steps: int = 5
    ppo: PPOSettings = field(default_factory=PPOSettings)


class GnnrlSearcher:
    """PPO over the two-level graph: each step multiplies the preserve ratios by (1 - action), clipped to
    [lower, 1]; the episode ends when the MAC budget is met (reward: the rescaled candidate's validation
    reward) or after `max_steps` steps (reward: the -100 penalty); earlier steps give 0."""

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

    def state(self, preserve: torch.Tensor, step: int) -> GraphState:
        """The graph of the model pruned to `preserve`, before step `step` of an episode."""
        counts = self.env.counts.group_counts(preserve)
        return self.builder(counts, 1.0 - self.env.ratio, step / self.settings.max_steps)

    def prepare(self, keys: list[tuple[torch.Tensor, int]]) -> Any:
        """The rollout's compact states (preserve ratios, step) rebuilt into one batch."""
        return collate([self.state(preserve, step) for preserve, step in keys]).to(self.device)

    def _act(self, preserve: torch.Tensor, step: int, deterministic: bool = False) -> tuple[torch.Tensor, float]:
        return self.agent.act(self.prepare([(preserve, step)]), deterministic)

    def _step(self, preserve: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, float]:
        preserve = (preserve * (1.0 - action)).clamp(self.env.lower, 1.0)
        return preserve, self.env.reduction(preserve)

    def episode(self) -> Episode:
        preserve = torch.ones(self.env.actions)
        for step in range(self.settings.max_steps):
            action, logprob = self._act(preserve, step)
            key = (preserve, step)
            preserve, reduction = self._step(preserve, action)
            met, last = reduction >= self.env.ratio, step == self.settings.max_steps - 1
            outcome = self.env.evaluate(preserve) if met else None
            reward = outcome.reward if outcome is not None else (PENALTY if last else 0.0)
            self.rollout.add(key, action, logprob, reward, met or last)
            self.steps += 1
            if self.steps % self.settings.ppo.update_every == 0:
                self.agent.update(self.rollout, self.prepare)
                self.rollout.clear()
            if met or last:
                return Episode(reward, outcome, reduction)
        raise AssertionError("unreachable: the last step ends the episode")

    def summary(self) -> dict[str, Any]:
        """The final policy's mean actions played out (not evaluated): its preserve ratios and MAC reduction."""
        preserve, reduction, steps = torch.ones(self.env.actions), 0.0, 0
        while steps < self.settings.max_steps and reduction < self.env.ratio:
            action, _ = self._act(preserve, steps, deterministic=True)
            preserve, reduction = self._step(preserve, action)
            steps += 1
        return {"mean_policy": {"preserve": _rounded(self.env.fractions(preserve)), "steps": steps,
                                "mac_reduction": round(reduction, 6), "meets_budget": reduction >= self.env.ratio}}

    def state_dict(self) -> dict[str, Any]:
        rollout = {name: list(getattr(self.rollout, name))
                   for name in ("states", "actions", "logprobs", "rewards", "terminals")}
        return {"agent": self.agent.state_dict(), "rollout": rollout, "steps": self.steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.agent.load_state_dict(state["agent"])
        self.rollout = Rollout(**{k: list(v) for k, v in state["rollout"].items()})
        self.rollout.states = [(preserve, int(step)) for preserve, step in self.rollout.states]
        self.steps = int(state["steps"])


class RandomSearcher:
    """Random search: preserve ratios drawn uniformly from [lower, 1] per action, rescaled to the exact budget
    and evaluated; every episode is one reward evaluation."""

    def __init__(self, env: ChannelEnv, seed: int) -> None:
        self.env = env
        self.generator = torch.Generator().manual_seed(seed)

    def episode(self) -> Episode:
        draw = torch.rand(self.env.actions, generator=self.generator, dtype=torch.float64).float()
        outcome = self.env.evaluate(self.env.lower + (1.0 - self.env.lower) * draw)
        return Episode(outcome.reward, outcome, outcome.budget.reduction)

    def summary(self) -> dict[str, Any]:
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])


class _Progress:
    """A tqdm bar on a terminal, else LOG_LINES plain log lines over the search."""

    def __init__(self, label: str, total: int, done: int, bar: bool) -> None:
        self.label, self.total = label, total
        self.every = max(1, math.ceil(total / LOG_LINES))
        self.bar = None
        if bar:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=done, desc=label, unit="episode", file=sys.stderr, leave=False)

    def update(self, done: int, best: float | None, reduction: float) -> None:
        best_text = "none" if best is None else f"{best:.2f}"
        if self.bar is not None:
            self.bar.set_postfix_str(f"best reward {best_text}, MACs -{100 * reduction:.1f}%", refresh=False)
            self.bar.update(1)
        elif done % self.every == 0 or done == self.total:
            log.info("%s episode %d/%d: best reward %s, last MAC reduction %.4f", self.label, done, self.total,
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


def run_search(make_searcher: Callable[[], Searcher], env: ChannelEnv, episodes: int, ctx: MaskContext, label: str,
               key: str) -> SearchResult:
    """Play `episodes` episodes of `make_searcher()` (built inside the seeded RNG) and keep the best candidate.

    Resumes from the checkpoint in `ctx.state_dir` when one of this search (`key`) is there. When no episode
    met the budget, the all-ones policy (= uniform keep fractions) rescaled to the budget is evaluated instead.
    """
    checkpoint = SearchCheckpoint(ctx.state_dir, label, key)
    # The agent's tensors are tiny (a few hundred graph nodes): intra-op threads only add synchronisation, which
    # costs milliseconds per operation when the cores are shared. Evaluations get the run's threads back (env.py).
    with _private_rng(ctx.seed, ctx.device), thread_count(1):
        searcher: Searcher = make_searcher()
        curve: list[float] = []
        candidates, seconds, best = 0, 0.0, None
        state = checkpoint.load()
        if state is not None:
            curve, candidates, seconds = list(state["curve"]), int(state["candidates"]), float(state["seconds"])
            env.load_state_dict(state["env"])
            if state["best"] is not None:
                b = state["best"]
                best = Outcome(b["preserve"], env.rescale(b["preserve"]), float(b["top1"]), float(b["reward"]))
            searcher.load_state_dict(state["searcher"])
            _set_rng_state(state["rng"], ctx.device)
        progress = _Progress(label, episodes, len(curve), bar=ctx.progress and sys.stderr.isatty())
        start = time.perf_counter()
        try:
            for done in range(len(curve) + 1, episodes + 1):
                result = searcher.episode()
                curve.append(result.reward)
                if result.outcome is not None:
                    candidates += 1
                    if best is None or result.outcome.reward > best.reward:
                        best = result.outcome
                best_reward = None if best is None else best.reward
                ctx.log({f"{label}/episode": done, f"{label}/reward": result.reward,
                         f"{label}/best_reward": best_reward, f"{label}/mac_reduction": result.reduction})
                progress.update(done, best_reward, result.reduction)
                if checkpoint.due(done, episodes):
                    checkpoint.save({
                        "episode": done, "curve": curve, "candidates": candidates, "env": env.state_dict(),
                        "seconds": seconds + time.perf_counter() - start, "rng": _rng_state(ctx.device),
                        "best": None if best is None else {"preserve": best.preserve, "top1": best.top1,
                                                           "reward": best.reward},
                        "searcher": searcher.state_dict(),
                    })
        finally:
            progress.close()
        fallback = best is None
        if best is None:
            log.warning("%s: no episode met the MAC budget; falling back to uniform keep fractions", label)
            best = env.evaluate(torch.ones(env.actions))
        summary = searcher.summary()
    return SearchResult(best, curve, episodes, candidates, env.evaluations, seconds + time.perf_counter() - start,
                        fallback, summary)


def _rounded(values: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 6) for k, v in values.items()}


def search_info(env: ChannelEnv, result: SearchResult, episodes_setting: Any) -> dict[str, Any]:
    """The facts both search methods record: policy, sharing, best reward, curve and search cost."""
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
        "search": {"episodes": result.episodes, "candidates": result.candidates, "evaluations": result.evaluations,
                   "seconds": round(result.seconds, 3), "episodes_setting": episodes_setting},
        **result.summary,
    }


def search_masks(label: str, cfg: DictConfig, layers: Sequence[PrunableLayer], ratio: float, ctx: MaskContext,
                 lower: float, episodes_setting: Any, make_searcher: Callable[[ChannelEnv], Searcher]) -> MaskResult:
    """Run a search method end to end: channel groups, environment, search, the best candidate's masks.

    `episodes_setting` is the method's episode budget ("auto" = default_episodes for this model's actions);
    `make_searcher(env)` builds the searcher (inside the seeded RNG).
    """
    problem = channel_problem(layers, ctx)
    assert ctx.example is not None
    env = ChannelEnv(problem, ratio, lower, ctx.evaluate, label, reward_finetune(cfg, ctx))
    episodes = default_episodes(env.actions) if episodes_setting == "auto" else int(episodes_setting)
    settings = OmegaConf.to_container(cfg) if isinstance(cfg, DictConfig) else dict(cfg)
    key = fingerprint(method=settings, ratio=ratio, seed=ctx.seed, episodes=episodes,
                      groups=[(g.id, g.channels, g.prunable) for g in problem.groups])
    result = run_search(lambda: make_searcher(env), env, episodes, ctx, label, key)
    return channel_result(problem, layers, result.best.budget, search_info(env, result, episodes_setting))
