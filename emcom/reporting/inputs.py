"""Readers for the evaluation and analysis files (INTERFACES.md), and how models are named and grouped.

A model's *group* is its variant name without a ``_seed<N>`` suffix: ``game_aug_noshared_seed222``
is another seed of ``game_aug_noshared`` (the paper's Appendix A.2), reported as mean ± sd. The
appendix sweeps' variants (``<variant>_vocab<V>``, ``<variant>_cand<N>``, Appendices A.5-A.6) are
models of their own: their own group, their own row, and no paper value (the paper's are the base's).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

ITEM_COLUMNS = ("item", "index", "source", "wnid", "label", "symbol", "correct")
EVALUATION_KEYS = ("variant", "test_set", "accuracy", "chance", "batch_size", "items")
ANALYSIS_KEYS = ("protocol", "test_set", "items", "symbols_used", "nmi", "wnsim")
SCORE_KEYS = ("value", "null_mean", "p_value", "significant")
SUMMARY_KEYS = ("global_batch", "lr", "epochs", "backbone")

_SEED_SUFFIX = re.compile(r"_seed\d+$")
_KMEANS = re.compile(r"^simclr_kmeans_k(\d+)$")
_GAME = re.compile(r"^game_(noaug|aug)_(noshared|shared)$")
# <base>_vocab<V> / <base>_cand<N>, and a SimCLR sweep's protocols (<base>_cand<N>_disc, ..._kmeans_k<k>)
_SWEEP = re.compile(r"^(?P<base>.+?)_(?P<sweep>vocab|cand)(?P<value>\d+)(?P<protocol>_disc|_kmeans_k\d+)?$")
SWEEP_LABELS = {"vocab": "|V|={}", "cand": "{} candidates"}

# Paper order of Tables 1-2 (rows not listed come after, sorted).
ROW_ORDER = ("simclr", "simclr_disc", "simclr_kmeans", "game_noaug_noshared", "game_noaug_shared",
             "game_aug_noshared", "game_aug_shared")


class ReportInputError(ValueError):
    """An input of a table, figure or claims check is missing or malformed; the message names it."""


def model_group(name: str) -> str:
    """``game_aug_noshared_seed222`` -> ``game_aug_noshared``; other names are their own group."""
    return _SEED_SUFFIX.sub("", name)


def kmeans_k(protocol: str) -> int | None:
    """``simclr_kmeans_k2048`` -> 2048; None for any other protocol."""
    match = _KMEANS.match(protocol)
    return int(match.group(1)) if match else None


def split_sweep(name: str) -> tuple[str, str | None, int | None]:
    """``game_aug_noshared_vocab64`` -> (``game_aug_noshared``, ``vocab``, 64); ``simclr_cand32_disc`` ->
    (``simclr_disc``, ``cand``, 32); any other name -> (name, None, None)."""
    match = _SWEEP.match(name)
    if match is None:
        return name, None, None
    return match["base"] + (match["protocol"] or ""), match["sweep"], int(match["value"])


def display_name(group: str) -> str:
    """The paper's row label: ``game_aug_noshared`` -> ``game +aug −shared``, ``simclr`` -> ``SimCLR_disc``;
    ``<name>_seed222`` -> ``<label> (seed 222)``; ``<name>_vocab64`` -> ``<label> (|V|=64)``;
    ``<name>_cand32`` -> ``<label> (32 candidates)``."""
    seed = _SEED_SUFFIX.search(group)
    if seed:
        return f"{display_name(group[: seed.start()])} (seed {seed.group(0)[5:]})"
    base, sweep, value = split_sweep(group)
    if sweep is not None:
        return f"{display_name(base)} ({SWEEP_LABELS[sweep].format(value)})"
    game = _GAME.match(group)
    if game:
        aug = "−aug" if game.group(1) == "noaug" else "+aug"
        shared = "−shared" if game.group(2) == "noshared" else "+shared"
        return f"game {aug} {shared}"
    if group in ("simclr", "simclr_disc"):
        return "SimCLR_disc"
    k = kmeans_k(group)
    return f"SimCLR_kmeans (k={k})" if k is not None else group


def row_sort_key(group: str) -> tuple:
    """The paper's row order; an appendix sweep's rows right after their base's, by value."""
    name, sweep, value = split_sweep(group)
    base = "simclr_kmeans" if kmeans_k(name) is not None else name
    rank = ROW_ORDER.index(base) if base in ROW_ORDER else len(ROW_ORDER)
    return (rank, kmeans_k(name) or 0, sweep or "", value or 0, group)


def group_names(names: Iterable[str]) -> dict[str, list[str]]:
    """Variant or protocol names -> {group: [names]} in the paper's row order."""
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(model_group(name), []).append(name)
    return {g: sorted(groups[g]) for g in sorted(groups, key=row_sort_key)}


def read_json(path: str | Path, required: Iterable[str], what: str) -> dict[str, Any]:
    """A JSON object with the ``required`` keys, or one line naming the file and what is missing."""
    path = Path(path)
    if not path.is_file():
        raise ReportInputError(f"missing {what} file {path}")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ReportInputError(f"{path}: not valid JSON ({error})") from error
    missing = [key for key in required if key not in data]
    if missing:
        raise ReportInputError(f"{path}: {what} file lacks key(s) {missing}")
    return data


def read_evaluation(path: str | Path) -> dict[str, Any]:
    """``{R}/evaluation/{variant}/{test_set}.json`` (accuracy, chance, batch_size, ...)."""
    return read_json(path, EVALUATION_KEYS, "evaluation")


def read_analysis(path: str | Path) -> dict[str, Any]:
    """``{R}/analysis/{protocol}/{test_set}.json`` (|P|, nMI and WNSim with their permutation nulls)."""
    data = read_json(path, ANALYSIS_KEYS, "analysis")
    for score in ("nmi", "wnsim"):
        missing = [key for key in SCORE_KEYS if key not in (data[score] or {})]
        if missing:
            raise ReportInputError(f"{path}: analysis score '{score}' lacks key(s) {missing}")
    return data


def read_summary(path: str | Path) -> dict[str, Any]:
    """``{R}/models/{variant}/summary.json`` (global batch, lr, epochs, backbone)."""
    return read_json(path, SUMMARY_KEYS, "training summary")


def read_items(path: str | Path, columns: Iterable[str] = ("source", "wnid", "label", "symbol")) -> pd.DataFrame:
    """A per-item TSV (gzip allowed): one row per played target; checks ``columns`` are present."""
    path = Path(path)
    if not path.is_file():
        raise ReportInputError(f"missing per-item file {path}")
    table = pd.read_csv(path, sep="\t", dtype={"source": str, "wnid": str}, keep_default_na=False)
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ReportInputError(f"{path}: per-item file lacks column(s) {missing}")
    return table
