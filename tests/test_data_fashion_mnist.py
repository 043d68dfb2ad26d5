"""Fashion-MNIST: IDX parsing, the label -> wnid map in WordNet, and a build from a tiny generated package."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
from PIL import Image

from data_fixtures import build_deb
from emcom.data.fashion_mnist import DATA_DIR, LABEL_WNIDS, build_fashion_mnist_dataset, parse_idx
from emcom.data.folder import ImageFolderDataset, read_classes


def idx(array: np.ndarray) -> bytes:
    """Encode a uint8 array in the IDX format (the reference for parse_idx)."""
    header = bytes([0, 0, 8, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    return header + array.astype(np.uint8).tobytes()


def test_parse_idx_round_trip_plain_and_gzip():
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    np.testing.assert_array_equal(parse_idx(idx(images)), images)
    np.testing.assert_array_equal(parse_idx(gzip.compress(idx(images))), images)
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    np.testing.assert_array_equal(parse_idx(idx(labels)), labels)


def test_parse_idx_rejects_bad_files():
    with pytest.raises(ValueError, match="train-labels: not an unsigned-byte IDX"):
        parse_idx(b"\x00\x00\x0d\x01\x00\x00\x00\x01abcd", "train-labels")
    with pytest.raises(ValueError, match=r"header says shape \(3, 2\) but holds 5 bytes"):
        parse_idx(idx(np.zeros((3, 2), np.uint8))[:-1], "x")


@pytest.mark.debian
def test_label_wnids_name_the_garments_in_wordnet(wordnet):
    expected = ["t-shirt", "trouser", "sweater", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"]
    assert len({wnid for _, wnid in LABEL_WNIDS}) == 10
    for (label, wnid), word in zip(LABEL_WNIDS, expected):
        lemmas = [lemma.lower() for lemma in wordnet.synset(wnid).lemma_names()]
        assert word in lemmas, (label, wnid, lemmas)
        assert wordnet.lexname(wnid) == "noun.artifact"


@pytest.fixture(scope="module")
def fake_package(tmp_path_factory):
    if __import__("shutil").which("dpkg-deb") is None:
        pytest.skip("needs dpkg-deb")
    rng = np.random.default_rng(1)
    files, arrays = {}, {}
    for prefix, n in (("train", 30), ("t10k", 12)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = np.arange(n, dtype=np.uint8) % 10
        arrays[prefix] = (images, labels)
        files[f"{DATA_DIR}{prefix}-images-idx3-ubyte.gz"] = gzip.compress(idx(images))
        files[f"{DATA_DIR}{prefix}-labels-idx1-ubyte.gz"] = gzip.compress(idx(labels))
    return build_deb(tmp_path_factory.mktemp("fm"), "dataset-fashion-mnist", files), arrays


def test_build_layout_counts_and_pixels(fake_package, tmp_path):
    deb, arrays = fake_package
    out = tmp_path / "fashion_mnist"
    manifest = build_fashion_mnist_dataset(out, {"image_size": 28}, deb.parent, processes=2, package_deb=deb)
    assert manifest["splits"] == {"train": {"classes": 10, "images": 30}, "val": {"classes": 10, "images": 12}}
    assert json.loads((out / "manifest.json").read_text())["source"]["version"] == "0.0-test"
    assert sorted(read_classes(out)["wnid"]) == sorted(w for _, w in LABEL_WNIDS)
    images, labels = arrays["train"]
    # image 13 has label 3 (dress); at 28 px it is stored unchanged
    stored = np.asarray(Image.open(out / "train" / LABEL_WNIDS[3][1] / "00013.png"))
    np.testing.assert_array_equal(stored, images[13])
    dataset = ImageFolderDataset(out, "val")
    assert len(dataset) == 12 and dataset[0][0].mode == "RGB"


def test_build_resizes(fake_package, tmp_path):
    deb, _ = fake_package
    build_fashion_mnist_dataset(tmp_path / "fm", {"image_size": 32}, deb.parent, processes=1, package_deb=deb)
    assert Image.open(tmp_path / "fm" / "val" / LABEL_WNIDS[0][1] / "00000.png").size == (32, 32)


def test_unknown_config_key_is_named(fake_package, tmp_path):
    deb, _ = fake_package
    with pytest.raises(ValueError, match="fashion_mnist.size"):
        build_fashion_mnist_dataset(tmp_path / "fm", {"size": 32}, deb.parent, package_deb=deb)
