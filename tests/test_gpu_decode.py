"""data.decode_on: device — JPEGs decoded per batch by torchvision.io.decode_jpeg (here on the CPU)."""

import numpy as np
import pytest
import torch
from PIL import Image

import emcom.training.trainer as trainer
from emcom.data.device_views import DeviceViewLoader, LoadResized
from emcom.data.folder import BadImageError
from emcom.data.gpu_decode import EncodedImageFolder, collate_encoded, decode_to_squares
from emcom.distributed import DistributedContext

CPU = torch.device("cpu")
# nvJPEG is the path this module exists for: where a GPU is present (the device call of benchmarks/gpu_all.sh)
# the decoding tests run there too.
DEVICES = [CPU] + ([torch.device("cuda")] if torch.cuda.is_available() else [])


@pytest.fixture
def mixed_folder(tmp_path):
    """Two classes: JPEGs of several sizes and modes, one PNG; optionally a corrupt JPEG."""
    rng = np.random.default_rng(0)
    for c, wnid in enumerate(("n00000001", "n00000002")):
        folder = tmp_path / "train" / wnid
        folder.mkdir(parents=True)
        for i, (w, h) in enumerate([(40, 30), (24, 36), (32, 32)]):
            y, x = np.mgrid[0:h, 0:w]
            pixels = np.stack([x * 255 // w, y * 255 // h, (x + y + 40 * c) % 256], -1).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"img{i}.jpg", quality=95)
        Image.fromarray(rng.integers(0, 256, (20, 28), dtype=np.uint8)).convert("L").save(folder / "gray.jpg")
        Image.fromarray(rng.integers(0, 256, (30, 30, 3), dtype=np.uint8)).save(folder / "img.png")
    return tmp_path


def _items(root, on_bad_image="error"):
    dataset = EncodedImageFolder(root, "train", 16, on_bad_image)
    return dataset, collate_encoded([dataset[i] for i in range(len(dataset))])


@pytest.mark.parametrize("device", DEVICES, ids=str)
def test_decoded_squares_match_the_worker_path(mixed_folder, device):
    dataset, (items, labels) = _items(mixed_folder)
    assert sum(item.encoded is not None for item in items) == 8 and sum(item.square is not None for item in items) == 2
    images, sizes, kept = decode_to_squares(items, device, 16)
    images, sizes, kept = images.cpu(), sizes.cpu(), kept.cpu()
    assert images.shape == (10, 3, 16, 16) and images.dtype == torch.uint8 and kept.tolist() == list(range(10))
    load = LoadResized(16)
    for i, sample in enumerate(dataset.samples):
        with Image.open(sample.path) as image:
            expected, size = load(image.convert("RGB"))
        assert sizes[i].tolist() == size.tolist(), sample.path
        # libjpeg in torchvision vs PIL's, and interpolate vs v2.Resize: a grey level or two
        assert (images[i].float() - expected.float()).abs().mean() < 2.5, sample.path


@pytest.mark.parametrize("device", DEVICES, ids=str)
def test_undecodable_jpeg_follows_on_bad_image(mixed_folder, device):
    bad = mixed_folder / "train" / "n00000001" / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 10)
    _, (items, _) = _items(mixed_folder)
    with pytest.raises(BadImageError, match="broken.jpg"):
        decode_to_squares(items, device, 16, on_bad_image="error")
    images, sizes, kept = decode_to_squares(items, device, 16, on_bad_image="skip")
    broken = [i for i, item in enumerate(items) if item.path.endswith("broken.jpg")]
    assert images.shape[0] == len(items) - 1 and broken[0] not in kept.tolist() and len(sizes) == len(kept)


def test_trainer_decodes_on_the_device_when_asked(mixed_folder, make_config):
    config = make_config(mixed_folder, data={"augment": True, "augment_on": "device", "decode_on": "device",
                                             "image_size": 16},
                         optim={"batch_size": 4})
    ctx = DistributedContext(rank=0, world_size=1, local_rank=0, device=CPU)
    loader, _ = trainer.build_loader(config, ctx)
    assert isinstance(loader, DeviceViewLoader) and isinstance(loader.dataset, EncodedImageFolder)
    torch.manual_seed(0)
    (sender, receiver), labels = next(iter(loader))
    assert sender.shape == receiver.shape == (4, 3, 16, 16) and labels.shape == (4,)


def test_decode_on_device_needs_augment_on_device(make_config, mixed_folder):
    from emcom.config import ConfigError

    with pytest.raises(ConfigError, match="data.decode_on"):
        make_config(mixed_folder, data={"decode_on": "device"})
