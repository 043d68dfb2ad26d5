"""Two gloo processes: identical weights after training, disjoint shards, the authors' gather of negatives."""

import json
import socket

import pytest
import torch
import torch.multiprocessing as mp

from distributed_worker import gathered_losses, train_rank
from emcom.data.folder import ImageFolderDataset
from emcom.distributed import DistributedContext
from emcom.losses import GameLoss, NTXentLoss, game_loss, ntxent_loss
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
                         optim={"epochs": 2, "batch_size": 8, "global_batch": 32},  # 2 micro-batches per step
                         run={"max_steps_per_epoch": 2})
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
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert (summary["world_size"], summary["accumulation_steps"], summary["global_batch"]) == (2, 2, 32)


def _rank_reference(monkeypatch, name, full, rank, world, batch=4):
    """One process computing what rank ``rank`` computes with the authors' gather: its own slice is a
    leaf with gradient, the other ranks' rows are constants. Returns (loss, grads of the own slice)."""
    local = {k: v[rank * batch:(rank + 1) * batch].clone().requires_grad_(True) for k, v in full.items()}

    def gather_remote_as_constants(tensor):
        key = next(k for k, v in local.items() if v is tensor)
        return torch.cat([full[key][:rank * batch], tensor, full[key][(rank + 1) * batch:]])

    module = game_loss if name == "game" else ntxent_loss
    loss = GameLoss(0.1, gather_distributed=True) if name == "game" else NTXentLoss(0.1, gather_distributed=True)
    monkeypatch.setattr(module, "gather_negatives", gather_remote_as_constants)
    monkeypatch.setattr(module, "rank", lambda: rank)
    if name == "ntxent":
        monkeypatch.setattr(module, "world_size", lambda: world)
    value = loss(local["queries"], local["keys"]).loss
    value.backward()
    monkeypatch.undo()
    return value.detach(), {k: v.grad for k, v in local.items()}


@pytest.mark.parametrize("name", ["game", "ntxent"])
@pytest.mark.parametrize("world", [2, 3])
def test_simulated_ranks_losses_average_to_the_single_process_loss(monkeypatch, name, world):
    """In one process, each rank's loss with the gather simulated (its own rows, the others' as
    constants): their mean is the loss of one process over the whole batch. Checks the rank offsets
    and the self/positive indices of the gathered branch fast (the slow test above spawns processes)."""
    torch.manual_seed(world)
    full = {"queries": torch.randn(4 * world, 6), "keys": torch.randn(4 * world, 6)}
    single = (GameLoss(0.1) if name == "game" else NTXentLoss(0.1))(full["queries"], full["keys"]).loss
    losses = [_rank_reference(monkeypatch, name, full, rank, world)[0] for rank in range(world)]
    assert torch.allclose(sum(losses) / world, single, atol=1e-6)
    assert not torch.allclose(losses[0], losses[-1])  # the ranks do see different targets


@pytest.mark.slow
def test_gathered_negatives_carry_no_gradient_to_other_ranks(tmp_path, monkeypatch):
    """The authors' gather: remote candidates without gradient, local chunk with it (SPEC.md)."""
    world = 2
    mp.spawn(gathered_losses, args=(world, free_port(), str(tmp_path)), nprocs=world, join=True)
    ranks = [torch.load(tmp_path / f"losses{r}.pt") for r in range(world)]
    full = ranks[0]["full"]
    # the gather itself: rank r's tensor gets only the gradient of its own rows of the output
    all_weights = [r["weights"] for r in ranks]
    for rank, result in enumerate(ranks):
        own = slice(rank * 4, (rank + 1) * 4)
        assert torch.equal(result["gather_grads"]["negatives"], all_weights[rank][own])
        # with gradient, every rank's use of these rows flows back here (the difference is not zero)
        assert torch.equal(result["gather_grads"]["with_grad"], sum(w[own] for w in all_weights))
    for name, loss in (("game", GameLoss(0.1)), ("ntxent", NTXentLoss(0.1))):
        queries, keys = (full[k].clone().requires_grad_(True) for k in ("queries", "keys"))
        single = loss(queries, keys).loss
        mean_over_ranks = sum(r["results"][name]["loss"] for r in ranks) / world
        assert torch.allclose(mean_over_ranks, single.detach(), atol=1e-5), name
        for rank, result in enumerate(ranks):
            ours, reference = result["results"][name], result["with_grad"][name]
            assert torch.equal(ours["loss"], reference["loss"]), name  # the forward is unchanged
            expected_loss, expected = _rank_reference(monkeypatch, name, full, rank, world)
            assert torch.allclose(ours["loss"], expected_loss, atol=1e-6), name
            for key in ("queries", "keys"):
                # only this rank's own loss reaches its tensors: nothing comes back from other ranks
                assert torch.allclose(ours[key], expected[key], atol=1e-6), (name, key)
        # keys (and both NT-Xent views) are other ranks' candidates: their gradient did change
        ours, with_grad = ranks[0]["results"][name]["keys"], ranks[0]["with_grad"][name]["keys"]
        assert not torch.allclose(ours, with_grad, atol=1e-4), name
