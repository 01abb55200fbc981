"""The GraSP authors' CIFAR pruner: class-balanced sample, two halves, g and Hg, masks (compact transcription).

Source: alecwangcq/GraSP, commit f17d87ac537bfce476ac2424171a8b6eb56499db, `pruner/GraSP.py`: `GraSP_fetch_data`
and `GraSP` (as called by `main_prune_non_imagenet.py`: `samples_per_class` from the config, 10 in every CIFAR
config, `num_iters=1`, `T=200`, `reinit=True`).

Semantics kept: the sample is filled class by class in the order the batches arrive and a class counts as full
only once one more of its samples has been seen; it is concatenated class by class, so the first half holds the
first classes. The net is a deep copy in training mode (the authors' freshly built net is), so BN uses each
half's batch statistics. With `reinit`, every nn.Linear weight of the copy is redrawn with `xavier_normal` from
torch's global generator, in module order. g = Σ over the two halves of ∂L/∂w (no graph); then for each half
z = Σ g·∂L/∂w (with graph) and z.backward(), so the weights' .grad accumulates Σ_halves H_half g. Scores
−θ ⊙ Hg are divided by |Σ| + 1e-10; the int(N · ratio) largest are found with topk and every score
`<= acceptable_score` (the smallest of them) is *kept*. `layer_names` restricts the scored weights (the
reference scores every Conv2d/Linear weight), so the parity tests can compare the project's layer set.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import autograd, nn


def grasp_fetch_data(batches: Iterable[tuple[torch.Tensor, torch.Tensor]], num_classes: int,
                     samples_per_class: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`GraSP_fetch_data`: `samples_per_class` samples of each class, concatenated class by class."""
    datas: list[list[torch.Tensor]] = [[] for _ in range(num_classes)]
    labels: list[list[torch.Tensor]] = [[] for _ in range(num_classes)]
    mark: dict[int, bool] = {}
    dataloader_iter = iter(batches)
    while True:
        inputs, targets = next(dataloader_iter)
        for idx in range(inputs.shape[0]):
            x, y = inputs[idx:idx + 1], targets[idx:idx + 1]
            category = y.item()
            if len(datas[category]) == samples_per_class:
                mark[category] = True
                continue
            datas[category].append(x)
            labels[category].append(y)
        if len(mark) == num_classes:
            break
    x = torch.cat([torch.cat(d, 0) for d in datas])
    y = torch.cat([torch.cat(t) for t in labels]).view(-1)
    return x, y


def grasp(net: nn.Module, ratio: float, inputs: torch.Tensor, targets: torch.Tensor,
          layer_names: Sequence[str] | None = None, T: float = 200, reinit: bool = False) -> dict[str, torch.Tensor]:
    """`GraSP` for one fetched sample (`num_iters=1`): boolean keep-masks by module name."""
    eps = 1e-10
    keep_ratio = 1 - ratio
    net = copy.deepcopy(net)
    net.train()
    net.zero_grad()
    names = [n for n, m in net.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    if reinit:
        for n in names:
            layer = net.get_submodule(n)
            if isinstance(layer, nn.Linear):
                nn.init.xavier_normal_(layer.weight)
    names = [n for n in names if layer_names is None or n in layer_names]
    weights = [net.get_submodule(n).weight for n in names]
    for w in weights:
        w.requires_grad_(True)

    n = inputs.shape[0]
    halves = [(inputs[:n // 2], targets[:n // 2]), (inputs[n // 2:], targets[n // 2:])]
    grad_w = None
    for x, y in halves:
        loss = F.cross_entropy(net.forward(x) / T, y)
        grad_w_p = autograd.grad(loss, weights)
        if grad_w is None:
            grad_w = list(grad_w_p)
        else:
            for idx in range(len(grad_w)):
                grad_w[idx] += grad_w_p[idx]
    assert grad_w is not None
    for x, y in halves:
        loss = F.cross_entropy(net.forward(x) / T, y)
        grad_f = autograd.grad(loss, weights, create_graph=True)
        z = sum((g.data * f).sum() for g, f in zip(grad_w, grad_f, strict=True))
        z.backward()

    grads = {name: -w.data * w.grad for name, w in zip(names, weights, strict=True)}  # -theta_q Hg
    all_scores = torch.cat([torch.flatten(x) for x in grads.values()])
    norm_factor = torch.abs(torch.sum(all_scores)) + eps
    all_scores.div_(norm_factor)
    num_params_to_rm = int(len(all_scores) * (1 - keep_ratio))
    threshold, _ = torch.topk(all_scores, num_params_to_rm, sorted=True)
    acceptable_score = threshold[-1]
    return {name: (g / norm_factor) <= acceptable_score for name, g in grads.items()}
