"""data.views_ahead: batches made in a background thread are the loop's own batches, in order."""

import pytest
import torch

import emcom.training.trainer as trainer
from emcom.config import ConfigError
from emcom.data.ahead import made_ahead
from emcom.distributed import DistributedContext

CPU = torch.device("cpu")
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _draws(generator: torch.Generator, count: int):
    for index in range(count):
        yield index, torch.rand(3, generator=generator)


@pytest.mark.parametrize("depth", [1, 3])
def test_items_and_their_random_draws_are_those_of_a_plain_loop(depth):
    plain = list(_draws(torch.Generator().manual_seed(5), 20))
    ahead = list(made_ahead(_draws(torch.Generator().manual_seed(5), 20), depth, CPU))
    assert [index for index, _ in ahead] == list(range(20))
    for (_, expected), (_, got) in zip(plain, ahead):
        assert torch.equal(expected, got)


def test_an_error_in_the_producer_is_raised_in_the_loop():
    def failing():
        yield 1
        raise OSError("broken file x.jpg")

    items = made_ahead(failing(), 2, CPU)
    assert next(items) == 1
    with pytest.raises(OSError, match="x.jpg"):
        next(items)


def test_leaving_the_loop_early_closes_the_producing_iterator():
    closed = []

    def endless():
        try:
            index = 0
            while True:
                yield index
                index += 1
        finally:
            closed.append(True)  # a DataLoader iterator shuts its workers down here

    for index in made_ahead(endless(), 2, CPU):
        if index == 4:
            break
    assert closed == [True]


def test_depth_below_one_is_refused():
    with pytest.raises(ValueError, match="depth"):
        next(made_ahead(iter([1]), 0, CPU))


@pytest.mark.parametrize("device", DEVICES)
def test_device_views_made_ahead_equal_views_made_in_the_loop_on(device, image_set, make_config):
    """Same epoch seed, same batches: the thread changes when the views are made, not which."""
    ctx = DistributedContext(rank=0, world_size=1, local_rank=0, device=torch.device(device))
    batches = {}
    for ahead in (0, 2):
        config = make_config(image_set, data={"augment": True, "augment_on": "device", "views_ahead": ahead})
        loader, sampler = trainer.build_loader(config, ctx)
        sampler.set_epoch(1)
        torch.manual_seed(11)
        batches[ahead] = [((sender.cpu(), receiver.cpu()), labels) for (sender, receiver), labels in loader]
    assert len(batches[2]) == len(batches[0]) == 8
    for ((sender, receiver), labels), ((sender2, receiver2), labels2) in zip(batches[0], batches[2]):
        assert torch.equal(labels, labels2)
        assert torch.equal(sender, sender2) and torch.equal(receiver, receiver2)
    assert not torch.equal(batches[0][0][0][0], batches[0][1][0][0])  # different batches differ


def test_negative_views_ahead_is_a_config_error(make_config, image_set):
    with pytest.raises(ConfigError, match="data.views_ahead"):
        make_config(image_set, data={"views_ahead": -1})
