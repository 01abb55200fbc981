"""GNN-RL's environment step, reward, action sharing and PPO update (transcription, for the parity tests).

Source: yusx-swapp/GNN-RL-Model-Compression, commit ca904752d3b389786e0b5dbdc5e01531236d2a2a (the research
layout the README commands run):
- `graph_env/graph_environment.py::graph_env.step`: preserve ← clip(preserve · (1 − shared actions), 0.1, 1)
  (0.9 for MobileNets); the episode ends with the reward once the FLOPs removed reach the target, else with −100
  at `time_step == max_timesteps`; 0 otherwise. The FLOPs count and the accuracy are the callers' (the authors:
  `preserve_flops`' chain estimate and the masked model's top-1 on the reward set), passed in as functions.
- `graph_env/feedback_calculation.py::reward_caculation`: reward = −(100 − top-1) (top-5 − 100 on ImageNet).
- `graph_env/share_layers.py::share_layer_index`, CIFAR ResNets: [a0, a1, a0, a2, a0, ...] over the convs in
  order (stem, then each block's conv1 and conv2): a0 is shared by the stem and every block's conv2.
- `lib/RL/agent.py::Agent.update`: Monte-Carlo returns restarted at episode ends, normalised with torch's
  default (unbiased) std, and per epoch the loss −min(r Â, clip(r, 1 − ε, 1 + ε) Â) + 0.5 MSE(V, R) − 0.01 H,
  with log-probabilities and entropy from `MultivariateNormal(mean, diag(std²))` (`ActorCritic.evaluate`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch.distributions import MultivariateNormal


def step(preserve: np.ndarray, shared_actions: np.ndarray, time_step: int, max_timesteps: int, total_flops: float,
         compression_ratio: float, preserved_flops: Callable[[np.ndarray], float],
         accuracy: Callable[[np.ndarray], float], lower: float = 0.1) -> tuple[np.ndarray, float, bool]:
    """graph_env.step for one action; `time_step` counts from 1 (the authors call step(action, t + 1))."""
    rewards, done = 0.0, False
    preserve = preserve * (1 - np.array(shared_actions).astype(float))
    preserve = np.clip(preserve, lower, 1)
    reduced_flops = total_flops - preserved_flops(preserve)
    if reduced_flops >= total_flops * compression_ratio:
        done = True
        rewards = reward(accuracy(preserve))
    if time_step == max_timesteps and not done:
        rewards = -100.0
        done = True
    return preserve, rewards, done


def reward(top1: float) -> float:
    """reward_caculation (CIFAR): the negative error in percent."""
    error = 100 - top1
    return float(error * -1)


def share_layer_index_resnet_cifar(actions: list[float], blocks_per_stage: int) -> list[float]:
    """share_layer_index for resnet20/32/44/56/110: one entry per conv (stem, then conv1 and conv2 per block)."""
    shared = [actions[0]]
    i = 1
    for _stage in range(3):
        for _block in range(blocks_per_stage):
            shared.append(actions[i])
            shared.append(actions[0])
            i += 1
    return shared


def returns(rewards: list[float], is_terminals: list[bool], gamma: float) -> torch.Tensor:
    """Agent.update's Monte-Carlo estimate, normalised as the authors do (unbiased std)."""
    out = []
    discounted_reward = 0.0
    for r, is_terminal in zip(reversed(rewards), reversed(is_terminals), strict=True):
        if is_terminal:
            discounted_reward = 0.0
        discounted_reward = r + (gamma * discounted_reward)
        out.insert(0, discounted_reward)
    t = torch.tensor(out, dtype=torch.float32)
    return (t - t.mean()) / (t.std() + 1e-5)


def loss(action_mean: torch.Tensor, state_values: torch.Tensor, old_actions: torch.Tensor,
         old_logprobs: torch.Tensor, rewards: torch.Tensor, action_std: float, eps_clip: float) -> torch.Tensor:
    """One epoch's `loss.mean()` of Agent.update, given the actor's means and the critic's values on the batch."""
    action_var = torch.full((action_mean.shape[-1],), action_std * action_std).expand_as(action_mean)
    dist = MultivariateNormal(action_mean, torch.diag_embed(action_var))
    logprobs = dist.log_prob(old_actions)
    dist_entropy = dist.entropy()
    ratios = torch.exp(logprobs - old_logprobs.detach())
    advantages = rewards - state_values.detach()
    surr1 = ratios * advantages
    surr2 = torch.clamp(ratios, 1 - eps_clip, 1 + eps_clip) * advantages
    mse = torch.nn.MSELoss()
    out = -torch.min(surr1, surr2) + 0.5 * mse(state_values, rewards) - 0.01 * dist_entropy
    return out.mean()
