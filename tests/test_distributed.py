"""Two gloo processes: identical weights after training, disjoint shards, gathers with gradients."""

import socket

import pytest
import torch
import torch.multiprocessing as mp

from distributed_worker import gathered_losses, train_rank
from emcom.data.folder import ImageFolderDataset
from emcom.distributed import DistributedContext
from emcom.losses import GameLoss, NTXentLoss
from emcom.models import build_model
from emcom.training.trainer import build_loader


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_samplers_cover_the_data_without_overlap(image_set, make_config):
    config = make_config(image_set, optim={"batch_size": 4})
    dataset_size = len(ImageFolderDataset(image_set, "train"))
    shards = []
    for rank in range(3):
        _, sampler = build_loader(config, DistributedContext(rank, 3, rank, torch.device("cpu")))
        sampler.set_epoch(5)
        shards.append(list(sampler))
    assert all(len(shard) == dataset_size // 3 for shard in shards)
    union = set().union(*map(set, shards))
    assert len(union) == sum(map(len, shards))  # no index on two ranks
    assert len(union) == dataset_size // 3 * 3  # only drop_last's remainder is left out


@pytest.mark.slow
def test_two_process_training_ends_with_identical_weights(image_set, make_config, tmp_path):
    config = make_config(image_set, model={"kind": "game", "shared": False}, data={"augment": True},
                         optim={"epochs": 2, "batch_size": 8}, run={"max_steps_per_epoch": 3})
    mp.spawn(train_rank, args=(2, free_port(), config.to_dict(), str(tmp_path)), nprocs=2, join=True)
    rank0, rank1 = torch.load(tmp_path / "rank0.pt"), torch.load(tmp_path / "rank1.pt")
    for name in rank0:
        assert torch.equal(rank0[name], rank1[name]), name
    # the weights moved: training really happened
    torch.manual_seed(config.run.seed)
    untrained = build_model(config.model).state_dict()
    moved = [n for n in rank0 if rank0[n].is_floating_point() and not torch.equal(rank0[n], untrained[n])]
    assert len(moved) > len(rank0) // 2
    assert (tmp_path / "model.pt").is_file() and (tmp_path / "summary.json").is_file()


@pytest.mark.slow
def test_gathered_negatives_equal_one_process_on_the_whole_batch(tmp_path):
    world = 2
    mp.spawn(gathered_losses, args=(world, free_port(), str(tmp_path)), nprocs=world, join=True)
    ranks = [torch.load(tmp_path / f"losses{r}.pt") for r in range(world)]
    full = ranks[0]["full"]
    for name, loss in (("game", GameLoss(0.1)), ("ntxent", NTXentLoss(0.1))):
        queries, keys = (full[k].clone().requires_grad_(True) for k in ("queries", "keys"))
        single = loss(queries, keys).loss
        single.backward()
        mean_over_ranks = sum(r["results"][name]["loss"] for r in ranks) / world
        assert torch.allclose(mean_over_ranks, single.detach(), atol=1e-5), name
        # the single-process loss is the mean of the ranks' losses, so its gradient is their sum / world:
        # a gradient flowing back through the gather to the rank that owns the tensor
        for rank, result in enumerate(ranks):
            part = slice(rank * 4, (rank + 1) * 4)
            for key, tensor in (("queries", queries), ("keys", keys)):
                assert torch.allclose(result["results"][name][key] / world, tensor.grad[part], atol=1e-5), (name, key)
