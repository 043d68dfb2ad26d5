"""The paper's numbers, read from the one file that holds them (``data/paper_results.yaml``)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml

from emcom.reporting.inputs import ReportInputError

SECTIONS = ("setting", "table1", "table2", "table3")


def load_paper_results(path: str | Path) -> dict[str, Any]:
    """Read the paper's Tables 1-3 and setting; a missing section is one line naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ReportInputError(f"missing {path}: the paper's numbers (data/paper_results.yaml)")
    data = yaml.safe_load(path.read_text()) or {}
    missing = [s for s in SECTIONS if s not in data]
    if missing:
        raise ReportInputError(f"{path}: missing section(s) {missing}; expected {list(SECTIONS)}")
    return data


def paper_value(table: dict, row: str | None, *keys: str) -> float:
    """``table[row][keys...]`` as a float; NaN when the paper has no such cell or printed NS (null)."""
    node: Any = table.get(row) if row is not None else None
    for key in keys:
        if not isinstance(node, dict):
            return math.nan
        node = node.get(key)
    return math.nan if node is None else float(node)


def paper_is_ns(table: dict, row: str | None, test_set: str, score: str) -> bool:
    """True where the paper printed NS (the cell is present and null)."""
    cell = (table.get(row) or {}).get(test_set) if row is not None else None
    return isinstance(cell, dict) and score in cell and cell[score] is None
