"""PPO with a clipped objective and fixed-std Gaussian actions, as the authors ran it (their lib/RL/agent.py).

The policy is any module with `policy(batch) -> (action means [B, A], values [B])` and `policy.mean(batch)`.
Actions are drawn by a frozen copy (`old`) in eval mode from a seeded generator; every `update_every`
environment steps the rollout's Monte-Carlo returns (normalised) drive K full-batch epochs of
-min(r A, clip(r, 1-eps, 1+eps) A) + 0.5 MSE(V, R) - 0.01 H, with one Adam optimiser for actor and critic.
States are opaque to the agent: the rollout stores them as given and `update` asks a `prepare` callable to
batch them, so they can be compact keys that are rebuilt (and checkpointed cheaply).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

if TYPE_CHECKING:
    from rgp_bench.gnnrl.encoder import ActorCritic


@dataclass(frozen=True)
class PPOSettings:
    """The authors' constants (their PPO defaults in yusx-swapp/GNN-RL-Model-Compression)."""

    action_std: float = 0.5
    k_epochs: int = 10
    eps_clip: float = 0.2
    gamma: float = 0.99
    lr: float = 3e-4
    betas: tuple[float, float] = (0.9, 0.999)
    update_every: int = 100
    value_coef: float = 0.5
    entropy_coef: float = 0.01


@dataclass
class Rollout:
    """Transitions since the last update: state, action, its log-probability, reward, episode end."""

    states: list[Any] = field(default_factory=list)
    actions: list[Tensor] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    terminals: list[bool] = field(default_factory=list)

    def add(self, state: Any, action: Tensor, logprob: float, reward: float, terminal: bool) -> None:
        self.states.append(state)
        self.actions.append(action)
        self.logprobs.append(logprob)
        self.rewards.append(reward)
        self.terminals.append(terminal)

    def clear(self) -> None:
        for items in (self.states, self.actions, self.logprobs, self.rewards, self.terminals):
            items.clear()

    def __len__(self) -> int:
        return len(self.rewards)


def discounted_returns(rewards: list[float], terminals: list[bool], gamma: float) -> Tensor:
    """Monte-Carlo returns, restarted at every episode end, normalised to zero mean and unit (population) std."""
    returns, running = [], 0.0
    for reward, terminal in zip(reversed(rewards), reversed(terminals), strict=True):
        running = reward + (0.0 if terminal else gamma * running)
        returns.append(running)
    out = torch.tensor(returns[::-1], dtype=torch.float32)
    return (out - out.mean()) / (out.std(unbiased=False) + 1e-5)


def gaussian_log_prob(mean: Tensor, action: Tensor, std: float) -> Tensor:
    """Log-density of `action` under N(mean, std² I), summed over the last dim (the authors' MultivariateNormal)."""
    return (-((action - mean) ** 2) / (2 * std**2) - math.log(std) - 0.5 * math.log(2 * math.pi)).sum(-1)


def gaussian_entropy(actions: int, std: float) -> float:
    """Entropy of N(mean, std² I) over `actions` dims (a constant: the std is fixed)."""
    return actions * (0.5 + 0.5 * math.log(2 * math.pi) + math.log(std))


def clipped_loss(mean: Tensor, values: Tensor, actions: Tensor, old_logprobs: Tensor, returns: Tensor,
                 settings: PPOSettings) -> Tensor:
    """The authors' PPO objective, averaged over the batch: -min(r Â, clip(r, 1 - eps, 1 + eps) Â)
    + value_coef MSE(V, R) - entropy_coef H, with r the probability ratio and Â = R - V (V not differentiated)."""
    ratio = torch.exp(gaussian_log_prob(mean, actions, settings.action_std) - old_logprobs)
    advantage = returns - values.detach()
    clipped = torch.clamp(ratio, 1 - settings.eps_clip, 1 + settings.eps_clip)
    entropy = gaussian_entropy(actions.shape[-1], settings.action_std)
    return (-torch.min(ratio * advantage, clipped * advantage) + settings.value_coef * (values - returns) ** 2
            - settings.entropy_coef * entropy).mean()


class PPO:
    """The agent: `act` draws an action, `update` improves the policy on a rollout."""

    def __init__(self, policy: ActorCritic, settings: PPOSettings, generator: torch.Generator) -> None:
        self.policy = policy
        self.old = copy.deepcopy(policy)
        self.settings = settings
        self.generator = generator
        # foreach: one kernel per step for all ~40 small tensors (the per-tensor loop dominated the update's cost)
        self.optimizer = torch.optim.Adam(policy.parameters(), lr=settings.lr, betas=settings.betas, foreach=True)

    def _log_prob(self, mean: Tensor, action: Tensor) -> Tensor:
        return gaussian_log_prob(mean, action, self.settings.action_std)

    @torch.no_grad()
    def mean(self, batch: Any) -> Tensor:
        """The acting policy's mean action for the one state in `batch` (eval mode: no dropout)."""
        self.old.eval()
        return self.old.mean(batch)[0].cpu()

    def sample(self, mean: Tensor, deterministic: bool = False) -> tuple[Tensor, float]:
        """An action around `mean` (the mean itself when `deterministic`), and its log-probability."""
        if deterministic:
            return mean, float(self._log_prob(mean, mean))
        noise = torch.randn(mean.shape, generator=self.generator)
        action = mean + self.settings.action_std * noise
        return action, float(self._log_prob(mean, action))

    def act(self, batch: Any, deterministic: bool = False) -> tuple[Tensor, float]:
        """An action for the one state in `batch` (the mean when `deterministic`), and its log-probability."""
        return self.sample(self.mean(batch), deterministic)

    def update(self, rollout: Rollout, prepare: Callable[[list[Any]], Any]) -> float:
        """K epochs of the clipped objective on the whole rollout; returns the last epoch's loss."""
        s = self.settings
        returns = discounted_returns(rollout.rewards, rollout.terminals, s.gamma)
        batch = prepare(rollout.states)
        actions = torch.stack(rollout.actions)
        old_logprobs = torch.tensor(rollout.logprobs)
        device = next(self.policy.parameters()).device
        returns, actions, old_logprobs = returns.to(device), actions.to(device), old_logprobs.to(device)
        self.policy.train()
        loss = torch.zeros(())
        for _ in range(s.k_epochs):
            mean, values = self.policy(batch)
            loss = clipped_loss(mean, values, actions, old_logprobs, returns, s)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
        self.old.load_state_dict(self.policy.state_dict())
        return float(loss.detach())

    def state_dict(self) -> dict[str, Any]:
        return {"policy": self.policy.state_dict(), "old": self.old.state_dict(),
                "optimizer": self.optimizer.state_dict(), "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.policy.load_state_dict(state["policy"])
        self.old.load_state_dict(state["old"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
