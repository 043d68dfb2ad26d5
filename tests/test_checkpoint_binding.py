"""A checkpoint (and a model.pt) belongs to the run config that wrote it: another config never resumes it."""

import json
import logging

import pytest

import emcom.training.trainer as trainer
from emcom import checkpoint
from emcom.config import OPERATIONAL_KEYS, ExperimentConfig
from emcom.training import train

EXECUTION = {"world_size": 1, "precision": "fp32"}


class Interrupted(Exception):
    pass


def _interrupted_after_first_epoch(config, out, monkeypatch):
    """Train ``config`` into ``out`` and stop it in its second epoch, as a kill would: checkpoint.pt at epoch 1."""
    real_epoch = trainer.train_one_epoch

    def stop_in_second_epoch(*args, **kwargs):
        if args[7] == 1:  # epoch index
            raise Interrupted
        return real_epoch(*args, **kwargs)

    monkeypatch.setattr(trainer, "train_one_epoch", stop_in_second_epoch)
    with pytest.raises(Interrupted):
        train(config, out)
    monkeypatch.setattr(trainer, "train_one_epoch", real_epoch)
    assert checkpoint.read_checkpoint(out / "checkpoint.pt")["epoch"] == 1


def _history_epochs(out):
    return [json.loads(line)["epoch"] for line in (out / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("change,expected", [
    ({"optim": {"base_lr": 1.0}}, "optim.base_lr: 0.3 -> 1.0"),
    # More epochs stretch the cosine: resuming would train the new epochs at the old schedule's end.
    ({"optim": {"epochs": 3}}, "optim.epochs: 2 -> 3"),
])
def test_changed_config_never_resumes_an_old_checkpoint(image_set, make_config, tmp_path, monkeypatch, caplog,
                                                         change, expected):
    steps = {"max_steps_per_epoch": 1}
    out = tmp_path / "run"
    _interrupted_after_first_epoch(make_config(image_set, run=steps), out, monkeypatch)
    old_bytes = (out / "checkpoint.pt").read_bytes()

    changed = make_config(image_set, run=steps, **change)
    with caplog.at_level(logging.INFO, logger="emcom"):
        train(changed, out)

    stale = list(out.glob("checkpoint.stale-*.pt"))
    assert len(stale) == 1 and stale[0].read_bytes() == old_bytes  # moved aside, never deleted
    warning = next(r.getMessage() for r in caplog.records if "written by a different run" in r.getMessage())
    assert expected in warning and stale[0].name in warning
    assert "training from scratch" in caplog.text and "resuming" not in caplog.text
    assert _history_epochs(out) == list(range(1, changed.optim.epochs + 1))
    # the model is the new config's, trained from epoch 1 at the new lr
    payload = checkpoint.read_model_file(out / "model.pt")
    assert ExperimentConfig.from_dict(payload["config"]) == changed
    first_lr = payload["history"][0]["lr"]
    assert first_lr == pytest.approx(changed.optim.base_lr * changed.optim.batch_size / 256)


def test_operational_change_resumes(image_set, make_config, tmp_path, monkeypatch, caplog):
    out = tmp_path / "run"
    _interrupted_after_first_epoch(make_config(image_set, run={"max_steps_per_epoch": 1}), out, monkeypatch)
    operational = make_config(image_set, run={"max_steps_per_epoch": 1, "cpu_threads": 1, "checkpoint_every": 2,
                                              "progress_bar": True})
    with caplog.at_level(logging.INFO, logger="emcom"):
        train(operational, out)
    assert "resuming" in caplog.text and "different run" not in caplog.text
    assert not list(out.glob("*.stale-*"))
    assert _history_epochs(out) == [1, 2]


def test_finished_run_leaves_no_checkpoint_so_a_rerun_trains_again(image_set, make_config, tmp_path, caplog):
    config = make_config(image_set, optim={"epochs": 2}, run={"max_steps_per_epoch": 1})
    train(config, tmp_path)
    assert (tmp_path / "model.pt").is_file() and not (tmp_path / "checkpoint.pt").exists()
    (tmp_path / "model.pt").unlink()  # what `snakemake --forcerun train` does before the job
    with caplog.at_level(logging.INFO, logger="emcom"):
        train(config, tmp_path)
    assert "training from scratch" in caplog.text and "resuming" not in caplog.text


def test_a_model_of_another_config_is_moved_aside_before_training(image_set, make_config, tmp_path, monkeypatch):
    train(make_config(image_set, optim={"epochs": 1}, run={"max_steps_per_epoch": 1}), tmp_path)
    assert (tmp_path / "summary.json").is_file()
    changed = make_config(image_set, optim={"epochs": 2, "base_lr": 1.0}, run={"max_steps_per_epoch": 1})
    _interrupted_after_first_epoch(changed, tmp_path, monkeypatch)
    # killed mid-run: no model.pt (nor summary) of the old config is left to pass for this run's result
    assert not (tmp_path / "model.pt").exists() and not (tmp_path / "summary.json").exists()
    assert len(list(tmp_path.glob("model.stale-*.pt"))) == 1


def test_identity_ignores_operational_keys_only():
    config = ExperimentConfig.from_dict({})
    identity = checkpoint.run_identity(config, EXECUTION)
    assert not OPERATIONAL_KEYS & set(identity)
    assert {"optim.epochs", "optim.base_lr", "run.seed", "run.precision", "data.root", "world_size"} <= set(identity)
    # one key of every section changed -> each named, old -> new
    changed = ExperimentConfig.from_dict({"model": {"vocab_size": 8}, "data": {"augment": False}, "run": {"seed": 1}})
    differences = checkpoint.identity_differences(identity, checkpoint.run_identity(changed, EXECUTION))
    assert differences == ["data.augment: True -> False", "model.vocab_size: 2048 -> 8", "run.seed: 111 -> 1"]
    # more processes or another precision: a different run too
    assert checkpoint.identity_differences(identity, checkpoint.run_identity(config, {**EXECUTION, "world_size": 8})) \
        == ["world_size: 1 -> 8"]


def test_file_without_execution_or_with_an_unreadable_config_differs():
    identity = checkpoint.run_identity(ExperimentConfig.from_dict({}), EXECUTION)
    config = ExperimentConfig.from_dict({}).to_dict()
    assert checkpoint.file_differences({"config": config, "execution": EXECUTION}, identity) == []
    # a key added to the code since the file was written compares at its default
    del config["run"]["progress_bar"], config["optim"]["momentum"]
    assert checkpoint.file_differences({"config": config, "execution": EXECUTION}, identity) == []
    assert checkpoint.file_differences({"config": config}, identity) == [
        "precision: '<not recorded>' -> 'fp32'", "world_size: '<not recorded>' -> 1"]
    assert "not one this version reads" in checkpoint.file_differences({"config": {"model": {"old_key": 1}}}, identity)[0]
