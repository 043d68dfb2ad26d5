"""Tables A.4-A.6: the paper's appendix experiments (config ``appendix:``), from this run's files.

- A.4, test-time augmentation: accuracy on val and OOD, plain (Table 1's play) and ``<split>_aug``
  (each agent its own augmented view of the target).
- A.5, candidates at test time: accuracy on val and OOD with N candidates per game, against chance 1/N;
  each model's Table 1 evaluation is one more row (its own candidate count).
- A.6, the sweeps: each ``<variant>_vocab<V>`` / ``<variant>_cand<N>`` beside its base variant:
  accuracy, and the protocol analysis of val (|P|, nMI, WNSim).

The paper's appendix values are not available (data/paper_results.yaml holds its main text's
tables only), so these tables show our numbers only, and their captions say so. Each table is a
tidy CSV (numbers only, one row per model × setting) and a Markdown table for the reader.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd

from emcom.evaluation.test_sets import AUGMENTED_SPLITS, AUGMENTED_SUFFIX
from emcom.reporting.inputs import display_name, read_analysis, read_evaluation, row_sort_key
from emcom.reporting.tables import TEST_SET_NAMES, format_number, one_or_all, write_markdown_and_csv

SPLITS = ("val", "ood")
NOT_IN_PAPER = ("Our numbers only: the paper's appendix values are not available here "
                "(data/paper_results.yaml holds the main text's tables), so no cell is compared with the paper.")
SWEEP_SETTINGS = {"vocab_sizes": "|V|", "train_candidates": "per-GPU batch"}  # what each sweep changes


def _by_variant(records: Iterable[dict]) -> dict[tuple[str, str], dict]:
    return {(r["variant"], r["test_set"]): r for r in records}


def _models(keys: Iterable[tuple[str, str]]) -> list[str]:
    return sorted({variant for variant, _ in keys}, key=row_sort_key)


def _percent(record: dict | None, key: str = "accuracy") -> float:
    return math.nan if record is None else 100 * float(record[key])


# ---- Table A.4 ----------------------------------------------------------------------------------
def table_a4_frame(evaluations: Iterable[dict]) -> pd.DataFrame:
    """One row per model × split: accuracy (%) plain and with test-time augmentation, their
    difference (percentage points), chance (%) and items.

    ``evaluations``: evaluation records of ``val``, ``ood``, ``val_aug``, ``ood_aug``.
    """
    by = _by_variant(evaluations)
    rows = []
    for model in _models(by):
        for split in AUGMENTED_SPLITS:
            plain, augmented = by.get((model, split)), by.get((model, split + AUGMENTED_SUFFIX))
            if plain is None and augmented is None:
                continue
            accuracy, accuracy_aug = _percent(plain), _percent(augmented)
            rows.append({"model": model, "label": display_name(model), "test_set": split,
                         "accuracy": accuracy, "accuracy_aug": accuracy_aug, "aug_minus_plain": accuracy_aug - accuracy,
                         "chance": _percent(plain or augmented, "chance"), "items": (plain or augmented)["items"]})
    return pd.DataFrame(rows, columns=["model", "label", "test_set", "accuracy", "accuracy_aug", "aug_minus_plain",
                                       "chance", "items"])


def table_a4_wide(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per model: val, val +aug, OOD, OOD +aug accuracy (%) and chance (%)."""
    rows: dict[str, dict[str, str]] = {}
    for _, r in frame.iterrows():
        row = rows.setdefault(r["label"], {})
        name = TEST_SET_NAMES.get(r["test_set"], r["test_set"])
        row[name] = format_number(r["accuracy"])
        row[f"{name} +aug"] = format_number(r["accuracy_aug"])
        row["chance"] = format_number(r["chance"], digits=2)
    wide = pd.DataFrame.from_dict(rows, orient="index").rename_axis("model").fillna("—")
    return wide[[c for c in wide.columns if c != "chance"] + ["chance"]] if rows else wide


