"""Table 2: a protocol's |P|, nMI and WNSim on one test set, each with its permutation test.

Reads a per-item file (the game evaluation's or k-means'), takes one column as the symbol and the
``wnid`` column as the class, and writes ``{R}/analysis/{protocol}/{test_set}.json``
(INTERFACES.md). The null of each score is its value under ``permutations`` shufflings of the
labels against the symbols; p = (1 + #{null >= observed}) / (1 + n), significant when p < alpha.
The null's mean and sd are written beside each score: on a small test set nMI by chance alone is
high, and a reader needs the excess over chance.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Optional

import numba
import numpy as np

from emcom.analysis.scores import ProtocolScores, group_by_symbol, permutation_p_value
from emcom.analysis.similarity import SimilarityError, read_class_similarity
from emcom.evaluation.items import ItemsFileError, read_items
from emcom.io import atomic_write_json

log = logging.getLogger(__name__)


def _finite(value: float) -> Optional[float]:
    return float(value) if np.isfinite(value) else None  # JSON has no NaN


def score_summary(observed: float, null: np.ndarray, alpha: float) -> dict[str, Any]:
    p_value = permutation_p_value(observed, null)
    finite = null[np.isfinite(null)]
    return {
        "value": _finite(observed),
        "null_mean": _finite(finite.mean()) if len(finite) else None,
        "null_sd": _finite(finite.std(ddof=1)) if len(finite) > 1 else None,
        "p_value": _finite(p_value),
        "significant": bool(np.isfinite(p_value) and p_value < alpha),
    }


def analyse_symbols(symbols: np.ndarray, wnids: np.ndarray, similarity_wnids: list[str], similarity: np.ndarray,
                    permutations: int = 1000, alpha: float = 0.01, seed: int = 0) -> dict[str, Any]:
    """Scores of symbols (N,) against the classes named by wnids (N,), with the similarity (K, K) of
    ``similarity_wnids``; wnids missing from it raise ValueError naming them."""
    position = {w: i for i, w in enumerate(similarity_wnids)}
    present = sorted(set(wnids.tolist()))
    unknown = [w for w in present if w not in position]
    if unknown:
        raise ValueError(f"{len(unknown)} wnid(s) not in the class similarity table: {unknown[:5]}")
    local = {w: i for i, w in enumerate(present)}  # only the classes present: a smaller matrix
    labels = np.array([local[w] for w in wnids.tolist()], dtype=np.int64)
    rows = np.array([position[w] for w in present])
    scores = ProtocolScores(group_by_symbol(symbols, labels, len(present)), similarity[np.ix_(rows, rows)])
    started = time.perf_counter()
    nmi_null, wnsim_null = scores.null(permutations, seed)
    log.info("%d permutations of %d items in %.1f s", permutations, len(labels), time.perf_counter() - started)
    return {
        "items": int(len(labels)),
        "classes": len(present),
        "symbols_used": scores.protocol.symbols_used,
        "same_symbol_pairs": int(scores.pairs),
        "permutations": permutations,
        "alpha": alpha,
        "seed": seed,
        "nmi": score_summary(scores.nmi, nmi_null, alpha),
        "wnsim": score_summary(scores.wnsim, wnsim_null, alpha),
    }


def analyse_protocol(items_path: str | Path, similarity_path: str | Path, out: str | Path,
                     symbol_column: str = "symbol", protocol: Optional[str] = None, test_set: Optional[str] = None,
                     permutations: int = 1000, alpha: float = 0.01, seed: int = 0,
                     threads: Optional[int] = None) -> dict[str, Any]:
    """Analyse one per-item file; write and return the JSON of INTERFACES.md ("Protocol analysis").

    ``protocol`` defaults to the file's folder name, ``test_set`` to its name before ``.items``;
    ``threads`` caps the permutation kernel's threads (the result does not depend on it).
    """
    items_path = Path(items_path)
    if threads:
        numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    if permutations < 1 or not 0 < alpha < 1:
        raise ValueError(f"permutations must be >= 1 and alpha in (0, 1), got {permutations} and {alpha}")
    table = read_items(items_path, ("wnid", symbol_column))
    if len(table) == 0:
        raise ItemsFileError(f"{items_path}: per-item file holds no item")
    wnids = table["wnid"].astype(str).to_numpy()
    if (wnids == "").any():
        raise ItemsFileError(f"{items_path}: {int((wnids == '').sum())} item(s) have no wnid (noise has no "
                             "class: protocols are analysed on val and ood)")
    try:
        symbols = table[symbol_column].to_numpy(dtype=np.int64)
    except (ValueError, TypeError):
        raise ItemsFileError(f"{items_path}: column {symbol_column} holds non-integer symbols") from None
    similarity_wnids, similarity = read_class_similarity(similarity_path)
    try:
        result = analyse_symbols(symbols, wnids, similarity_wnids, similarity, permutations, alpha, seed)
    except ValueError as error:
        raise SimilarityError(f"{items_path} against {similarity_path}: {error}") from None
    summary = {
        "protocol": protocol or items_path.parent.name,
        "test_set": test_set or items_path.name.split(".items")[0],
        "items_file": str(items_path),
        "symbol_column": symbol_column,
        **result,
    }
    atomic_write_json(out, summary)
    log.info("%s on %s: |P| %d, nMI %.4f (null %.4f, p %.4g), WNSim %s (null %s, p %s)", summary["protocol"],
             summary["test_set"], summary["symbols_used"], summary["nmi"]["value"], summary["nmi"]["null_mean"],
             summary["nmi"]["p_value"], summary["wnsim"]["value"], summary["wnsim"]["null_mean"],
             summary["wnsim"]["p_value"])
    return summary
