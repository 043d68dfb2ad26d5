"""data.augment_on: device — workers decode and resize, the trainer makes both views per batch."""

import pytest
import torch
from PIL import Image

import emcom.training.trainer as trainer
from emcom import checkpoint
from emcom.config import ConfigError
from emcom.data.batch_augment import BatchTwoViews
from emcom.data.device_views import DeviceViewLoader, LoadResized
from emcom.data.folder import ImageFolderDataset, collate_skipping_none
from emcom.data.transforms import TwoViews
from emcom.distributed import DistributedContext
from emcom.training import train
from preemption import train_until_preempted


def test_without_augmentation_device_views_equal_the_worker_views(image_set):
    dataset = ImageFolderDataset(image_set, "train", LoadResized(24))
    reference = ImageFolderDataset(image_set, "train", TwoViews(24, augment=False))
    batch = collate_skipping_none([dataset[i] for i in range(4)])
    (images, sizes), _ = batch
    assert images.dtype == torch.uint8 and images.shape == (4, 3, 24, 24)
    assert sizes.tolist() == [[32, 32]] * 4  # the originals' (height, width)
    sender, receiver = BatchTwoViews(24, augment=False)(images, sizes, torch.Generator())
    for i in range(4):
        expected, _ = reference[i][0]
        torch.testing.assert_close(sender[i], expected, atol=1e-6, rtol=1e-6)
    assert receiver is sender


def test_load_resized_keeps_the_original_size():
    image = Image.new("RGB", (50, 30), (10, 20, 30))  # PIL size is (width, height)
    resized, size = LoadResized(16)(image)
    assert resized.shape == (3, 16, 16) and size.tolist() == [30, 50]
    assert type(resized) is torch.Tensor


def test_device_loader_yields_two_views_and_replays_from_the_global_seed(image_set, make_config):
    config = make_config(image_set, data={"augment": True, "augment_on": "device"})
    ctx = DistributedContext(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))
    loader, sampler = trainer.build_loader(config, ctx)
    assert isinstance(loader, DeviceViewLoader) and isinstance(loader.dataset.transform, LoadResized)
    assert len(loader) == len(loader.loader) and loader.batch_size == 16
    runs = []
    for _ in range(2):
        torch.manual_seed(123)
        (sender, receiver), labels = next(iter(loader))
        runs.append((sender, receiver))
    assert sender.shape == (16, 3, 32, 32) and sender.dtype == torch.float32 and labels.shape == (16,)
    assert torch.equal(runs[0][0], runs[1][0]) and torch.equal(runs[0][1], runs[1][1])
    assert not torch.equal(sender, receiver)


def test_bad_augment_on_is_a_config_error(make_config, image_set):
    with pytest.raises(ConfigError, match="data.augment_on"):
        make_config(image_set, data={"augment_on": "gpu"})
    with pytest.raises(ConfigError, match="data.load_size"):
        make_config(image_set, data={"load_size": -1})


@pytest.mark.slow
def test_device_augmented_run_resumes_bit_identically(image_set, make_config, tmp_path, monkeypatch):
    config = make_config(image_set, model={"kind": "simclr"}, data={"augment": True, "augment_on": "device"},
                         optim={"epochs": 2}, run={"max_steps_per_epoch": 2})
    train(config, tmp_path / "straight")
    train_until_preempted(config, tmp_path / "resumed", monkeypatch, epoch=1)
    train(config, tmp_path / "resumed")
    straight = checkpoint.read_model_file(tmp_path / "straight" / "model.pt")["model"]
    resumed = checkpoint.read_model_file(tmp_path / "resumed" / "model.pt")["model"]
    for name in straight:
        assert torch.equal(straight[name], resumed[name]), name
