"""Bad images and folders inside a built dataset: clear errors naming the file, or skipped and counted."""

from __future__ import annotations

import pytest
import torch

from emcom.data.folder import (
    BadImageError,
    DatasetError,
    ImageFolderDataset,
    collate_skipping_none,
    list_samples,
)
from emcom.data.manifest import count_split, write_classes


def make_split(root, classes=2, per_class=3):
    from data_fixtures import jpeg_bytes

    for k in range(classes):
        folder = root / "train" / f"n0000000{k}"
        folder.mkdir(parents=True)
        for i in range(per_class):
            (folder / f"{i}.jpg").write_bytes(jpeg_bytes(seed=10 * k + i))
    return root


def test_truncated_image_error_names_the_file(tmp_path):
    make_split(tmp_path)
    bad = tmp_path / "train" / "n00000001" / "1.jpg"
    bad.write_bytes(bad.read_bytes()[:40])
    dataset = ImageFolderDataset(tmp_path, "train")
    with pytest.raises(BadImageError, match=str(bad)):
        [dataset[i] for i in range(len(dataset))]


def test_non_image_file_error_names_the_file(tmp_path):
    make_split(tmp_path)
    bad = tmp_path / "train" / "n00000000" / "0.jpg"
    bad.write_text("<html>a web page saved under an image name</html>")
    with pytest.raises(BadImageError, match=f"cannot decode image {bad}"):
        ImageFolderDataset(tmp_path, "train")[0]


def test_skip_policy_drops_and_counts_bad_images(tmp_path, caplog):
    make_split(tmp_path)
    (tmp_path / "train" / "n00000000" / "2.jpg").write_bytes(b"\xff\xd8garbage")
    dataset = ImageFolderDataset(tmp_path, "train", transform=lambda im: torch.zeros(1), on_bad_image="skip")
    items = [dataset[i] for i in range(len(dataset))]
    assert sum(item is None for item in items) == 1
    batch = collate_skipping_none(items)
    assert batch[0].shape == (5, 1)
    assert "2.jpg" in caplog.text


def test_empty_class_folder_is_named(tmp_path):
    make_split(tmp_path)
    (tmp_path / "train" / "n00000005").mkdir()
    with pytest.raises(DatasetError, match=r"empty class folder: .*n00000005"):
        list_samples(tmp_path / "train")


def test_counts_and_classes_table(tmp_path):
    make_split(tmp_path, classes=3, per_class=4)
    (tmp_path / "train" / "n00000000" / "notes.txt").write_text("not an image")
    assert count_split(tmp_path / "train") == {"classes": 3, "images": 12}
    with pytest.raises(ValueError, match="duplicate wnids"):
        write_classes(tmp_path, [{"wnid": "n00000001", "name": "a", "source": "s"}] * 2)
