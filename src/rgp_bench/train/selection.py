"""Which weights are reported: the final epoch's, and the best validation epoch's (never picked on the test set)."""

from __future__ import annotations

from torch import nn
from torch.utils.data import DataLoader

from rgp_bench.core.hardware import Hardware
from rgp_bench.record.schema import Accuracy, BestValScores, FinalScores
from rgp_bench.train.evaluate import evaluate
from rgp_bench.train.loop import PhaseResult


def final_and_best_val(model: nn.Module, trained: PhaseResult, test_loader: DataLoader, val_loader: DataLoader,
                       hw: Hardware, limit: int | None) -> Accuracy:
    """Test scores of the final weights and of the weights at the best validation epoch (model left final)."""
    final_epoch = trained.history[-1]["epoch"] if trained.history else 0
    final = evaluate(model, test_loader, hw, limit)
    if trained.best_state is None:  # no training epochs: the pruned model itself is both
        val_top1 = evaluate(model, val_loader, hw, limit).top1
        best, best_epoch = final, final_epoch
    else:
        best_epoch, val_top1 = trained.best_epoch, trained.best_val_top1
        best = final
        if trained.best_epoch != final_epoch:
            final_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            model.load_state_dict(trained.best_state)
            best = evaluate(model, test_loader, hw, limit)
            model.load_state_dict(final_state)
    return Accuracy(final=FinalScores(epoch=final_epoch, **final.as_dict()),
                    best_val=BestValScores(epoch=best_epoch, val_top1=val_top1, **best.as_dict()))
