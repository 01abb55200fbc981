"""The pruning environment shared by gnnrl and random_search: preserve ratios -> channel masks -> MACs -> reward.

An action vector sets one preserve ratio per action; every residual stream shares action 0 (the authors' a₀),
every other prunable channel group has its own. Which channels a group keeps is decided by the sum of its
producers' L2 filter norms (the authors' criterion, with indices shared across the group). MACs are the
project's own count of the applied masks (ChannelMacs). A candidate is rescaled to remove exactly the
requested fraction of the MACs (to one channel; pruning.channels.keep_for_policy) and rewarded with the
validation top-1 of the masked pretrained model minus 100. Candidates with the same keep sets have the same
reward (evaluation is deterministic), so each distinct keep set is evaluated once and remembered.

Optionally (`RewardFinetune`, off by default) every candidate is first fine-tuned for a few SGD steps on the
same seeded training batches, its masks re-applied after each step, as the authors' `--finetune` does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rgp_bench.core.errors import UserError
from rgp_bench.gnnrl.counts import PolicyCounts, PolicyRescale
from rgp_bench.gnnrl.masker import InPlaceMasker
from rgp_bench.pruning.channels import (
    ChannelGroup,
    KeepSets,
    MacBudget,
    channel_param_masks,
    filter_scores,
    keep_for_policy,
    select_keep,
)
from rgp_bench.pruning.channels.problem import ChannelProblem

PENALTY = -100.0  # the authors' reward for an episode that ends without meeting the budget
REWARD_OFFSET = -100.0  # reward = validation top-1 (%) - 100


@dataclass(frozen=True)
class RewardFinetune:
    """Fine-tuning of each candidate before its reward: `batches` SGD steps (momentum 0.9) at `lr` on the
    training batches `train_batches(batches)` gives (seeded: the same batches for every candidate)."""

    batches: int
    lr: float
    train_batches: Callable[[int], Iterator[tuple[Tensor, Tensor]]]

    def __call__(self, model: nn.Module, masks: Mapping[str, Tensor]) -> None:
        """Train `model` in place; the zeroed entries of `masks` (parameter path -> 0/1) stay zero."""
        targets = {path: _parameter(model, path) for path in masks}
        optimizer = torch.optim.SGD(model.parameters(), lr=self.lr, momentum=0.9)
        model.train()
        # The batch iterator reseeds torch's global generator; the search's own draws must not see that.
        with torch.random.fork_rng(devices=range(torch.cuda.device_count())):
            for inputs, labels in self.train_batches(self.batches):
                optimizer.zero_grad(set_to_none=True)
                F.cross_entropy(model(inputs), labels).backward()
                optimizer.step()
                with torch.no_grad():
                    for path, mask in masks.items():
                        targets[path].mul_(mask.to(targets[path].device))
        model.eval()


def _parameter(model: nn.Module, path: str) -> Tensor:
    module, _, name = path.rpartition(".")
    return getattr(model.get_submodule(module), name)


@dataclass(frozen=True)
class Outcome:
    """An evaluated candidate: the searched preserve ratios, the kept channels per group after the exact-budget
    rescale (each group keeps its best channels by filter norm), validation top-1 and reward."""

    preserve: Tensor  # per action, before the rescale
    counts: tuple[int, ...]  # per channel group, in the problem's group order
    top1: float
    reward: float


@dataclass(frozen=True)
class Transition:
    """One environment step: the new preserve ratios, the MAC reduction they reach, the reward, whether the
    episode ended, and the evaluated candidate (when the budget was met)."""

    preserve: Tensor
    counts: tuple[int, ...]  # kept channels per group at `preserve` (before any rescale)
    reduction: float
    reward: float
    done: bool
    outcome: Outcome | None


def share_actions(groups: Sequence[ChannelGroup]) -> tuple[tuple[str, ...], ...]:
    """The prunable groups each action sets: all residual streams on action 0, then one action per other group."""
    prunable = [g for g in groups if g.prunable]
    residual = tuple(g.id for g in prunable if g.kind == "residual")
    own = tuple((g.id,) for g in prunable if g.kind != "residual")
    return ((residual,) if residual else ()) + own


class ChannelEnv:
    """Channel keep sets, MACs and validation rewards for per-action preserve ratios of one pretrained model."""

    def __init__(self, problem: ChannelProblem, ratio: float, lower: float, evaluate: Callable[[nn.Module], float],
                 method: str, finetune: RewardFinetune | None = None) -> None:
        self.problem = problem
        self.ratio = float(ratio)
        self.lower = float(lower)
        self.scores = filter_scores(problem.model, problem.groups, norm=2)
        self.action_groups = share_actions(problem.groups)
        if not self.action_groups:
            raise UserError(f"method {method}: the model has no prunable channel groups; "
                            "valid: a model whose prunable layers write channels (see layers.*)")
        self.counts = PolicyCounts(problem.groups, problem.macs, self.action_groups)
        self._rescale = PolicyRescale(self.counts, self.lower)
        self.reachable = self._rescale.reachable
        if not 0.0 <= self.ratio <= self.reachable:
            raise UserError(f"ratio={ratio} is not reachable by {method} on this model: keep fractions in "
                            f"[{self.lower:g}, 1] (method.lower_bound) remove at most {self.reachable:.6f} of the "
                            f"MACs; valid range: [0, {self.reachable:.6f}]")
        self._evaluate = evaluate
        self._finetune = finetune
        self.rewarded: dict[tuple[int, ...], float] = {}  # validation top-1 per evaluated keep set (kept counts)
        self.masker = InPlaceMasker(problem.model, problem.groups, self.scores)
        # Fine-tuning changes every tensor (BN statistics too): restore them all before each candidate.
        self._dense_state = ({k: v.detach().clone() for k, v in self.masker.model.state_dict().items()}
                             if finetune is not None else None)

    @property
    def actions(self) -> int:
        return len(self.action_groups)

    def fractions(self, preserve: Tensor) -> dict[str, float]:
        """Per prunable group, the preserve ratio of its action."""
        values = preserve.tolist()
        return {gid: float(values[a]) for a, gids in enumerate(self.action_groups) for gid in gids}

    def keep(self, preserve: Tensor) -> KeepSets:
        """Keep sets at exactly these preserve ratios (kept_count per group, best filter norms kept)."""
        return select_keep(self.problem.groups, self.scores, self.fractions(preserve))

    def reduction(self, preserve: Tensor) -> float:
        """Fraction of the dense MACs removed at exactly these preserve ratios (= that of `keep(preserve)`)."""
        return self.counts.reduction(self.counts.group_counts(preserve))

    def advance(self, preserve: Tensor, action: Tensor) -> tuple[Tensor, Tensor, float]:
        """p <- clip(p (1 - a), lower, 1) (a negative action saturates at 1), its kept channels per group and the
        MAC reduction it reaches."""
        preserve = (preserve * (1.0 - action)).clamp(self.lower, 1.0)
        counts = self.counts.group_counts(preserve)
        return preserve, counts, self.counts.reduction(counts)

    def step(self, preserve: Tensor, action: Tensor, step: int, max_steps: int) -> Transition:
        """The authors' environment step (graph_env.step) at step `step` (0-based) of at most `max_steps`: the
        episode ends when the MAC budget is met, rewarded with the candidate's validation top-1 - 100, or after
        the last step with -100; earlier steps give 0."""
        preserve, counts, reduction = self.advance(preserve, action)
        met, last = reduction >= self.ratio, step == max_steps - 1
        outcome = self.evaluate(preserve) if met else None
        reward = outcome.reward if outcome is not None else (PENALTY if last else 0.0)
        return Transition(preserve, tuple(counts.tolist()), reduction, reward, met or last, outcome)

    def rescaled_counts(self, preserve: Tensor) -> tuple[int, ...]:
        """Kept channels per group of `rescale(preserve)`, computed without building keep sets."""
        return tuple(self._rescale(preserve, self.ratio).tolist())

    def rescale(self, preserve: Tensor) -> MacBudget:
        """The preserve ratios times the one factor that removes exactly `ratio` of the MACs (to one channel)."""
        return keep_for_policy(self.problem.macs, self.scores, self.fractions(preserve), self.ratio, self.lower)

    def budget(self, outcome: Outcome) -> MacBudget:
        """The keep sets and MAC facts of an evaluated candidate (the exact rescale of its preserve ratios)."""
        budget = self.rescale(outcome.preserve)
        counts = tuple(int(budget.keep[g.id].sum()) for g in self.problem.groups)
        if counts != outcome.counts:
            raise RuntimeError(f"the fast rescale kept {outcome.counts}, keep_for_policy {counts}")
        return budget

    def masked_model(self, counts: Sequence[int]) -> nn.Module:
        """The pretrained model with each group down to its best `counts` channels, zeroed everywhere they live
        (weights, BN, biases, shortcut gates); fine-tuned first when the search asks for it."""
        if self._dense_state is not None:
            self.masker.model.load_state_dict(self._dense_state)
        model = self.masker.apply(counts)
        if self._finetune is not None:
            self._finetune(model, channel_param_masks(model, self.problem.groups, self.masker.keep(counts)))
        return model

    @property
    def evaluations(self) -> int:
        """Reward evaluations run so far (distinct keep sets)."""
        return len(self.rewarded)

    def evaluate(self, preserve: Tensor) -> Outcome:
        """Rescale to the exact budget, mask (and fine-tune, if set), and reward the candidate with its validation
        top-1 - 100. Keep sets follow from the kept counts (the filter-norm ranking is fixed), so a count vector
        evaluated before is not evaluated again."""
        counts = self.rescaled_counts(preserve)
        if counts not in self.rewarded:
            self.rewarded[counts] = float(self._evaluate(self.masked_model(counts)))
        top1 = self.rewarded[counts]
        return Outcome(preserve.detach().clone(), counts, top1, top1 + REWARD_OFFSET)

    def state_dict(self) -> dict[str, list]:
        return {"rewarded": [[list(key), top1] for key, top1 in self.rewarded.items()]}

    def load_state_dict(self, state: dict[str, list]) -> None:
        self.rewarded = {tuple(int(k) for k in key): float(top1) for key, top1 in state["rewarded"]}
