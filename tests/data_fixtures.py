"""Fixtures and helpers of the data tests (imported by tests/test_wordnet.py and tests/test_data_*.py).

Debian packages are downloaded once into a shared cache: ``$EMCOM_DEB_CACHE`` or
``<repo>/resources/debs`` (the workflow's own cache). Tests that need them are marked
``@pytest.mark.debian``; everything else runs on generated images and tiny generated ``.deb`` files.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from emcom.data.debian import fetch_deb
from emcom.data.wordnet_corpus import WORDNET_PACKAGES, build_wordnet_corpus
from emcom.wordnet import WordNet

REPO = Path(__file__).resolve().parent.parent
DOG, CAT, TRUCK, POODLE = "n02084071", "n02121808", "n04490091", "n02113335"

# Synsets of the tiny stamp package: four domains, an is-a pair (dog/poodle), and one class alone
# in its domain (einstein, noun.person), which must never be drawn as OOD.
FAKE_STAMP_SYNSETS = (
    "dog.n.01", "poodle.n.01", "domestic_cat.n.01", "lion.n.01", "horse.n.01", "cow.n.01",
    "apple.n.01", "banana.n.02", "strawberry.n.01", "truck.n.01", "car.n.01", "bicycle.n.01",
    "hammer.n.02", "guitar.n.01", "rose.n.01", "tulip.n.01", "einstein.n.01",
)


def deb_cache_dir() -> Path:
    return Path(os.environ.get("EMCOM_DEB_CACHE", REPO / "resources" / "debs"))


@pytest.fixture(scope="session")
def deb_cache() -> Path:
    if shutil.which("dpkg-deb") is None:
        pytest.skip("needs dpkg-deb (a Debian system)")
    return deb_cache_dir()


# Test modules import these fixtures, which gives each module its own copy of a "session"
# fixture; the expensive values are therefore cached here, once per test process.
_CACHE: dict[str, object] = {}


@pytest.fixture(scope="session")
def nltk_data(deb_cache, tmp_path_factory) -> Path:
    """An nltk_data folder whose WordNet corpus is built by emcom from the Debian packages."""
    if "nltk_data" not in _CACHE:
        for package in WORDNET_PACKAGES:
            fetch_deb(package, deb_cache)
        root = tmp_path_factory.mktemp("nltk_data")
        build_wordnet_corpus(root / "corpora" / "wordnet", deb_cache)
        _CACHE["nltk_data"] = root
    return _CACHE["nltk_data"]


@pytest.fixture(scope="session")
def wordnet(nltk_data) -> WordNet:
    return WordNet(nltk_data)  # the NLTK reader is cached per folder by emcom.wordnet


# --- generated images and packages -----------------------------------------------------------
def rgba_stamp(seed: int, size: tuple[int, int] = (120, 90)) -> bytes:
    """A PNG cut-out: a coloured ellipse on a transparent canvas with a transparent margin."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    colour = tuple(int(c) for c in rng.integers(0, 256, 3)) + (255,)
    ImageDraw.Draw(image).ellipse([10, 8, size[0] - 12, size[1] - 6], fill=colour)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_bytes(seed: int = 0, size: int = 16) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG")
    return buffer.getvalue()


def build_deb(work: Path, package: str, files: dict[str, bytes]) -> Path:
    """A real, tiny ``.deb`` holding ``files`` (paths like ``usr/share/...``), built with dpkg-deb."""
    root = work / f"{package}-root"
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    (root / "DEBIAN").mkdir(parents=True, exist_ok=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {package}\nVersion: 0.0-test\nArchitecture: all\nMaintainer: tests <t@example.org>\n"
        "Description: generated for emcom's tests\n"
    )
    deb = work / f"{package}.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(root), str(deb)],
                   check=True, capture_output=True)
    return deb


@pytest.fixture(scope="session")
def fake_stamps(wordnet, tmp_path_factory) -> tuple[Path, Path]:
    """(table, deb): 2 stamps per synset of FAKE_STAMP_SYNSETS in a tiny tuxpaint-stamps-default."""
    from emcom.data.stamps import STAMP_DIR

    if "fake_stamps" in _CACHE:
        return _CACHE["fake_stamps"]
    work = tmp_path_factory.mktemp("fake_stamps")
    rows, files = ["path\tsynset\twnid\tlabel"], {}
    for k, name in enumerate(FAKE_STAMP_SYNSETS):
        synset = wordnet.reader.synset(name)
        for copy in range(2):
            path = f"things/{name.split('.')[0]}_{copy}.png"
            files[STAMP_DIR + path] = rgba_stamp(seed=10 * k + copy, size=(100 + 7 * k, 80 + 5 * copy))
            rows.append(f"{path}\t{name}\t{wordnet.wnid(synset)}\t{name.split('.')[0]}")
    files["usr/share/doc/tuxpaint-stamps-default/copyright"] = b"generated\n"
    table = work / "stamps.tsv"
    table.write_text("\n".join(rows) + "\n")
    _CACHE["fake_stamps"] = table, build_deb(work, "tuxpaint-stamps-default", files)
    return _CACHE["fake_stamps"]
