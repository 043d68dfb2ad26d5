"""Training: resume is exact, NaN stops with the step, the game learns, outputs are complete."""

import json

import pytest
import torch

import emcom.training.trainer as trainer
from emcom import checkpoint
from emcom.data.folder import ImageFolderDataset
from emcom.data.transforms import squash_transform
from emcom.evaluation import play_game
from emcom.training import train
from emcom.training.report import write_training_report
from preemption import train_until_preempted


def _weights(path):
    return checkpoint.read_model_file(path)["model"]


@pytest.mark.slow
def test_resumed_run_ends_with_the_weights_of_an_uninterrupted_run(image_set, make_config, tmp_path, monkeypatch):
    config = make_config(image_set, model={"kind": "game", "shared": False}, data={"augment": True},
                         optim={"epochs": 3}, run={"max_steps_per_epoch": 3})
    train(config, tmp_path / "straight")

    train_until_preempted(config, tmp_path / "resumed", monkeypatch, epoch=1)
    assert checkpoint.read_checkpoint(tmp_path / "resumed" / "checkpoint.pt")["epoch"] == 1
    assert not (tmp_path / "resumed" / "model.pt").exists()
    train(config, tmp_path / "resumed")

    straight, resumed = _weights(tmp_path / "straight" / "model.pt"), _weights(tmp_path / "resumed" / "model.pt")
    assert straight.keys() == resumed.keys()
    for name in straight:
        assert torch.equal(straight[name], resumed[name]), name
    lines = (tmp_path / "resumed" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3]


def test_outputs_are_complete_and_readable(image_set, make_config, tmp_path):
    config = make_config(image_set, model={"kind": "simclr", "ntxent_variant": "egg"}, optim={"epochs": 1},
                         run={"max_steps_per_epoch": 2})
    model_path = train(config, tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["global_batch"] == 16 and summary["lr"] == pytest.approx(0.3 * 16 / 256)
    assert summary["accumulation_steps"] == 1
    # the two NT-Xent variants' losses differ in scale: the report must say which one was trained
    assert summary["objective"] == "ntxent-egg"
    table = write_training_report({"simclr": tmp_path / "summary.json"}, tmp_path / "t.csv", tmp_path / "t.md",
                                  tmp_path / "t.png")
    assert table.loc[0, "objective"] == "ntxent-egg" and "ntxent-egg" in (tmp_path / "t.md").read_text()
    record = json.loads((tmp_path / "metrics.jsonl").read_text())
    assert set(record) >= {"epoch", "loss", "accuracy", "lr", "images_per_second", "seconds", "skipped_steps"}
    assert record["steps"] == 2
    model, rebuilt = checkpoint.load_model(model_path)
    assert rebuilt == config and type(model).__name__ == "SimCLR"
    assert (tmp_path / "config.resolved.yaml").is_file()


def test_global_batch_by_accumulation_is_what_summary_and_lr_say(image_set, make_config, tmp_path):
    config = make_config(image_set, optim={"epochs": 1, "batch_size": 16, "global_batch": 32},
                         run={"max_steps_per_epoch": 1})
    train(config, tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert (summary["per_process_batch"], summary["accumulation_steps"], summary["global_batch"]) == (16, 2, 32)
    assert summary["lr"] == pytest.approx(0.3 * 32 / 256)
    assert summary["final"]["steps"] == 1 and summary["final"]["skipped_steps"] == 0


def test_non_finite_loss_stops_with_the_step(image_set, make_config, tmp_path, monkeypatch):
    config = make_config(image_set, optim={"epochs": 1}, run={"max_steps_per_epoch": 3})
    real_objective = trainer.build_objective

    def poisoned(*args, **kwargs):
        objective = real_objective(*args, **kwargs)
        calls = []

        def wrapped(output):
            calls.append(1)
            result = objective(output)
            return result._replace(loss=result.loss * float("nan")) if len(calls) == 2 else result

        return wrapped

    monkeypatch.setattr(trainer, "build_objective", poisoned)
    with pytest.raises(FloatingPointError, match="epoch 1, step 2"):
        train(config, tmp_path)
    assert not (tmp_path / "model.pt").exists()


def test_batch_larger_than_dataset_is_a_config_error(image_set, make_config, tmp_path):
    from emcom.config import ConfigError

    config = make_config(image_set, optim={"batch_size": 4096})
    with pytest.raises(ConfigError, match="optim.batch_size=4096"):
        train(config, tmp_path)


@pytest.mark.slow
def test_game_learns_far_above_chance(image_set, make_config, tmp_path):
    """160 CPU steps of the -augmentations -shared game on 8 generated classes, played on val.

    Chance is 1/16. Measured over run seeds 0-5 (mean of 4 plays): 0.50-0.69, so 0.35 leaves a margin
    of 0.15 below the worst seed. The +augmentations game is not used here: at its budget (320 steps)
    it scored 0.20-0.34 over seeds, too close to any threshold to tell a regression from a seed
    (issue #13). The specific bugs have their own fast tests (tests/test_evaluation_mode.py,
    test_models.py, test_optim.py, test_training_recipe.py).
    """
    config = make_config(image_set, model={"kind": "game", "shared": False}, data={"augment": False},
                         optim={"epochs": 20, "batch_size": 16, "base_lr": 16.0}, run={"seed": 0})
    model, _ = checkpoint.load_model(train(config, tmp_path))
    val = ImageFolderDataset(image_set, "val", squash_transform(32))

    def accuracy(game) -> float:  # 4 seeded play orders: less noise than one
        return sum(play_game(game, val, batch_size=16, seed=s).accuracy for s in range(4)) / 4

    trained = accuracy(model)
    assert trained > 0.35, trained
    torch.manual_seed(0)
    untrained = accuracy(trainer.build_model(config.model))
    assert untrained < 0.15 and trained - untrained > 0.25, (trained, untrained)


@pytest.mark.parametrize("augment,workers,explicit,expected", [
    (True, 2, 0, 1),   # two augmenting workers on 2 cores: one core left for the step
    (False, 2, 0, 2),  # un-augmented workers only decode: the step keeps both cores
    (True, 0, 0, 2),   # no workers: the step does the augmentation itself
    (True, 2, 3, 3),   # an explicit run.cpu_threads wins
])
def test_cpu_threads_leave_cores_to_augmenting_workers(image_set, make_config, augment, workers, explicit, expected):
    config = make_config(image_set, data={"augment": augment, "num_workers": workers}, run={"cpu_threads": explicit})
    assert trainer.cpu_threads(config, available=2) == expected


@pytest.mark.parametrize("augment,workers,explicit,expected", [
    (True, 15, 0, 1),    # 15 workers on 16 cores: one thread queues the GPU's kernels
    (False, 15, 0, 1),   # decoding workers hold their cores too
    (False, 10, 0, 6),
    (True, 20, 0, 1),    # never fewer than one
    (True, 0, 0, 16),    # no workers: the process keeps every core
    (True, 15, 4, 4),    # an explicit run.cpu_threads wins
])
def test_a_gpu_run_leaves_a_core_to_every_loader_worker(image_set, make_config, augment, workers, explicit, expected):
    config = make_config(image_set, data={"augment": augment, "num_workers": workers}, run={"cpu_threads": explicit})
    assert trainer.cpu_threads(config, available=16, device_type="cuda") == expected
