"""Figures 3, 4 and A.7: which images get a model's most frequent symbols, and how symbols are used.

Figure 3: for the ``n`` most frequent symbols a Sender emits on val, a seeded random sample of the
val images that got each (never hand-picked), enlarged so 32-px images can be seen, with class
names. Figure 4: OOD images that got the 3 most frequent *val* symbols. Figure A.7: symbol
frequency against rank (log-log), one line per model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from PIL import Image  # noqa: E402

from emcom.data.folder import load_rgb, read_classes  # noqa: E402
from emcom.io import atomic_path  # noqa: E402
from emcom.reporting.inputs import ReportInputError, display_name, read_items, row_sort_key  # noqa: E402
from emcom.reporting.tables import TEST_SET_NAMES  # noqa: E402

RESAMPLE = {"nearest": Image.Resampling.NEAREST, "bicubic": Image.Resampling.BICUBIC}


def top_symbols(symbols: pd.Series, n: int) -> list[int]:
    """The ``n`` most frequent symbols, most frequent first; ties go to the smaller symbol id."""
    counts = symbols.value_counts()
    order = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [int(symbol) for symbol, _ in order[:n]]


def sample_items(items: pd.DataFrame, symbols: Sequence[int], per_symbol: int, seed: int) -> dict[int, pd.DataFrame]:
    """For each symbol, up to ``per_symbol`` of its items drawn uniformly at random (seeded, no
    replacement, one generator for all symbols so the draw depends on nothing but the seed)."""
    rng = np.random.default_rng(seed)
    samples = {}
    for symbol in symbols:
        rows = items[items["symbol"] == symbol]
        take = rng.choice(len(rows), size=min(per_symbol, len(rows)), replace=False)
        samples[int(symbol)] = rows.iloc[np.sort(take)]
    return samples


def symbol_frequencies(symbols: pd.Series) -> np.ndarray:
    """Relative frequency of each used symbol, sorted decreasing: shape (|P|,), sums to 1."""
    counts = np.sort(symbols.value_counts().to_numpy())[::-1]
    return counts / counts.sum()


def display_image(path: Path, size: int, resample: str) -> np.ndarray:
    """The image at ``size`` × ``size`` px: shape (size, size, 3), uint8."""
    if resample not in RESAMPLE:
        raise ReportInputError(f"figure resample must be one of {sorted(RESAMPLE)}, got {resample!r}")
    return np.asarray(load_rgb(path).resize((size, size), RESAMPLE[resample]))


def _short(name: str, width: int = 16) -> str:
    name = name.split(",")[0].strip()
    return name if len(name) <= width else name[: width - 1] + "…"


def symbol_grid(samples: Mapping[int, pd.DataFrame], counts: Mapping[int, int], dataset_root: str | Path,
                per_symbol: int, size: int, resample: str, title: str, empty_note: str) -> plt.Figure:
    """One row per symbol: its label and count, then its sampled images with their class names."""
    root = Path(dataset_root)
    names = dict(zip(*read_classes(root)[["wnid", "name"]].to_numpy().T))
    rows = len(samples)
    figure, axes = plt.subplots(rows, per_symbol, figsize=(1.35 * per_symbol + 0.9, 1.5 * rows + 0.6),
                                squeeze=False)
    for row, (symbol, sample) in enumerate(samples.items()):
        for col in range(per_symbol):
            axis = axes[row, col]
            axis.set_xticks([])
            axis.set_yticks([])
            for spine in axis.spines.values():
                spine.set_visible(False)
            if col < len(sample):
                item = sample.iloc[col]
                axis.imshow(display_image(root / item["source"], size, resample), interpolation="nearest")
                axis.set_title(_short(names.get(item["wnid"], item["wnid"])), fontsize=7, pad=2)
            elif col == 0:
                axis.text(0.0, 0.5, empty_note, fontsize=7, transform=axis.transAxes, va="center")
        axes[row, 0].set_ylabel(f"symbol {symbol}\n(n={counts.get(symbol, 0)})", fontsize=8, rotation=0,
                                ha="right", va="center", labelpad=6)
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    return figure


def _save(figure: plt.Figure, png_path: str | Path, pdf_path: str | Path) -> None:
    for path, fmt in ((png_path, "png"), (pdf_path, "pdf")):
        with atomic_path(path) as tmp:
            figure.savefig(tmp, dpi=150, format=fmt)
    plt.close(figure)


def write_figure3(items_path: str | Path, dataset_root: str | Path, model: str, png_path: str | Path,
                  pdf_path: str | Path, n_symbols: int = 9, per_symbol: int = 6, seed: int = 0,
                  size: int = 96, resample: str = "nearest") -> list[int]:
    """Figure 3 from the model's val per-item file; returns the symbols shown."""
    items = read_items(items_path)
    symbols = top_symbols(items["symbol"], n_symbols)
    counts = items["symbol"].value_counts().to_dict()
    figure = symbol_grid(
        sample_items(items, symbols, per_symbol, seed), counts, dataset_root, per_symbol, size, resample,
        f"{display_name(model)} ({model}): random val images (seed {seed}) of its {len(symbols)} most "
        f"frequent val symbols", "no image")
    _save(figure, png_path, pdf_path)
    return symbols


