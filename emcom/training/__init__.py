"""Training: the recipe (trainer), one epoch (loop), LARS and schedule (optim), precision."""

from emcom.training.trainer import train

__all__ = ["train"]
