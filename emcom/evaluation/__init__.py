"""Evaluation of trained models: game accuracy (Table 1) and the symbols behind it (Table 2)."""

from emcom.evaluation.game_accuracy import GamePlay, play_game

__all__ = ["GamePlay", "play_game"]