def write_figure4(val_items_path: str | Path, ood_items_path: str | Path, dataset_root: str | Path, model: str,
                  png_path: str | Path, pdf_path: str | Path, n_symbols: int = 3, per_symbol: int = 6,
                  seed: int = 0, size: int = 96, resample: str = "nearest") -> list[int]:
    """Figure 4: OOD images that got the model's ``n_symbols`` most frequent val symbols."""
    symbols = top_symbols(read_items(val_items_path)["symbol"], n_symbols)
    ood = read_items(ood_items_path)
    counts = ood["symbol"].value_counts().to_dict()
    figure = symbol_grid(
        sample_items(ood, symbols, per_symbol, seed), counts, dataset_root, per_symbol, size, resample,
        f"{display_name(model)} ({model}): random OOD images (seed {seed}) that got its {len(symbols)} most "
        f"frequent val symbols (n = OOD count)", "no OOD image got this symbol")
    _save(figure, png_path, pdf_path)
    return symbols


def write_symbol_frequency(items: Mapping[str, tuple[str | Path, str]], png_path: str | Path,
                           pdf_path: str | Path, csv_path: str | Path,
                           test_sets: Sequence[str] = ("val", "ood")) -> pd.DataFrame:
    """Figure A.7: symbol frequency against rank, log-log, one line per model, one panel per test set.

    ``items``: ``"<model>/<test_set>"`` -> (per-item file, symbol column: ``symbol``, or
    ``symbol_h`` for SimCLR_disc's h argmax). Also writes the curves as CSV (model, test_set,
    rank, frequency).
    """
    rows = []
    for key, (path, column) in items.items():
        model, test_set = key.rsplit("/", 1)
        frequency = symbol_frequencies(read_items(path, columns=(column,))[column])
        rows.append(pd.DataFrame({"model": model, "test_set": test_set,
                                  "rank": np.arange(1, len(frequency) + 1), "frequency": frequency}))
    table = pd.concat(rows, ignore_index=True)
    figure, axes = plt.subplots(1, len(test_sets), figsize=(5 * len(test_sets), 4), squeeze=False,
                                constrained_layout=True)
    # one colour per model in every panel, models in the tables' row order
    models = sorted(table["model"].unique(), key=row_sort_key)
    colours = dict(zip(models, plt.rcParams["axes.prop_cycle"].by_key()["color"] * (1 + len(models) // 10)))
    for axis, test_set in zip(axes[0], test_sets):
        for model in models:
            curve = table[(table["test_set"] == test_set) & (table["model"] == model)]
            if len(curve):
                axis.plot(curve["rank"], curve["frequency"], color=colours[model],
                          label=f"{display_name(model)} (|P|={len(curve)})")
        axis.set(xscale="log", yscale="log", xlabel="symbol rank", ylabel="relative frequency",
                 title=f"Symbol frequency against rank: {TEST_SET_NAMES.get(test_set, test_set)}")
        axis.legend(fontsize="small")
    with atomic_path(csv_path) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    _save(figure, png_path, pdf_path)
    return table
