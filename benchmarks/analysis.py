"""Speed of the protocol analysis (Table 2) and of SimCLR_kmeans' fit, at ImageNet scale, on this machine.

1. Analysis: N items x S symbols x K classes, P permutations of nMI and WNSim (issue 8's target:
   50,000 x 2,048 x 1,000, 1,000 permutations of each, under 30 s on 2 cores). One numba kernel
   computes both scores per permutation (emcom.analysis.scores). Baselines measured in the same
   run on a few permutations and extrapolated: scikit-learn's ``normalized_mutual_info_score`` per
   shuffle (nMI) and the dense contingency quadratic form sum_s c_s^T M c_s in NumPy (WNSim).
   The class similarity is WordNet's for K random leaf noun synsets when ``--nltk-data`` holds the
   corpus (its one-off computation is timed too), else a synthetic 1 / (1 + d) matrix.
2. k-means: ``--kmeans-points`` x 2,048 float32 features, k = 2,048: faiss, scikit-learn KMeans
   (Lloyd) and MiniBatchKMeans, each timed over ``--iterations`` iterations (epochs for
   MiniBatchKMeans) and extrapolated linearly to a full fit (faiss: 25 iterations; KMeans: its
   300-iteration cap, usually stopped earlier by its tolerance; MiniBatchKMeans: 100 epochs cap).

    .venv/bin/python benchmarks/analysis.py                       # both parts
    .venv/bin/python benchmarks/analysis.py --skip-kmeans --permutations 200
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd


def synthetic_similarity(classes: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    d = rng.integers(2, 20, (classes, classes))
    d = np.minimum(d, d.T)
    np.fill_diagonal(d, 0)
    return 1.0 / (1.0 + d)


def wordnet_similarity(nltk_data: str, classes: int, seed: int = 0) -> tuple[np.ndarray, float]:
    """Similarity of ``classes`` random leaf noun synsets (ImageNet's classes are mostly leaves)."""
    from emcom.wordnet import WordNet

    wordnet = WordNet(nltk_data)
    leaves = sorted(s.name() for s in wordnet.reader.all_synsets("n") if not s.hyponyms())
    picked = np.random.default_rng(seed).choice(len(leaves), classes, replace=False)
    wnids = [wordnet.wnid(wordnet.reader.synset(leaves[i])) for i in sorted(picked)]
    started = time.perf_counter()
    matrix = wordnet.similarity_matrix(wnids)
    return matrix, time.perf_counter() - started


def protocols(n: int, symbols: int, classes: int, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    zipf = rng.zipf(1.3, n) % symbols
    informative = np.where(rng.random(n) < 0.5, labels % symbols, rng.integers(0, symbols, n))
    return {
        f"uniform random, {symbols} symbols": (rng.integers(0, symbols, n), labels),
        f"Zipf(1.3) over {symbols} symbols": (zipf, labels),
        "half copies the label": (informative, labels),
        "10 symbols (worst case: big groups)": (rng.integers(0, 10, n), labels),
    }


def bench_analysis(args) -> pd.DataFrame:
    from sklearn.metrics import normalized_mutual_info_score

    from emcom.analysis import ProtocolScores, group_by_symbol

    if args.nltk_data and (Path(args.nltk_data) / "corpora" / "wordnet" / "data.noun").is_file():
        similarity, seconds = wordnet_similarity(args.nltk_data, args.classes)
        print(f"class similarity: WordNet, {args.classes} random leaf nouns, computed once in {seconds:.1f} s "
              f"({len(np.unique(similarity))} distinct values)")
    else:
        similarity = synthetic_similarity(args.classes)
        print("class similarity: synthetic 1 / (1 + d) (no WordNet corpus at --nltk-data)")
    # compile the kernels once, outside the timings (numba caches them on disk after the first run)
    warm = ProtocolScores(group_by_symbol(np.arange(10) % 3, np.arange(10) % 2, 2), np.eye(2))
    warm.null(2, 0)

    rows = []
    for name, (symbols, labels) in protocols(args.items, args.symbols, args.classes).items():
        started = time.perf_counter()
        scores = ProtocolScores(group_by_symbol(symbols, labels, args.classes), similarity)
        observed = time.perf_counter() - started
        started = time.perf_counter()
        nmi_null, wnsim_null = scores.null(args.permutations, seed=0)
        permuted = time.perf_counter() - started

        # baselines on a few shuffles, extrapolated to the same number of permutations
        rng = np.random.default_rng(0)
        shuffles = [rng.permutation(labels) for _ in range(args.baseline_permutations)]
        started = time.perf_counter()
        for shuffled in shuffles:
            normalized_mutual_info_score(shuffled, symbols, average_method="arithmetic")
        sklearn_nmi = (time.perf_counter() - started) / len(shuffles) * args.permutations
        _, symbol_index = np.unique(symbols, return_inverse=True)
        used = symbol_index.max() + 1
        started = time.perf_counter()
        for shuffled in shuffles:
            counts = np.bincount(symbol_index * args.classes + shuffled, minlength=used * args.classes)
            counts = counts.reshape(used, args.classes).astype(np.float64)
            np.einsum("sk,sk->", counts @ similarity, counts)
        dense_wnsim = (time.perf_counter() - started) / len(shuffles) * args.permutations
        rows.append({
            "protocol": name, "|P|": scores.protocol.symbols_used, "nMI": round(scores.nmi, 4),
            "nMI null": round(float(nmi_null.mean()), 4), "WNSim": round(scores.wnsim, 4),
            "WNSim null": round(float(wnsim_null.mean()), 4), "observed s": round(observed, 2),
            f"{args.permutations} perms s": round(permuted, 2), "total s": round(observed + permuted, 2),
            "sklearn nMI s (extrap.)": round(sklearn_nmi, 1), "dense WNSim s (extrap.)": round(dense_wnsim, 1),
            "speed-up": round((sklearn_nmi + dense_wnsim) / (observed + permuted), 1),
        })
        print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def bench_kmeans(args) -> pd.DataFrame:
    import faiss
    from sklearn.cluster import KMeans, MiniBatchKMeans

    rng = np.random.default_rng(0)
    centres = rng.standard_normal((args.k, args.dim), dtype=np.float32) * 2
    features = centres[rng.integers(0, args.k, args.kmeans_points)] + rng.standard_normal(
        (args.kmeans_points, args.dim), dtype=np.float32)
    it = args.iterations
    rows = []

    def record(library, seconds, full_iterations, unit="iteration"):
        rows.append({"library": library, f"{it} {unit}s s (measured)": round(seconds, 1),
                     f"s per {unit}": round(seconds / it, 2), f"full fit ({full_iterations} {unit}s) s, extrapolated":
                     round(seconds / it * full_iterations, 0)})
        print(rows[-1], flush=True)

    started = time.perf_counter()
    faiss.Kmeans(args.dim, args.k, niter=it, seed=1, max_points_per_centroid=args.kmeans_points).train(features)
    record(f"faiss {faiss.__version__} Kmeans", time.perf_counter() - started, 25)
    started = time.perf_counter()
    KMeans(args.k, init="random", n_init=1, max_iter=it, tol=0, random_state=0).fit(features)
    record("scikit-learn KMeans (lloyd)", time.perf_counter() - started, 300)
    started = time.perf_counter()
    MiniBatchKMeans(args.k, init="random", n_init=1, max_iter=it, batch_size=4096, random_state=0,
                    max_no_improvement=None).fit(features)
    record("scikit-learn MiniBatchKMeans (batch 4096)", time.perf_counter() - started, 100, unit="epoch")
    table = pd.DataFrame(rows)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--symbols", type=int, default=2048)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--permutations", type=int, default=1000)
    parser.add_argument("--baseline-permutations", type=int, default=5)
    parser.add_argument("--nltk-data", default="resources/nltk_data")
    parser.add_argument("--kmeans-points", type=int, default=128_000)
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--k", type=int, default=2048)
    parser.add_argument("--iterations", type=int, default=2)
    parser.add_argument("--skip-kmeans", action="store_true")
    parser.add_argument("--skip-analysis", action="store_true")
    args = parser.parse_args()
    import numba
    import torch

    print(f"{os.cpu_count()} CPUs, numba threads {numba.get_num_threads()}, torch threads {torch.get_num_threads()}, "
          f"load average {os.getloadavg()[0]:.1f}")
    if not args.skip_analysis:
        print(f"\nAnalysis: {args.items:,} items x {args.symbols:,} symbols x {args.classes:,} classes, "
              f"{args.permutations:,} permutations of nMI and WNSim")
        print(bench_analysis(args).to_markdown(index=False))
    if not args.skip_kmeans:
        print(f"\nk-means: {args.kmeans_points:,} x {args.dim:,} float32, k = {args.k:,}, timed over "
              f"{args.iterations} iterations and extrapolated")
        print(bench_kmeans(args).to_markdown(index=False))


if __name__ == "__main__":
    main()
