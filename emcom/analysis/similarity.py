"""The class x class WordNet path-similarity matrix of a dataset, computed once and cached as a table.

Stored as a gzip TSV a person can open: first column ``wnid``, then one column per wnid, in
``classes.tsv`` order (every class of every split). Similarities are 1 / (1 + path length), written
with 12 significant digits; :func:`emcom.analysis.scores.encode_similarity` relies on the matrix
having few distinct values, which rounding to a fixed precision keeps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from emcom.data.folder import CLASSES_FILE, read_classes
from emcom.evaluation.errors import SimilarityError
from emcom.io import atomic_path
from emcom.wordnet import WordNet, WordNetError


def write_class_similarity(dataset_root: str | Path, nltk_data: str | Path, out: str | Path) -> pd.DataFrame:
    """Path similarity of every pair of ``dataset_root/classes.tsv``'s wnids -> ``out`` (TSV, gzip)."""
    classes_path = Path(dataset_root) / CLASSES_FILE
    wnids = read_classes(dataset_root)["wnid"].tolist()
    try:
        matrix = WordNet(nltk_data).similarity_matrix(wnids)
    except WordNetError as error:
        raise SimilarityError(f"{classes_path}: {error}") from None
    table = pd.DataFrame(matrix, index=pd.Index(wnids, name="wnid"), columns=wnids)
    with atomic_path(out) as tmp:
        table.to_csv(tmp, sep="\t", float_format="%.12g", compression="gzip")
    return table


def read_class_similarity(path: str | Path) -> tuple[list[str], np.ndarray]:
    """(wnids, (K, K) float64 matrix) from a table written by :func:`write_class_similarity`."""
    path = Path(path)
    if not path.is_file():
        raise SimilarityError(f"class similarity table not found: {path}")
    try:
        table = pd.read_csv(path, sep="\t", index_col=0)
    except (OSError, ValueError) as error:
        raise SimilarityError(f"{path}: not a class similarity table ({error})") from None
    wnids = [str(w) for w in table.index]
    if table.shape != (len(wnids), len(wnids)) or list(table.columns) != wnids:
        raise SimilarityError(f"{path}: not a square table whose columns repeat its row wnids")
    return wnids, table.to_numpy(dtype=np.float64)
