"""Training and evaluation."""

from rgp_bench.train.evaluate import Scores, evaluate
from rgp_bench.train.loop import PhaseResult, make_loader, train_phase

__all__ = ["PhaseResult", "Scores", "evaluate", "make_loader", "train_phase"]
