"""Pick the loss that matches a model's output: the game's or NT-Xent."""

from __future__ import annotations

from typing import Callable

from emcom.config import ModelConfig
from emcom.losses.game_loss import GameLoss, LossOutput
from emcom.losses.ntxent_loss import NTXentLoss
from emcom.models import GameOutput, SimCLROutput


def objective_name(config: ModelConfig) -> str:
    """What a model of ``config`` is trained on, for reports: ``"game"`` or ``"ntxent-<variant>"``.

    The two NT-Xent variants give losses on different scales (the authors' halves it), so a report
    that shows a final loss must say which one produced it.
    """
    return "game" if config.kind == "game" else f"ntxent-{config.ntxent_variant}"


def build_objective(config: ModelConfig, gather_distributed: bool = False) -> Callable[..., LossOutput]:
    """Return ``objective(model_output) -> LossOutput`` for a game or SimCLR model."""
    if config.kind == "game":
        game_loss = GameLoss(config.similarity_temperature, gather_distributed)

        def game_objective(output: GameOutput) -> LossOutput:
            return game_loss(output.message_embedding, output.receiver_vectors)

        return game_objective
    ntxent = NTXentLoss(config.similarity_temperature, config.ntxent_variant, gather_distributed)

    def simclr_objective(output: SimCLROutput) -> LossOutput:
        return ntxent(output.z_a, output.z_b)

    return simclr_objective
