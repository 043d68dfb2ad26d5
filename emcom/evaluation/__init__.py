"""Evaluation of trained models: game accuracy (Table 1) and the symbols behind it (Table 2).

``play_game`` and ``GamePlay`` are loaded on first use: the workflow imports this package's
torch-free names (:mod:`emcom.evaluation.test_sets`) when it builds the DAG, and importing a
submodule runs this file first.
"""

from importlib import import_module

__all__ = ["GamePlay", "play_game"]


def __getattr__(name: str):
    if name in __all__:
        return getattr(import_module("emcom.evaluation.game_accuracy"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
