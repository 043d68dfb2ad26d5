"""Losses: the referential game's and SimCLR's NT-Xent."""

from emcom.losses.game_loss import GameLoss, LossOutput, cosine_scores
from emcom.losses.ntxent_loss import NTXentLoss
from emcom.losses.objective import build_objective, objective_name

__all__ = ["GameLoss", "LossOutput", "NTXentLoss", "build_objective", "cosine_scores", "objective_name"]
