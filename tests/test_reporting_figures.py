"""Figures 3, 4 and A.7 from synthetic per-item files over a tiny image folder."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from emcom.reporting.figures import (
    display_image,
    sample_items,
    symbol_frequencies,
    top_symbols,
    write_figure3,
    write_figure4,
    write_symbol_frequency,
)
from emcom.reporting.inputs import ReportInputError

WNIDS = {"n02084071": "dog", "n02121808": "domestic cat, house cat", "n04490091": "truck"}


def dataset(root, split, per_class=4):
    """root/<split>/<wnid>/<i>.png (8 px, one colour per class) and classes.tsv; returns the item rows."""
    rows = []
    for label, wnid in enumerate(WNIDS):
        (root / split / wnid).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.new("RGB", (8, 8), (80 * label, 10 * i, 0)).save(root / split / wnid / f"{i}.png")
            rows.append({"source": f"{split}/{wnid}/{i}.png", "wnid": wnid, "label": label})
    (root / "classes.tsv").write_text("wnid\tname\tsource\n" + "".join(f"{w}\t{n}\tx\n" for w, n in WNIDS.items()))
    return rows


def items_file(path, rows, symbols):
    table = pd.DataFrame(rows)
    table.insert(0, "item", range(len(table)))
    table["index"] = table["item"]
    table["symbol"] = symbols
    table["correct"] = 1
    table.to_csv(path, sep="\t", index=False, compression="gzip")
    return path


def test_top_symbols_by_count_then_id():
    symbols = pd.Series([5, 5, 5, 2, 2, 9, 9, 1])
    assert top_symbols(symbols, 3) == [5, 2, 9]  # 2 and 9 tie: smaller id first
    assert top_symbols(symbols, 10) == [5, 2, 9, 1]


def test_sample_is_seeded_random_and_within_the_symbol():
    items = pd.DataFrame({"symbol": [0] * 50 + [1] * 3, "source": [f"{i}.png" for i in range(53)]})
    first = sample_items(items, [0, 1], per_symbol=5, seed=0)
    assert (first[0]["symbol"] == 0).all() and len(first[0]) == 5 and len(first[1]) == 3  # all 3, no repeats
    assert first[0]["source"].is_unique
    assert sample_items(items, [0, 1], 5, seed=0)[0].equals(first[0])  # reproducible
    draws = {tuple(sample_items(items, [0], 5, seed=s)[0]["source"]) for s in range(5)}
    assert len(draws) > 1  # not a fixed (hand-picked) set: the seed changes it


def test_frequencies_sorted_and_normalised():
    frequency = symbol_frequencies(pd.Series([3, 3, 3, 1, 7, 7]))
    np.testing.assert_allclose(frequency, [0.5, 1 / 3, 1 / 6])


def test_small_images_are_enlarged_without_smoothing(tmp_path):
    Image.fromarray(np.array([[[0, 0, 0], [255, 255, 255]]], dtype=np.uint8)).save(tmp_path / "a.png")  # 2×1 px
    image = display_image(tmp_path / "a.png", 8, "nearest")
    assert image.shape == (8, 8, 3) and set(np.unique(image)) == {0, 255}
    with pytest.raises(ReportInputError, match="resample"):
        display_image(tmp_path / "a.png", 8, "lanczos9")


def test_figures_are_written_as_png_and_pdf(tmp_path):
    val = dataset(tmp_path, "val")
    ood = dataset(tmp_path, "ood", per_class=2)
    val_items = items_file(tmp_path / "val.items.tsv.gz", val, [7] * 6 + [3] * 4 + [1] * 2)
    ood_items = items_file(tmp_path / "ood.items.tsv.gz", ood, [7, 7, 9, 9, 3, 5])
    shown = write_figure3(val_items, tmp_path, "game_aug_noshared", tmp_path / "f3.png", tmp_path / "f3.pdf",
                          n_symbols=2, per_symbol=3, seed=1, size=32)
    assert shown == [7, 3]
    assert write_figure4(val_items, ood_items, tmp_path, "game_aug_noshared", tmp_path / "f4.png",
                         tmp_path / "f4.pdf", n_symbols=3, per_symbol=2, size=32, resample="bicubic") == [7, 3, 1]
    for name in ("f3", "f4"):
        assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
        assert (tmp_path / f"{name}.pdf").read_bytes()[:4] == b"%PDF"
    curves = write_symbol_frequency({"game_aug_noshared/val": (val_items, "symbol"),
                                     "game_aug_noshared/ood": (ood_items, "symbol")},
                                    tmp_path / "a7.png", tmp_path / "a7.pdf", tmp_path / "a7.csv")
    val_curve = curves[curves["test_set"] == "val"]
    np.testing.assert_allclose(val_curve["frequency"], [0.5, 4 / 12, 2 / 12])
    assert pd.read_csv(tmp_path / "a7.csv")["rank"].tolist() == [1, 2, 3, 1, 2, 3, 4]
    assert (tmp_path / "a7.png").stat().st_size > 5000


def test_missing_symbol_column_names_the_file(tmp_path):
    path = tmp_path / "val.items.tsv.gz"
    pd.DataFrame({"source": ["a"], "wnid": ["n02084071"], "label": [0]}).to_csv(path, sep="\t", index=False)
    with pytest.raises(ReportInputError, match=r"val\.items\.tsv\.gz.*symbol"):
        write_figure3(path, tmp_path, "m", tmp_path / "x.png", tmp_path / "x.pdf")
