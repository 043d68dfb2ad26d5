"""The trainer's recipe seen from inside one short run: what each epoch really ran with.

A spy wraps ``train_one_epoch`` and records, at the start of every epoch, the optimiser's lr and the
order in which the sampler will draw this epoch's images; the run's files are then compared with
what the spy saw and with the closed forms of SPEC.md (issue #13: the schedule shifted by one epoch,
the lr logged after the scheduler step, ``set_epoch`` never called, LARS flags/groups).
"""

import inspect
import json
import math

import pytest
import torch

import emcom.training.trainer as trainer
from emcom.config import ConfigError
from emcom.training import train

EPOCHS, BATCH = 3, 16


@pytest.fixture(scope="module")
def spied_run(image_set, tmp_path_factory):
    """One 3-epoch game run (1 step per epoch) and what the spy saw in each epoch."""
    from conftest import tiny_config

    config = tiny_config(image_set, model={"kind": "game", "shared": False},
                         optim={"epochs": EPOCHS, "batch_size": BATCH}, run={"max_steps_per_epoch": 1})
    out = tmp_path_factory.mktemp("spied_run")
    real_epoch = trainer.train_one_epoch
    signature = inspect.signature(real_epoch)
    seen = []

    def spy(*args, **kwargs):
        bound = signature.bind(*args, **kwargs).arguments
        optimizer, loader = bound["optimizer"], bound["loader"]
        seen.append({"epoch": bound["epoch"], "lrs": [g["lr"] for g in optimizer.param_groups],
                     "order": list(loader.sampler), "optimizer": optimizer, "model": bound["model"],
                     "torch_seed": torch.initial_seed()})
        return real_epoch(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(trainer, "train_one_epoch", spy)
        train(config, out)
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return config, seen, metrics, json.loads((out / "summary.json").read_text())


def expected_lr(config, epoch: int) -> float:
    """0.3 × B/256 × ½(1 + cos(π e / E)): no warm-up, cosine over epochs, epoch 0 at the full lr."""
    base = config.optim.base_lr * config.optim.batch_size / 256
    return base * 0.5 * (1 + math.cos(math.pi * epoch / config.optim.epochs))


def test_each_epoch_runs_at_the_closed_form_lr(spied_run):
    config, seen, _, summary = spied_run
    assert [s["epoch"] for s in seen] == list(range(EPOCHS))
    for s in seen:
        assert s["lrs"] == pytest.approx([expected_lr(config, s["epoch"])] * len(s["lrs"])), s["epoch"]
    assert summary["lr"] == pytest.approx(0.3 * BATCH / 256) and summary["global_batch"] == BATCH


def test_logged_lr_is_the_lr_the_epoch_ran_with(spied_run):
    config, seen, metrics, _ = spied_run
    assert [m["epoch"] for m in metrics] == [1, 2, 3]
    for record, s in zip(metrics, seen):
        assert record["lr"] == pytest.approx(s["lrs"][0]), record
        assert record["lr"] == pytest.approx(expected_lr(config, record["epoch"] - 1))


def test_every_epoch_draws_its_own_shard_order(spied_run):
    """The trainer must call sampler.set_epoch: otherwise every epoch repeats epoch 0's order."""
    _, seen, _, _ = spied_run
    orders = [tuple(s["order"]) for s in seen]
    assert len(set(orders)) == EPOCHS
    assert all(sorted(order) == sorted(orders[0]) for order in orders)  # a permutation of the same shard


def test_every_epoch_draws_its_own_noise(spied_run):
    """Augmentations and Gumbel noise are seeded per (run seed, epoch, rank): never the same twice."""
    config, seen, _, _ = spied_run
    seeds = [s["torch_seed"] for s in seen]
    assert seeds == [trainer.epoch_seed(config.run.seed, e, 0) for e in range(EPOCHS)]
    assert len(set(seeds)) == EPOCHS


def test_epoch_seed_separates_runs_epochs_and_ranks():
    seeds = {trainer.epoch_seed(seed, epoch, rank) for seed in (111, 222) for epoch in range(100) for rank in range(16)}
    assert len(seeds) == 2 * 100 * 16


def test_the_built_optimiser_has_the_papers_flags_and_groups(spied_run):
    config, seen, _, _ = spied_run
    optimizer, model = seen[0]["optimizer"], seen[0]["model"]
    assert all(s["optimizer"] is optimizer for s in seen)
    for group in optimizer.param_groups:
        assert group["momentum"] == config.optim.momentum == 0.9
        assert group["trust_coeff"] == config.optim.trust_coefficient == 1e-3
        assert group["eps"] == 1e-8 and group["trust_clip"] is False and group["always_adapt"] is True
    decayed = {id(p) for g in optimizer.param_groups if g["weight_decay"] == config.optim.weight_decay for p in g["params"]}
    plain = {id(p) for g in optimizer.param_groups if g["weight_decay"] == 0 for p in g["params"]}
    assert config.optim.weight_decay == 1e-5
    assert decayed == {id(p) for p in model.parameters() if p.ndim >= 2}
    assert plain == {id(p) for p in model.parameters() if p.ndim < 2}


def test_training_restores_the_callers_thread_count(image_set, make_config, tmp_path):
    before = torch.get_num_threads()
    target = 1 if before != 1 else 2  # run.cpu_threads makes the run change it
    config = make_config(image_set, optim={"epochs": 1}, run={"max_steps_per_epoch": 1, "cpu_threads": target})
    seen = []
    real_epoch = trainer.train_one_epoch

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real_epoch(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(trainer, "train_one_epoch", spy)
        train(config, tmp_path / "ok")
    assert seen == [target]  # the run did use its own count
    assert torch.get_num_threads() == before
    # also when the run stops with an error after setting it
    with pytest.raises(ConfigError):
        train(make_config(image_set, optim={"batch_size": 4096}, run={"cpu_threads": target}), tmp_path / "bad")
    assert torch.get_num_threads() == before


@pytest.mark.slow
def test_two_processes_scale_the_lr_by_the_global_batch(image_set, make_config, tmp_path):
    """lr = base × (processes × per-process batch) / 256, in the summary and in every epoch's record."""
    import torch.multiprocessing as mp

    from distributed_worker import train_rank
    from test_distributed import free_port

    config = make_config(image_set, model={"kind": "game", "shared": False},
                         optim={"epochs": 2, "batch_size": 8}, run={"max_steps_per_epoch": 1})
    mp.spawn(train_rank, args=(2, free_port(), config.to_dict(), str(tmp_path)), nprocs=2, join=True)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["global_batch"] == 16
    assert summary["lr"] == pytest.approx(0.3 * 2 * 8 / 256)
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["lr"] for r in records] == pytest.approx([0.3 * 16 / 256, 0.3 * 16 / 256 * 0.5])
