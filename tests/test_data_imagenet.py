"""ImageNet (user-supplied): folder checks, the paper's OOD list, the OOD split, on a fake ImageNet of tiny JPEGs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from data_fixtures import REPO, jpeg_bytes
from emcom.data.folder import ImageFolderDataset, read_classes
from emcom.data.imagenet import (
    ImageNetError,
    build_imagenet_dataset,
    check_split_folder,
    ilsvrc_wnids,
    read_ood_list,
)

OOD_WNIDS = ("n01392380", "n13869788")  # two synsets of the paper's list (not ILSVRC classes)


def fake_split(root: Path, wnids: list[str]) -> Path:
    image = jpeg_bytes()
    for wnid in wnids:
        (root / wnid).mkdir(parents=True)
        (root / wnid / f"{wnid}_1.JPEG").write_bytes(image)
    return root


@pytest.fixture(scope="module")
def fake_imagenet(tmp_path_factory) -> dict:
    """train/val with one JPEG in each of the 1000 classes; full/ with 3 images of 2 OOD synsets."""
    base = tmp_path_factory.mktemp("imagenet")
    wnids = ilsvrc_wnids()
    lines = ["# a comment line, as in the paper's file", ""]
    for k, wnid in enumerate(OOD_WNIDS):
        for i in range(3):
            relative = f"{wnid}/{wnid}_{100 + i}.JPEG"
            (base / "full" / wnid).mkdir(parents=True, exist_ok=True)
            (base / "full" / relative).write_bytes(jpeg_bytes(seed=10 * k + i))
            lines.append(relative)
    (base / "ood.txt").write_text("\n".join(lines) + "\n")
    return {
        "train": str(fake_split(base / "train", wnids)),
        "val": str(fake_split(base / "val", wnids)),
        "full": str(base / "full"),
        "ood_list": str(base / "ood.txt"),
    }


def test_ilsvrc_list_is_the_sorted_1000():
    wnids = ilsvrc_wnids()
    assert len(wnids) == 1000 and wnids == sorted(wnids)
    assert wnids[0] == "n01440764" and "n02084071" not in wnids  # tench first; 'dog' itself is no class


def test_paper_ood_list_format():
    entries = read_ood_list(REPO / "data" / "OOD_set.txt")
    assert len(entries) == 10_240
    wnids = {w for w, _ in entries}
    assert len(wnids) == 80
    assert all(sum(1 for w, _ in entries if w == x) == 128 for x in wnids)
    assert not wnids & set(ilsvrc_wnids())


def test_bad_ood_line_is_named(tmp_path):
    path = tmp_path / "ood.txt"
    path.write_text("# header\nn01392380/n01392380_1.JPEG\nn01392380/other.jpg\n")
    with pytest.raises(ImageNetError, match=r"ood.txt:3: 'n01392380/other.jpg'"):
        read_ood_list(path)


def test_missing_folder_names_config_key_and_path(tmp_path):
    with pytest.raises(ImageNetError, match=rf"imagenet.train: folder not found: {tmp_path / 'nope'}"):
        check_split_folder(str(tmp_path / "nope"), "imagenet.train", set(ilsvrc_wnids()))


def test_wrong_number_of_classes(tmp_path):
    wnids = ilsvrc_wnids()
    fake_split(tmp_path / "val", wnids[:999])
    with pytest.raises(ImageNetError, match=r"imagenet.val: .* has 999 class folders, expected 1000 \(missing e.g. \['n15075141'\]"):
        check_split_folder(str(tmp_path / "val"), "imagenet.val", set(wnids))


def test_unknown_wnid_folder(tmp_path):
    fake_split(tmp_path / "train", [*ilsvrc_wnids()[:5], "n02084071"])
    with pytest.raises(ImageNetError, match=r"not ILSVRC-2012 wnids: \['n02084071'\]"):
        check_split_folder(str(tmp_path / "train"), "imagenet.train", set(ilsvrc_wnids()))


def test_empty_class_folder(tmp_path):
    wnids = ilsvrc_wnids()
    fake_split(tmp_path / "train", wnids)
    shutil.rmtree(tmp_path / "train" / wnids[7])
    (tmp_path / "train" / wnids[7]).mkdir()
    with pytest.raises(ImageNetError, match=rf"empty class folder\(s\) .*{wnids[7]}"):
        check_split_folder(str(tmp_path / "train"), "imagenet.train", set(wnids))


def test_null_keys_are_named(tmp_path):
    with pytest.raises(ImageNetError, match=r"\['imagenet.train', 'imagenet.full'\]"):
        build_imagenet_dataset(tmp_path / "imagenet", {"train": None, "val": "x", "full": None}, tmp_path)


@pytest.mark.debian
@pytest.mark.parametrize("copy", [False, True])
def test_build_links_train_val_and_ood(fake_imagenet, nltk_data, tmp_path, copy):
    out = tmp_path / "imagenet"
    manifest = build_imagenet_dataset(out, {**fake_imagenet, "ood_copy": copy}, nltk_data)
    assert manifest["splits"] == {
        "train": {"classes": 1000, "images": 1000},
        "val": {"classes": 1000, "images": 1000},
        "ood": {"classes": 2, "images": 6},
    }
    assert (out / "train").is_symlink() and os.path.samefile(out / "train", fake_imagenet["train"])
    ood_image = out / "ood" / OOD_WNIDS[0] / f"{OOD_WNIDS[0]}_100.JPEG"
    assert ood_image.is_symlink() != copy
    assert ood_image.read_bytes() == (Path(fake_imagenet["full"]) / OOD_WNIDS[0] / ood_image.name).read_bytes()
    classes = read_classes(out)
    assert len(classes) == 1002
    assert set(classes[classes["source"] != "ilsvrc2012"]["wnid"]) == set(OOD_WNIDS)
    assert ImageFolderDataset(out, "val").wnids == ilsvrc_wnids()  # class index = the standard order
    assert len(ImageFolderDataset(out, "ood")) == 6


@pytest.mark.debian
def test_missing_ood_images_stop_the_build_with_their_list(fake_imagenet, nltk_data, tmp_path):
    full = tmp_path / "full"
    shutil.copytree(fake_imagenet["full"], full)
    (full / OOD_WNIDS[1] / f"{OOD_WNIDS[1]}_101.JPEG").unlink()
    (full / OOD_WNIDS[1] / f"{OOD_WNIDS[1]}_102.JPEG").unlink()
    report = tmp_path / "missing.txt"
    with pytest.raises(ImageNetError, match=r"2 of 6 OOD images are missing .*imagenet.full.*missing.txt"):
        build_imagenet_dataset(tmp_path / "imagenet", {**fake_imagenet, "full": str(full)}, nltk_data, report)
    assert report.read_text().split() == [f"{OOD_WNIDS[1]}/{OOD_WNIDS[1]}_{i}.JPEG" for i in (101, 102)]
    assert not (tmp_path / "imagenet").exists(), "no partial dataset"
