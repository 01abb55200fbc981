"""Training and evaluation."""

from rgp_bench.train.evaluate import Scores, evaluate
from rgp_bench.train.loop import PhaseResult, make_loader, train_phase
from rgp_bench.train.selection import final_and_best_val

__all__ = ["PhaseResult", "Scores", "evaluate", "final_and_best_val", "make_loader", "train_phase"]
