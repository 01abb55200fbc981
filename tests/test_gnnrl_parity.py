"""GNN-RL against the authors' code (tests/reference/gnnrl_authors.py, a transcription of
yusx-swapp/GNN-RL-Model-Compression at ca90475): the environment step and its episode end, the reward, the
shared action a0 of the CIFAR ResNets, the channel counts and filters of a layer's L2 pruning, and PPO's
returns and loss. Where the project deviates on purpose, the test pins the deviation (docs/gnnrl.md):
- the reward is that of the candidate rescaled to the exact MAC budget, not of the policy as played;
- returns are normalised with the population std (the authors: unbiased), a factor sqrt(n / (n - 1));
- the critic has no tanh;
- in a coupled group the filters are chosen once, on the summed L2 norms (the authors: per layer).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from tests.reference import gnnrl_authors as authors
from tests.test_gnnrl import _built, _env, pseudo_reward
from torch import nn
from torch.nn.utils import prune

from rgp_bench.gnnrl.env import PENALTY, ChannelEnv
from rgp_bench.gnnrl.ppo import PPOSettings, clipped_loss, discounted_returns, gaussian_entropy, gaussian_log_prob
from rgp_bench.pruning.channels import kept_count

RESNET20_BLOCKS = 3  # per stage


def _convs(model: nn.Module) -> list[str]:
    return [name for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def _conv_actions(env: ChannelEnv, convs: list[str]) -> list[int]:
    """The action that sets each conv's output channels."""
    action_of = {gid: a for a, gids in enumerate(env.action_groups) for gid in gids}
    writer = {p.name: g.id for g in env.problem.groups for p in g.producers}
    return [action_of[writer[name]] for name in convs]


def test_action_a0_is_shared_by_the_stem_and_every_blocks_conv2_as_in_share_layers() -> None:
    env = _env("resnet20")
    convs = _convs(_built("resnet20")[0])
    assert env.actions == 3 * RESNET20_BLOCKS + 1
    theirs = authors.share_layer_index_resnet_cifar(list(range(env.actions)), RESNET20_BLOCKS)
    assert _conv_actions(env, convs) == theirs  # [a0, a1, a0, a2, a0, ...]


def _authors_episode(env: ChannelEnv, actions: list[torch.Tensor], accuracy) -> list[tuple]:
    """The authors' step on the per-conv preserve ratios of ResNet-20, with the project's exact MAC count as the
    FLOPs model (their chain estimate is a documented difference of its own)."""
    convs = _convs(_built("resnet20")[0])
    per_conv = _conv_actions(env, convs)
    first = {a: per_conv.index(a) for a in range(env.actions)}  # a conv that each action sets
    total = float(env.counts.total)

    def to_actions(preserve: np.ndarray) -> torch.Tensor:
        return torch.tensor([preserve[first[a]] for a in range(env.actions)], dtype=torch.float32)

    def preserved_flops(preserve: np.ndarray) -> float:
        return total * (1.0 - env.reduction(to_actions(preserve)))

    preserve = np.ones(len(convs))
    out = []
    for t, action in enumerate(actions, start=1):
        shared = np.array(authors.share_layer_index_resnet_cifar(action.tolist(), RESNET20_BLOCKS))
        preserve, reward, done = authors.step(preserve, shared, t, len(actions), total, env.ratio, preserved_flops,
                                              lambda p: accuracy(to_actions(p)))
        out.append((to_actions(preserve), reward, done))
        if done:
            break
    return out


@pytest.mark.parametrize("scale", [0.05, 0.2, 0.6])  # episodes that miss the budget, end late, end at once
def test_the_environment_step_is_the_authors(scale: float) -> None:
    env = _env("resnet20", ratio=0.4)
    generator = torch.Generator().manual_seed(7)
    actions = [scale * (0.5 + torch.rand(env.actions, generator=generator)) - 0.02 for _ in range(5)]
    actions[1][0] = -0.3  # a negative action saturates at 1

    def rescaled_top1(preserve: torch.Tensor) -> float:
        return env.evaluate(preserve).top1

    theirs = _authors_episode(env, actions, rescaled_top1)
    preserve, ours = torch.ones(env.actions), []
    for step, action in enumerate(actions):
        moved = env.step(preserve, action, step, len(actions))
        ours.append((moved.preserve, moved.reward, moved.done))
        preserve = moved.preserve
        if moved.done:
            break
    assert len(ours) == len(theirs)
    for (p, r, d), (q, s, e) in zip(ours, theirs, strict=True):
        assert torch.allclose(p, q, atol=1e-6) and r == pytest.approx(s, abs=1e-9) and d == e
    assert ours[-1][2] and all(r == 0.0 for _, r, _ in ours[:-1])
    if scale == 0.05:
        assert ours[-1][1] == PENALTY == -100.0


