"""SimCLR_kmeans (Table 2): k-means on SimCLR's h, its clusters analysed as if they were symbols.

SPEC.md: centroids fitted on a random 10% of the training split (k = 2048, also 1000), each test
image assigned to its nearest centroid. The fit share comes from the config
(``analysis.kmeans_fit_fraction``); when it holds fewer images than k the run stops with an error
naming that key: k is never changed silently.

Library: faiss (``faiss.Kmeans``: exact L2 Lloyd iterations over BLAS, 25 by default), chosen on
``benchmarks/analysis.py``'s measurement on this project's 2-core CPU (shared, load ~20), 128,000 x
2,048 float32 points, k = 2,048, two iterations each: faiss 85.6 s per iteration, scikit-learn's
``KMeans`` (Lloyd) 224.3 s, 2.6x slower; a full fit extrapolates to ~36 min for faiss (25 iterations)
against up to ~19 h for ``KMeans`` (its 300-iteration cap; its tolerance may stop it earlier). faiss
also assigns the test images (a flat L2 index search) without a second library. ``MiniBatchKMeans``
(its timing was not completed in that run) is not used: it approximates the k-means SPEC.md names.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Iterable, Optional

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset, Subset
from tqdm import tqdm

from emcom.config import ConfigError
from emcom.data.folder import ImageFolderDataset
from emcom.data.transforms import squash_transform
from emcom.evaluation.evaluate import build_test_set, read_model
from emcom.evaluation.items import write_items
from emcom.io import atomic_write_json
from emcom.models import SimCLR

log = logging.getLogger(__name__)

KMEANS_ITERATIONS = 25  # faiss's default; the paper does not say


@torch.no_grad()
def simclr_h(model: SimCLR, dataset: Dataset, batch_size: int = 256, num_workers: int = 0,
             device: str | torch.device = "cpu", progress: bool = False) -> np.ndarray:
    """h (N, F) float32 of every item of ``dataset`` (items: (image, label)), in order, in eval mode."""
    model = model.to(device).eval()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    features = [model.layers(images.to(device)).h.float().cpu()
                for images, _ in tqdm(loader, desc="SimCLR h", disable=not progress, mininterval=10)]
    return torch.cat(features).numpy()


def fit_subset(train_size: int, fraction: float, k: int, seed: int) -> np.ndarray:
    """Sorted indices of a seeded random ``fraction`` of ``train_size`` images; fewer than k raises."""
    if not 0 < fraction <= 1:
        raise ConfigError(f"analysis.kmeans_fit_fraction must be in (0, 1], got {fraction}")
    count = int(round(fraction * train_size))
    if count < k:
        raise ConfigError(
            f"analysis.kmeans_fit_fraction = {fraction} gives {count} of the {train_size} training images, fewer "
            f"than k = {k} centroids: set it to at least {k / train_size:.4f} (k is never lowered silently)")
    return np.sort(np.random.default_rng(seed).choice(train_size, count, replace=False))


def fit_kmeans(features: np.ndarray, k: int, seed: int = 0, iterations: int = KMEANS_ITERATIONS):
    """faiss k-means on features (n, F) -> (the fitted ``faiss.Kmeans``, inertia = sum of squared distances)."""
    import faiss  # imported here: only this stage needs it

    features = np.ascontiguousarray(features, dtype=np.float32)
    # max_points_per_centroid: faiss would otherwise subsample to 256 points per centroid.
    kmeans = faiss.Kmeans(features.shape[1], k, niter=iterations, seed=seed, verbose=False,
                          max_points_per_centroid=len(features))
    kmeans.train(features)
    distances, _ = kmeans.index.search(features, 1)
    return kmeans, float(distances.sum())


def assign(kmeans, features: np.ndarray) -> np.ndarray:
    """Nearest centroid (N,) int64 of each row of features (N, F)."""
    _, nearest = kmeans.index.search(np.ascontiguousarray(features, dtype=np.float32), 1)
    return nearest[:, 0].astype(np.int64)


def run_kmeans(model_path: str | Path, k: int, out_dir: str | Path, dataset_root: str | Path | None = None,
               fraction: float = 0.1, seed: int = 0, test_sets: Iterable[str] = ("val", "ood"),
               batch_size: int = 256, num_workers: int = 0, device: Optional[str] = None) -> dict:
    """Fit on a share of train, assign every image of each test set; write ``fit.json`` and
    ``<test_set>.items.tsv.gz`` (symbol = cluster, correct empty) in ``out_dir``; return the fit summary."""
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model, config = read_model(model_path, device)
    if not isinstance(model, SimCLR):
        raise ConfigError(f"{model_path}: k-means runs on a SimCLR model's h, this is a {config.model.kind} model")
    dataset_root = Path(dataset_root or config.data.root)
    transform = squash_transform(config.data.image_size)
    train = ImageFolderDataset(dataset_root, "train", transform)
    subset = fit_subset(len(train), fraction, k, seed)
    log.info("k-means k=%d: h of %d train images (%.3g of %d)", k, len(subset), fraction, len(train))
    features = simclr_h(model, Subset(train, subset.tolist()), batch_size, num_workers, device, progress=True)
    started = time.perf_counter()
    kmeans, inertia = fit_kmeans(features, k, seed)
    seconds = time.perf_counter() - started
    out_dir = Path(out_dir)
    for name in test_sets:
        tests = build_test_set(name, config.data.image_size, dataset_root)
        clusters = assign(kmeans, simclr_h(model, tests.dataset, batch_size, num_workers, device, progress=True))
        write_items(pd.DataFrame({
            "item": range(len(clusters)), "index": range(len(clusters)), "source": tests.sources,
            "wnid": tests.wnids, "label": tests.labels, "symbol": clusters, "correct": "",
        }), out_dir / f"{name}.items.tsv.gz")
        log.info("k-means k=%d on %s: %d items, %d clusters used", k, name, len(clusters), len(set(clusters.tolist())))
    import faiss

    summary = {
        "k": k, "fit_images": int(len(subset)), "train_images": len(train), "fraction": fraction, "seed": seed,
        "library": f"faiss {faiss.__version__}", "iterations": KMEANS_ITERATIONS, "inertia": inertia,
        "seconds": round(seconds, 3), "feature_dim": int(features.shape[1]), "model": str(model_path),
        "dataset": dataset_root.name, "test_sets": list(test_sets),
    }
    atomic_write_json(out_dir / "fit.json", summary)
    return summary
