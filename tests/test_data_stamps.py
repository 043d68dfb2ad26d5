"""The stamps dataset: layout and counts, OOD split, determinism, bad tables (a tiny generated package)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from data_fixtures import REPO
from emcom.data.compositing import background_pool
from emcom.data.debian import iter_deb_files
from emcom.data.folder import ImageFolderDataset, read_classes
from emcom.data.splits import choose_ood_classes, related_groups
from emcom.data.stamps import (
    STAMP_DIR,
    StampsConfig,
    StampTableError,
    build_stamps_dataset,
    composite_rng,
    read_stamp_table,
)

pytestmark = pytest.mark.debian

SMALL = {"image_size": 24, "train_per_stamp": 3, "val_per_stamp": 2, "ood_per_stamp": 4, "ood_fraction": 0.25, "seed": 5}


def build(out: Path, fake_stamps, nltk_data, processes: int = 2, **overrides) -> dict:
    table, deb = fake_stamps
    config = {**SMALL, "table": str(table), **overrides}
    return build_stamps_dataset(out, config, deb.parent, nltk_data, processes=processes, package_deb=deb)


@pytest.fixture(scope="module")
def built(fake_stamps, nltk_data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("stamps") / "stamps"
    build(out, fake_stamps, nltk_data)
    return out


def test_layout_and_counts(built, fake_stamps):
    table = pd.read_csv(fake_stamps[0], sep="\t")
    manifest = json.loads((built / "manifest.json").read_text())
    splits = manifest["splits"]
    ood = set(manifest["ood_wnids"])
    n_classes = table["wnid"].nunique()
    assert len(ood) == round(0.25 * n_classes)  # the target is reachable in this table
    stamps_in = lambda wnids: int(table["wnid"].isin(wnids).sum())  # noqa: E731
    train_wnids = set(table["wnid"]) - ood
    assert splits["train"] == {"classes": len(train_wnids), "images": 3 * stamps_in(train_wnids)}
    assert splits["val"] == {"classes": len(train_wnids), "images": 2 * stamps_in(train_wnids)}
    assert splits["ood"] == {"classes": len(ood), "images": 4 * stamps_in(ood)}
    assert manifest["config"]["image_size"] == 24
    for split in ("train", "val", "ood"):
        dataset = ImageFolderDataset(built, split)
        assert len(dataset) == splits[split]["images"]
        image, _ = dataset[0]
        assert image.size == (24, 24) and image.mode == "RGB"
    classes = read_classes(built)
    assert sorted(classes["wnid"]) == sorted(table["wnid"].unique())
    dog = classes.set_index("wnid").loc["n02084071"]
    assert dog["name"] == "dog"
    assert dog["source"] == "tuxpaint-stamps-default:things/dog_0.png;tuxpaint-stamps-default:things/dog_1.png"
    assert not list(built.parent.glob(".stamps.*")), "staging folders must be gone"


def test_ood_classes_are_unrelated_to_training_classes_and_in_their_domains(built, wordnet):
    manifest = json.loads((built / "manifest.json").read_text())
    train = sorted(p.name for p in (built / "train").iterdir())
    ood = sorted(p.name for p in (built / "ood").iterdir())
    assert ood == manifest["ood_wnids"]
    assert sorted(p.name for p in (built / "val").iterdir()) == train
    assert not set(train) & set(ood)
    for o in ood:
        ancestors = wordnet.ancestors(o)
        for t in train:
            assert t not in ancestors and o not in wordnet.ancestors(t), (o, t)
    assert {wordnet.lexname(o) for o in ood} <= {wordnet.lexname(t) for t in train}


def test_ood_draw_keeps_related_classes_together_and_lone_domains_in_training(fake_stamps, wordnet):
    wnids = sorted(set(pd.read_csv(fake_stamps[0], sep="\t")["wnid"]))
    dog, poodle, einstein = "n02084071", "n02113335", "n10954498"
    assert [dog, poodle] in related_groups(wnids, wordnet)
    for seed in range(30):
        ood = choose_ood_classes(wnids, wordnet, 0.3, seed)
        assert len(ood) <= round(0.3 * len(wnids))
        assert (dog in ood) == (poodle in ood)
        assert einstein not in ood  # noun.person has no other class: no training domain for it
    assert choose_ood_classes(wnids, wordnet, 0.3, 1) == choose_ood_classes(wnids, wordnet, 0.3, 1)
    assert len({tuple(choose_ood_classes(wnids, wordnet, 0.3, s)) for s in range(10)}) > 1


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_same_seed_same_bytes_whatever_the_number_of_processes(built, fake_stamps, nltk_data, tmp_path):
    build(tmp_path / "again", fake_stamps, nltk_data, processes=1)
    assert _digest(tmp_path / "again") == _digest(built)


def test_background_pool_shares_backgrounds_across_classes_and_splits(fake_stamps, nltk_data, tmp_path):
    """With background_pool: 2 every image of every split sits on one of two backgrounds (seen at a
    corner the stamp rarely covers); without, nearly every image has its own."""
    def corners(root: Path) -> list[bytes]:
        return [np.asarray(Image.open(path).convert("RGB"))[:3, :3].tobytes() for path in sorted(root.rglob("*.png"))]

    build(tmp_path / "pooled", fake_stamps, nltk_data, background_pool=2)
    pooled = corners(tmp_path / "pooled")
    pool = {entry[:3, :3].tobytes() for entry in background_pool(SMALL["seed"], 2, SMALL["image_size"])}
    on_pool = [corner in pool for corner in pooled]
    assert len(pooled) > 20 and sum(on_pool) > 0.7 * len(pooled)  # the rest: a stamp over the corner
    assert all(sum(corner == c for corner in pooled) > len(pooled) / 5 for c in pool)
    build(tmp_path / "own", fake_stamps, nltk_data)
    own = corners(tmp_path / "own")
    assert len(set(own)) > 0.8 * len(own)


def test_composite_generator_depends_on_seed_split_and_index():
    a, b = composite_rng(5, "train", "x.png", 0), composite_rng(6, "train", "x.png", 0)
    assert a.random() != b.random()
    assert composite_rng(5, "train", "x.png", 1).random() != composite_rng(5, "val", "x.png", 1).random()
    assert composite_rng(5, "train", "x.png", 1).random() != composite_rng(5, "train", "x.png", 2).random()
    assert composite_rng(5, "train", "x.png", 1).random() == composite_rng(5, "train", "x.png", 1).random()


def test_rebuild_replaces_the_old_dataset(fake_stamps, nltk_data, tmp_path):
    out = tmp_path / "stamps"
    build(out, fake_stamps, nltk_data, train_per_stamp=1)
    (out / "stale.txt").write_text("from an older build")
    manifest = build(out, fake_stamps, nltk_data, train_per_stamp=2)
    assert not (out / "stale.txt").exists()
    # train_per_stamp 2 == val_per_stamp 2: the new config was used
    assert manifest["splits"]["train"]["images"] == manifest["splits"]["val"]["images"]


# --- bad tables ---------------------------------------------------------------------------------
def _table(tmp_path: Path, rows: list[str], header: str = "path\tsynset\twnid\tlabel") -> Path:
    path = tmp_path / "stamps.tsv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_unknown_wnid_in_the_table_names_file_line_and_wnid(wordnet, tmp_path):
    path = _table(tmp_path, ["a/dog.png\tdog.n.01\tn02084071\tdog", "a/x.png\t\tn99999999\tx"])
    with pytest.raises(StampTableError, match=r"stamps.tsv:3: .*n99999999"):
        read_stamp_table(path, wordnet)


def test_synset_not_matching_wnid_is_named(wordnet, tmp_path):
    path = _table(tmp_path, ["a/dog.png\tcat.n.01\tn02084071\tdog"])
    with pytest.raises(StampTableError, match=r"stamps.tsv:2: synset 'cat.n.01' does not match wnid n02084071"):
        read_stamp_table(path, wordnet)


def test_missing_column_is_named(wordnet, tmp_path):
    path = _table(tmp_path, ["a/dog.png\tn02084071"], header="path\twnid")
    with pytest.raises(StampTableError, match=r"missing column\(s\) \['synset', 'label'\]"):
        read_stamp_table(path, wordnet)


def test_missing_table_names_the_config_key(wordnet, tmp_path):
    with pytest.raises(StampTableError, match="stamps.table"):
        read_stamp_table(tmp_path / "nope.tsv", wordnet)


def test_stamp_absent_from_the_package_is_named_and_nothing_is_left(fake_stamps, nltk_data, tmp_path):
    table = pd.read_csv(fake_stamps[0], sep="\t")
    table.loc[0, "path"] = "things/not_in_package.png"
    bad = tmp_path / "bad.tsv"
    table.to_csv(bad, sep="\t", index=False)
    with pytest.raises(StampTableError, match="things/not_in_package.png"):
        build(tmp_path / "stamps", fake_stamps, nltk_data, table=str(bad))
    assert not (tmp_path / "stamps").exists() and not list(tmp_path.glob(".stamps.*"))


def test_unknown_config_key_is_named():
    with pytest.raises(ValueError, match="stamps.image_sise"):
        StampsConfig.from_mapping({"image_sise": 32})
    with pytest.raises(ValueError, match="stamps.background_pool"):
        StampsConfig.from_mapping({"background_pool": -1})


def test_curated_table_matches_the_real_package(wordnet, deb_cache):
    """Every row of data/stamps.tsv is a known wnid and a PNG of tuxpaint-stamps-default."""
    table_path = REPO / "data" / "stamps.tsv"
    if not table_path.is_file():
        pytest.skip("data/stamps.tsv not present")
    from emcom.data.debian import fetch_deb

    table = read_stamp_table(table_path, wordnet)
    names: set[str] = set()

    def record(name: str) -> bool:  # list the archive without reading any content
        names.add(name)
        return False

    list(iter_deb_files(fetch_deb("tuxpaint-stamps-default", deb_cache), record))
    assert sorted(p for p in table["path"] if STAMP_DIR + p not in names) == []
