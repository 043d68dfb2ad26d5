"""Per-item files: one row per played target, the evaluation's and k-means' output (INTERFACES.md).

Columns, in order: ``item`` (0..N-1, play order), ``index`` (dataset index), ``source`` (image path
relative to the dataset root, or ``noise:<index>``), ``wnid`` (empty for noise), ``label`` (class
index in ``classes.tsv`` order, -1 for noise), ``symbol`` (int), ``correct`` (0/1, empty for
k-means), and for SimCLR only ``symbol_h`` (argmax of h). Written as gzip-compressed TSV.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import pandas as pd

from emcom.evaluation.errors import ItemsFileError
from emcom.io import atomic_path

ITEM_COLUMNS = ("item", "index", "source", "wnid", "label", "symbol", "correct")


def write_items(table: pd.DataFrame, path: str | Path) -> None:
    """Write ``table`` (ITEM_COLUMNS first, extra columns after) as a gzip TSV, atomically."""
    missing = [c for c in ITEM_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"per-item table for {path} lacks column(s) {missing}")
    extra = [c for c in table.columns if c not in ITEM_COLUMNS]
    with atomic_path(path) as tmp:
        # the temporary name does not end in .gz: say the compression explicitly
        table[list(ITEM_COLUMNS) + extra].to_csv(tmp, sep="\t", index=False, compression="gzip")


def read_items(path: str | Path, columns: Iterable[str] = ITEM_COLUMNS) -> pd.DataFrame:
    """Read a per-item file, checking that ``columns`` are present (one-line error naming the file)."""
    path = Path(path)
    if not path.is_file():
        raise ItemsFileError(f"per-item file not found: {path}")
    try:
        table = pd.read_csv(path, sep="\t", dtype={"source": str, "wnid": str}, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as error:  # not gzip, not a table
        raise ItemsFileError(f"{path}: not a per-item TSV file ({error})") from None
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ItemsFileError(f"{path}: per-item file lacks column(s) {missing}; found {list(table.columns)}")
    return table
