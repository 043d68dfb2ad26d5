"""Simulated pre-emption: a training run killed at the start of one epoch, for the resume tests."""

from __future__ import annotations

import pytest

import emcom.training.trainer as trainer
from emcom.training import train


def train_until_preempted(config, out_dir, monkeypatch, epoch: int = 1) -> None:
    """Run ``train(config, out_dir)`` until epoch index ``epoch`` starts, then interrupt it as a kill would.

    The trainer's epoch function is restored afterwards, so the next ``train`` call resumes normally.
    """
    real_epoch = trainer.train_one_epoch

    def crash_in_epoch(*args, **kwargs):
        if args[7] == epoch:  # train_one_epoch's epoch index
            raise KeyboardInterrupt("simulated pre-emption")
        return real_epoch(*args, **kwargs)

    monkeypatch.setattr(trainer, "train_one_epoch", crash_in_epoch)
    with pytest.raises(KeyboardInterrupt):
        train(config, out_dir)
    monkeypatch.setattr(trainer, "train_one_epoch", real_epoch)