# ---- Table A.5 ----------------------------------------------------------------------------------
def table_a5_frame(candidate_evaluations: Iterable[dict], evaluations: Iterable[dict]) -> pd.DataFrame:
    """One row per model × test set × candidate count: accuracy and chance (%), accuracy / chance.

    ``candidate_evaluations``: the ``candidates<N>/`` records; ``evaluations``: Table 1's records of
    val and ood, each one more row (``source`` "table1") at its own count.
    """
    rows = []
    for source, records in (("table1", evaluations), ("test_candidates", candidate_evaluations)):
        for r in records:
            if r["test_set"] not in SPLITS:
                continue
            accuracy, chance = _percent(r), _percent(r, "chance")
            rows.append({"model": r["variant"], "label": display_name(r["variant"]), "test_set": r["test_set"],
                         "candidates": int(r["batch_size"]), "source": source, "accuracy": accuracy,
                         "chance": chance, "ratio_to_chance": accuracy / chance, "items": r["items"]})
    # models in the tables' order, then by count (Table 1's row before an equal test count), val before ood
    rows.sort(key=lambda r: (row_sort_key(r["model"]), r["candidates"], r["source"], SPLITS.index(r["test_set"])))
    return pd.DataFrame(rows, columns=["model", "label", "test_set", "candidates", "source", "accuracy", "chance",
                                       "ratio_to_chance", "items"])