def test_the_reward_is_the_authors_on_the_rescaled_candidate() -> None:
    """Top-1 - 100 (reward_caculation), but of the candidate rescaled to remove exactly `ratio` of the MACs; the
    authors reward the policy as played, so the rewards differ wherever the policy overshoots the budget."""
    env = _env("mlp", ratio=0.5)
    for top1 in (0.0, 37.5, 99.3):
        fixed = ChannelEnv(env.problem, 0.5, 0.1, lambda _model, top1=top1: top1, "gnnrl")
        assert fixed.evaluate(torch.ones(fixed.actions)).reward == authors.reward(top1)
    overshoot = torch.tensor([0.2, 0.3, 0.2, 0.3])  # removes far more than half of the MACs
    assert env.reduction(overshoot) > 0.8
    as_played = pseudo_reward(env.masker.apply(tuple(env.counts.group_counts(overshoot).tolist())))
    rescaled = env.evaluate(overshoot)
    assert rescaled.reward == authors.reward(rescaled.top1) and rescaled.top1 != as_played


def test_kept_channels_and_filters_of_a_single_layer_group_are_ln_structured() -> None:
    """Per layer, the authors keep the filters of the largest L2 norm with torch's ln_structured, which prunes
    round((1 - p) C) of them; kept_count(p, C) = floor(p C + 1/2) agrees except at exact halves (where round()
    goes to even). A group with one producer then keeps the same filters."""
    channels = 64
    for p in np.linspace(0.1, 1.0, 181):
        if abs((1 - p) * channels % 1 - 0.5) < 1e-9:
            continue
        assert kept_count(float(p), channels) == channels - round((1 - p) * channels)
    env = _env("mlp")
    model = env.problem.model
    group = next(g for g in env.problem.groups if g.prunable and len(g.producers) == 1 and g.id != "features.1")
    layer = nn.Linear(1, 1)
    layer.weight = nn.Parameter(model.get_submodule(group.id).weight.detach().clone())
    prune.ln_structured(layer, "weight", amount=round(0.7 * group.channels), n=2, dim=0)
    theirs = layer.weight_mask.any(dim=1)
    preserve = torch.ones(env.actions)
    preserve[next(i for i, gids in enumerate(env.action_groups) if group.id in gids)] = 0.3
    assert torch.equal(env.keep(preserve)[group.id], theirs)


def test_returns_are_the_authors_up_to_the_population_std() -> None:
    rewards = [0.0, 0.0, -12.5, -100.0, 0.0, -8.0, 0.0, 0.0, 0.0, -100.0, -3.25]
    terminals = [False, False, True, True, False, True, False, False, False, True, True]
    ours = discounted_returns(rewards, terminals, 0.99)
    theirs = authors.returns(rewards, terminals, 0.99)
    n = len(rewards)
    assert torch.allclose(ours, theirs * math.sqrt(n / (n - 1)), rtol=1e-4)  # std(unbiased=False) vs unbiased
    assert torch.allclose(ours.std(unbiased=False), torch.tensor(1.0), atol=1e-4)


def test_the_ppo_loss_and_its_gradients_are_the_authors() -> None:
    settings = PPOSettings()
    generator = torch.Generator().manual_seed(3)
    batch, actions = 12, 5
    mean = torch.tanh(torch.randn(batch, actions, generator=generator)).requires_grad_()
    values = torch.randn(batch, generator=generator).requires_grad_()
    taken = mean.detach() + settings.action_std * torch.randn(batch, actions, generator=generator)
    old = gaussian_log_prob(mean.detach() + 0.1 * torch.randn(batch, actions, generator=generator), taken,
                            settings.action_std)
    returns = discounted_returns([float(r) for r in torch.randn(batch, generator=generator) * 10],
                                 [i % 4 == 3 for i in range(batch)], settings.gamma)
    ours = clipped_loss(mean, values, taken, old, returns, settings)
    grads = torch.autograd.grad(ours, (mean, values))
    theirs = authors.loss(mean, values, taken, old, returns, settings.action_std, settings.eps_clip)
    their_grads = torch.autograd.grad(theirs, (mean, values))
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-5, abs=1e-6)
    for a, b in zip(grads, their_grads, strict=True):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6)
    dist = torch.distributions.MultivariateNormal(mean.detach(), settings.action_std**2 * torch.eye(actions))
    assert torch.allclose(gaussian_log_prob(mean.detach(), taken, settings.action_std), dist.log_prob(taken))
    assert gaussian_entropy(actions, settings.action_std) == pytest.approx(float(dist.entropy()[0]))


def test_the_actor_ends_in_tanh_and_the_critic_is_linear() -> None:
    from rgp_bench.gnnrl.encoder import ActorCritic

    policy = ActorCritic(4)
    assert isinstance(policy.actor[-1], nn.Tanh)  # action means in (-1, 1), as the authors'
    assert isinstance(policy.critic, nn.Linear)  # the authors end in tanh; normalised returns exceed +-1