def table_a5_wide(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per model × candidate count: per test set accuracy (%) and accuracy / chance; chance (%)."""
    rows: dict[tuple[str, str], dict[str, str]] = {}
    for _, r in frame.iterrows():
        count = f"{r['candidates']} (Table 1)" if r["source"] == "table1" else str(r["candidates"])
        row = rows.setdefault((r["label"], count), {"model": r["label"], "candidates": count})
        name = TEST_SET_NAMES.get(r["test_set"], r["test_set"])
        row[name] = format_number(r["accuracy"])
        row[f"{name} ×chance"] = format_number(r["ratio_to_chance"])
        row["chance"] = format_number(r["chance"], digits=2)
    wide = pd.DataFrame(list(rows.values())).fillna("—")
    return wide[[c for c in wide.columns if c != "chance"] + ["chance"]] if rows else wide


# ---- Table A.6 ----------------------------------------------------------------------------------
def table_a6_frame(sweeps: Iterable[Mapping[str, Any]], protocols: Mapping[str, str], evaluations: Iterable[dict],
                   analyses: Iterable[dict]) -> pd.DataFrame:
    """One row per sweep × model: the base variant first, then its swept variants by value.

    ``sweeps``: :class:`emcom.variants.SweepVariant` fields (name, base, sweep, value, base_value);
    ``protocols``: variant -> its analysis protocol (a game: itself; SimCLR: ``<variant>_disc``).
    Columns: val and OOD accuracy (%), chance on val (%), and on val |P|, nMI and WNSim with their
    significance.
    """
    by_eval = _by_variant(evaluations)
    by_analysis = {(a["protocol"], a["test_set"]): a for a in analyses}
    entries: list[tuple[str, str, str, int, bool]] = []  # (sweep, base, model, value, is_base)
    for s in sweeps:
        base = (s["sweep"], s["base"], s["base"], s["base_value"], True)
        if base not in entries:
            entries.append(base)
        entries.append((s["sweep"], s["base"], s["name"], s["value"], False))
    # each sweep's block: base first, then by value; blocks in the order of the config
    blocks = list(dict.fromkeys((sweep, base) for sweep, base, *_ in entries))
    entries.sort(key=lambda e: (blocks.index((e[0], e[1])), not e[4], e[3]))
    rows = []
    for sweep, base, model, value, is_base in entries:
        val, ood = by_eval.get((model, "val")), by_eval.get((model, "ood"))
        analysis = by_analysis.get((protocols.get(model, model), "val"))
        row: dict[str, Any] = {
            "sweep": sweep, "setting": SWEEP_SETTINGS.get(sweep, sweep), "base": base, "model": model,
            "label": display_name(model), "value": value, "is_base": is_base,
            "val_accuracy": _percent(val), "ood_accuracy": _percent(ood), "val_chance": _percent(val, "chance"),
            "val_symbols_used": math.nan if analysis is None else analysis["symbols_used"],
        }
        for score in ("nmi", "wnsim"):
            result = (analysis or {}).get(score) or {}
            value_ = result.get("value")
            row[f"val_{score}"] = math.nan if value_ is None else float(value_)
            row[f"val_{score}_significant"] = bool(result.get("significant", False))
        rows.append(row)
    columns = ["sweep", "setting", "base", "model", "label", "value", "is_base", "val_accuracy", "ood_accuracy",
               "val_chance", "val_symbols_used", "val_nmi", "val_nmi_significant", "val_wnsim", "val_wnsim_significant"]
    return pd.DataFrame(rows, columns=columns)


def _score(value: float, significant: bool) -> str:
    return format_number(value, digits=2) if significant else f"NS ({format_number(value, digits=2)})"


def table_a6_wide(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per sweep × model: the setting's value, val and OOD accuracy (%), val |P|, nMI, WNSim."""
    rows = []
    for _, r in frame.iterrows():
        rows.append({
            "model": r["label"], "setting": f"{r['setting']} = {r['value']}" + (" (base)" if r["is_base"] else ""),
            "val": format_number(r["val_accuracy"]), "OOD": format_number(r["ood_accuracy"]),
            "val chance": format_number(r["val_chance"], digits=2),
            "val |P|": format_number(r["val_symbols_used"], digits=0),
            "val nMI": _score(r["val_nmi"], r["val_nmi_significant"]),
            "val WNSim": _score(r["val_wnsim"], r["val_wnsim_significant"]),
        })
    return pd.DataFrame(rows)


def write_table_a4(evaluation_paths: Iterable[str | Path], markdown_path: str | Path,
                   csv_path: str | Path) -> pd.DataFrame:
    """Table A.4 from the evaluation JSONs of val, ood, val_aug and ood_aug."""
    evaluations = [read_evaluation(p) for p in evaluation_paths]
    tidy = table_a4_frame(evaluations)
    augmented = {e["variant"]: e["augmentation"] for e in evaluations if "augmentation" in e}
    settings = "".join(f"; {key} {one_or_all({v: a.get(key, '?') for v, a in augmented.items()})}"
                       for key in ("min_crop_scale", "blur_sigma", "color_jitter_strength", "seed") if augmented)
    caption = (f"Game-playing accuracy (%) on val and OOD as in Table 1 (Sender and Receiver see the same "
               f"un-augmented image) and with test-time augmentation (+aug: Sender and Receiver each see an "
               f"independent random view of every image, made with the model's own training augmentations"
               f"{settings}). Chance = 1 / candidates per game. {NOT_IN_PAPER}")
    write_markdown_and_csv(table_a4_wide(tidy), tidy, "Table A.4: test-time augmentation", caption, markdown_path,
                           csv_path)
    return tidy


def write_table_a5(candidate_paths: Iterable[str | Path], evaluation_paths: Iterable[str | Path],
                   markdown_path: str | Path, csv_path: str | Path) -> pd.DataFrame:
    """Table A.5 from the ``candidates<N>/`` evaluation JSONs and Table 1's val and ood JSONs."""
    tidy = table_a5_frame([read_evaluation(p) for p in candidate_paths], [read_evaluation(p) for p in evaluation_paths])
    caption = (f"Game-playing accuracy (%) on val and OOD with N candidates per game (the target and N - 1 "
               f"distractors; chance 1/N), and accuracy / chance. The row marked (Table 1) is the model's "
               f"Table 1 evaluation, at its own candidate count (config evaluation.batch_size; null: the "
               f"model's training batch). {NOT_IN_PAPER}")
    write_markdown_and_csv(table_a5_wide(tidy), tidy, "Table A.5: candidates per game at test time", caption,
                           markdown_path, csv_path, index=False)
    return tidy


def write_table_a6(sweeps: Iterable[Mapping[str, Any]], protocols: Mapping[str, str],
                   evaluation_paths: Iterable[str | Path], analysis_paths: Iterable[str | Path],
                   markdown_path: str | Path, csv_path: str | Path) -> pd.DataFrame:
    """Table A.6 from the sweeps (config ``appendix:``), the evaluation JSONs (val, ood) and the
    analysis JSONs (val) of every swept variant and its base."""
    analyses = [read_analysis(p) for p in analysis_paths]
    tidy = table_a6_frame(sweeps, protocols, [read_evaluation(p) for p in evaluation_paths], analyses)
    permutations = one_or_all({a["protocol"]: a.get("permutations", "?") for a in analyses})
    caption = (f"Each swept variant beside its base: |V| (appendix.vocab_sizes, Appendix A.6) or the per-GPU "
               f"training batch, which is the game's candidate set (appendix.train_candidates, Appendix A.5); "
               f"every other setting is the base's. Accuracy (%) on val and OOD as in Table 1; on val, |P| "
               f"(distinct symbols used), nMI and WNSim as in Table 2 (NS: not significantly above the "
               f"permutation null, {permutations} permutations). SimCLR rows use SimCLR_disc (argmax of h). "
               f"{NOT_IN_PAPER}")
    write_markdown_and_csv(table_a6_wide(tidy), tidy, "Table A.6: vocabulary size and training candidates",
                           caption, markdown_path, csv_path, index=False)
    return tidy
