"""The paper's qualitative claims, checked on the run at hand: numbers and a verdict for each.

Every threshold is a config value (``claims:``), written into the claims file beside the verdicts,
and none depends on the run: a claim that does not hold here is reported as such.

- "well (far) above chance": accuracy >= ``well_above_chance_ratio`` × chance.
- "at chance": accuracy <= ``at_chance_ratio`` × chance.
- "significant": the analysis' permutation test (p < alpha) for every seed of the protocol.
- "close" (SimCLR_kmeans vs the +aug games): |nMI difference| <= ``close_nmi`` and |WNSim
  difference| <= ``close_wnsim``, on each test set.
- Table 3 "comparable quality": |game − SimCLR| <= ``table3_relative_tolerance`` × SimCLR, per dataset.
- "generalise to new classes": OOD accuracy >= ``ood_min_ratio_to_val`` × val accuracy, per game.
- Beside every accuracy compared with a multiple of chance: its exact binomial 95% interval over the
  test items, and whether the threshold lies inside it (then the test set is too small to decide that
  check; the verdict still follows the measured accuracy, and the claims page says so).
- "+aug games beat SimCLR_disc": each +aug game's accuracy >= SimCLR_disc's, on val and on OOD.
- "+aug protocols more category-related than −aug +shared": each +aug protocol's excess over its
  permutation null (score − null mean) exceeds the −aug +shared protocol's, for nMI and WNSim on
  val and OOD. At small test sets nMI is high by chance alone; the excess is what the data says.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd

from emcom.io import atomic_write_json, atomic_write_text
from emcom.linear_eval.verdict import table3_checks as table3_verdict_checks
from emcom.reporting.inputs import (
    ReportInputError,
    display_name,
    kmeans_k,
    read_analysis,
    read_evaluation,
    read_summary,
)
from emcom.reporting.paper import load_paper_results
from emcom.reporting.tables import TABLE1_TEST_SETS, run_setting, table1_frame, table2_frame

HOLDS, FAILS, UNTESTED = "holds", "does not hold", "not tested"
NOAUG_GAMES = ("game_noaug_noshared", "game_noaug_shared")
AUG_GAMES = ("game_aug_noshared", "game_aug_shared")
DEFAULT_SETTINGS = {"well_above_chance_ratio": 10.0, "at_chance_ratio": 1.5, "close_nmi": 0.05,
                    "close_wnsim": 0.05, "table3_relative_tolerance": 0.05, "ood_min_ratio_to_val": 0.7}


def _claim(claim_id: str, text: str, source: str, rule: str, checks: list[dict], missing: list[str]) -> dict:
    """A claim does not hold when one check fails (each is a claim about every model it names); else
    it is not tested when a model it names has no result, else it holds.

    ``within_sampling_error``: the verdict could flip with more test items, as far as the accuracy
    checks' 95% intervals tell (a failed claim when every failing check is undecided, a held one when
    any check is).
    """
    failing = [c for c in checks if not c["pass"]]
    if failing:
        verdict = FAILS
        within_error = all(c.get("undecided", False) for c in failing)
    elif missing or not checks:
        verdict, within_error = UNTESTED, False
    else:
        verdict = HOLDS
        within_error = any(c.get("undecided", False) for c in checks)
    return {"id": claim_id, "claim": text, "source": source, "rule": rule, "verdict": verdict,
            "within_sampling_error": within_error, "checks": checks, "missing": missing}


def _accuracy_checks(t1: pd.DataFrame, models: Iterable[str], test_sets: Iterable[str], above: bool,
                     ratio: float) -> tuple[list[dict], list[str]]:
    checks, missing = [], []
    for model in models:
        for test_set in test_sets:
            row = t1[(t1["model"] == model) & (t1["test_set"] == test_set)]
            if row.empty:
                missing.append(f"{model}/{test_set}")
                continue
            accuracy, chance = float(row["accuracy"].iloc[0]), float(row["chance"].iloc[0])
            low, high = float(row["ci95_low"].iloc[0]), float(row["ci95_high"].iloc[0])
            threshold = ratio * chance
            passed = accuracy >= threshold if above else accuracy <= threshold
            checks.append({"model": model, "test_set": test_set, "accuracy_pct": round(accuracy, 3),
                           "ci95_pct": None if math.isnan(low) else [round(low, 3), round(high, 3)],
                           "threshold_pct": round(threshold, 3),
                           "undecided": bool(low <= threshold <= high),  # False for pooled seeds (NaN)
                           "chance_pct": round(chance, 3), "ratio_to_chance": round(accuracy / chance, 2),
                           "paper_pct": None if math.isnan(row["paper"].iloc[0]) else float(row["paper"].iloc[0]),
                           "pass": bool(passed)})
    return checks, missing


def _ood_checks(t1: pd.DataFrame, models: Iterable[str], ratio: float) -> tuple[list[dict], list[str]]:
    checks, missing = [], []
    for model in models:
        rows = t1[t1["model"] == model].set_index("test_set")["accuracy"]
        if "val" not in rows.index or "ood" not in rows.index:
            missing.append(f"{model}/{'val' if 'val' not in rows.index else 'ood'}")
            continue
        val, ood = float(rows["val"]), float(rows["ood"])
        checks.append({"model": model, "val_pct": round(val, 3), "ood_pct": round(ood, 3),
                       "ood_to_val": round(ood / val, 3) if val else None, "pass": bool(ood >= ratio * val)})
    return checks, missing


def _beats_checks(t1: pd.DataFrame, models: Iterable[str], reference: str) -> tuple[list[dict], list[str]]:
    checks, missing = [], []
    for model in models:
        for test_set in ("val", "ood"):
            accuracies = {}
            for name in (model, reference):
                row = t1[(t1["model"] == name) & (t1["test_set"] == test_set)]
                if row.empty:
                    missing.append(f"{name}/{test_set}")
                else:
                    accuracies[name] = float(row["accuracy"].iloc[0])
            if len(accuracies) == 2:
                checks.append({"model": model, "reference": reference, "test_set": test_set,
                               "accuracy_pct": round(accuracies[model], 3),
                               "reference_pct": round(accuracies[reference], 3),
                               "pass": bool(accuracies[model] >= accuracies[reference])})
    return checks, missing


def _excess_checks(t2: pd.DataFrame, protocols: Iterable[str], reference: str) -> tuple[list[dict], list[str]]:
    """Score minus its permutation-null mean, each protocol against ``reference``'s."""
    checks, missing = [], []
    for protocol in protocols:
        for test_set in ("val", "ood"):
            rows = {name: t2[(t2["protocol"] == name) & (t2["test_set"] == test_set)] for name in (protocol, reference)}
            absent = [f"{name}/{test_set}" for name, row in rows.items() if row.empty]
            if absent:
                missing.extend(absent)
                continue
            for score in ("nmi", "wnsim"):
                excess = {name: float(row[score].iloc[0]) - float(row[f"{score}_null_mean"].iloc[0])
                          for name, row in rows.items()}
                checks.append({"protocol": protocol, "reference": reference, "test_set": test_set, "score": score,
                               "excess": round(excess[protocol], 4), "reference_excess": round(excess[reference], 4),
                               "pass": bool(excess[protocol] > excess[reference])})
    return checks, missing


def _significance_checks(t2: pd.DataFrame, protocols: Iterable[str], significant: bool) -> tuple[list[dict], list[str]]:
    checks, missing = [], []
    for protocol in protocols:
        for test_set in ("val", "ood"):
            row = t2[(t2["protocol"] == protocol) & (t2["test_set"] == test_set)]
            if row.empty:
                missing.append(f"{protocol}/{test_set}")
                continue
            r = row.iloc[0]
            for score in ("nmi", "wnsim"):
                checks.append({"protocol": protocol, "test_set": test_set, "score": score,
                               "value": round(float(r[score]), 4), "null_mean": round(float(r[f"{score}_null_mean"]), 4),
                               "p_value": float(r[f"{score}_p_value"]), "significant": bool(r[f"{score}_significant"]),
                               "pass": bool(r[f"{score}_significant"]) == significant})
    return checks, missing


def _close_checks(t2: pd.DataFrame, kmeans: str | None, settings: Mapping) -> tuple[list[dict], list[str]]:
    checks, missing = [], []
    if kmeans is None:
        return checks, ["simclr_kmeans (k = the vocabulary size)"]
    for game in AUG_GAMES:
        for test_set in ("val", "ood"):
            k_row = t2[(t2["protocol"] == kmeans) & (t2["test_set"] == test_set)]
            g_row = t2[(t2["protocol"] == game) & (t2["test_set"] == test_set)]
            if k_row.empty or g_row.empty:
                missing.append(f"{kmeans if k_row.empty else game}/{test_set}")
                continue
            check: dict[str, Any] = {"game": game, "kmeans": kmeans, "test_set": test_set}
            passed = True
            for score in ("nmi", "wnsim"):
                k_value, g_value = float(k_row[score].iloc[0]), float(g_row[score].iloc[0])
                diff = g_value - k_value
                check.update({f"{score}_kmeans": round(k_value, 4), f"{score}_game": round(g_value, 4),
                              f"{score}_diff": round(diff, 4)})
                # 1e-9: a difference printed as the threshold (0.30 - 0.25) counts as within it
                passed &= abs(diff) <= settings[f"close_{score}"] + 1e-9
            check["pass"] = bool(passed)
            checks.append(check)
    return checks, missing


def _table3_checks(table3: pd.DataFrame, tolerance: float) -> tuple[list[dict], list[str]]:
    checks, missing = [], []
    table3 = table3.dropna(subset=["value"])  # a dataset not evaluated has no value to compare
    simclr = table3[table3["model"] == "simclr"].set_index("dataset")["value"]
    if simclr.empty:
        return checks, ["simclr in table3.csv"]
    for game in AUG_GAMES:
        rows = table3[table3["model"] == game].set_index("dataset")["value"]
        if rows.empty:
            missing.append(f"{game} in table3.csv")
        for dataset, value in rows.items():
            if dataset not in simclr.index:
                continue
            reference = float(simclr[dataset])
            diff = float(value) - reference
            checks.append({"game": game, "dataset": dataset, "game_value": float(value), "simclr_value": reference,
                           "diff": round(diff, 4), "relative_diff": round(diff / reference, 4) if reference else None,
                           "pass": bool(abs(diff) <= tolerance * abs(reference))})
    return checks, missing


def check_claims(evaluations: Iterable[dict], analyses: Iterable[dict], paper: Mapping, settings: Mapping,
                 kmeans_paper_k: int | None, table3: pd.DataFrame | None = None) -> dict:
    """All claims for one run: ``{"settings": ..., "claims": [{id, claim, rule, verdict, checks}]}``."""
    settings = {**DEFAULT_SETTINGS, **settings}
    well, at = settings["well_above_chance_ratio"], settings["at_chance_ratio"]
    t1 = table1_frame(evaluations, paper["table1"], TABLE1_TEST_SETS)
    t2 = table2_frame(analyses, paper["table2"], kmeans_paper_k)
    kmeans = next((p for p in t2["protocol"].unique() if kmeans_k(p) == kmeans_paper_k), None) if len(t2) else None
    games = NOAUG_GAMES + AUG_GAMES
    claims = [
        _claim("games_above_chance", "All four games play well above chance on new images of the training "
               "classes (val) and on images of new classes (OOD).", "Sec. 4.1, Table 1",
               f"accuracy >= {well} × chance", *_accuracy_checks(t1, games, ("val", "ood"), True, well)),
        _claim("simclr_disc_above_chance", "SimCLR_disc also plays well above chance on val and OOD.",
               "Sec. 4.1, Table 1", f"accuracy >= {well} × chance",
               *_accuracy_checks(t1, ("simclr",), ("val", "ood"), True, well)),
    ]
    claims += [
        _claim("games_generalise_to_ood", "The games' protocols generalise to images of new classes: OOD accuracy "
               "is close to val accuracy.", "Sec. 4.1, Table 1",
               f"OOD >= {settings['ood_min_ratio_to_val']} × val", *_ood_checks(t1, games, settings["ood_min_ratio_to_val"])),
        _claim("aug_games_beat_simclr_disc", "The +aug games play better than SimCLR_disc, on val and OOD.",
               "Sec. 4.1, Table 1", "+aug game accuracy >= SimCLR_disc accuracy", *_beats_checks(t1, AUG_GAMES, "simclr")),
    ]
    for noise in ("noise", "noise_raw"):
        kind = "normalised as the authors' code" if noise == "noise" else "raw N(0,1) as the paper's text"
        claims += [
            _claim(f"noaug_games_communicate_about_{noise}", f"−aug games communicate about Gaussian noise "
                   f"({kind}) far above chance: an opaque, low-level protocol.", "Sec. 4.1, Table 1",
                   f"accuracy >= {well} × chance", *_accuracy_checks(t1, NOAUG_GAMES, (noise,), True, well)),
            _claim(f"aug_games_and_simclr_at_chance_on_{noise}", f"+aug games and SimCLR_disc stay at chance on "
                   f"Gaussian noise ({kind}).", "Sec. 4.1, Table 1", f"accuracy <= {at} × chance",
                   *_accuracy_checks(t1, AUG_GAMES + ("simclr",), (noise,), False, at)),
        ]
    others = ["game_noaug_noshared", "simclr_disc"] + ([kmeans] if kmeans else [])
    other_checks, other_missing = _significance_checks(t2, others, True)
    if kmeans is None:
        other_missing.append(f"simclr_kmeans_k{kmeans_paper_k}")
    claims += [
        _claim("aug_protocols_significant", "+aug protocols have significant nMI and WNSim on val and OOD.",
               "Sec. 4.2, Table 2", "permutation test p < alpha for every seed",
               *_significance_checks(t2, AUG_GAMES, True)),
        _claim("noaug_shared_not_significant", "The −aug +shared protocol shows no significant symbol-category "
               "association (nMI and WNSim NS on val and OOD).", "Sec. 4.2, Table 2",
               "permutation test p >= alpha", *_significance_checks(t2, ("game_noaug_shared",), False)),
        _claim("aug_protocols_more_category_related", "The +aug protocols are more related to the image "
               "categories than the −aug +shared protocol (significant vs not).", "Sec. 4.2, Table 2",
               "+aug (score − null mean) > −aug +shared (score − null mean), nMI and WNSim",
               *_excess_checks(t2, AUG_GAMES, "game_noaug_shared")),
        _claim("other_protocols_significant", "All other protocols (−aug −shared, SimCLR_disc, SimCLR_kmeans) "
               "show significant nMI and WNSim.", "Sec. 4.2, Table 2", "permutation test p < alpha",
               other_checks, other_missing),
        _claim("kmeans_close_to_aug_games", "The +aug games' nMI and WNSim are very close to SimCLR_kmeans'.",
               "Sec. 4.2, Table 2", f"|nMI diff| <= {settings['close_nmi']} and |WNSim diff| <= "
               f"{settings['close_wnsim']}, k-means with k = {kmeans_paper_k}", *_close_checks(t2, kmeans, settings)),
    ]
    if table3 is not None:
        tolerance = settings["table3_relative_tolerance"]
        claims.append(_claim(
            "game_features_close_to_simclr", "Features of the +aug games' Sender CNN are of comparable quality "
            "to SimCLR's in linear evaluation.", "Sec. 4.3, Table 3",
            f"|game − SimCLR| <= {tolerance} × SimCLR on every dataset", *_table3_checks(table3, tolerance)))
        floor_dataset = settings.get("table3_floor_dataset", "stamps")
        if floor_dataset in set(table3["dataset"]):  # the embedded default's reading (emcom.linear_eval.verdict)
            ratio, margin = settings.get("table3_min_ratio_to_simclr", 0.9), settings.get("table3_min_points_above_random", 10)
            claims.append(_claim(
                "game_features_near_simclr_above_random", f"On {floor_dataset}, the +aug games' Sender features are "
                "close to SimCLR's and clearly better than a randomly initialised CNN's (a strong floor there).",
                "Sec. 4.3, Table 3", f"game >= {ratio} × SimCLR and game − random init >= {margin} points",
                *table3_verdict_checks(table3.dropna(subset=["value"]), floor_dataset, ratio, margin)))
    return {"settings": {**settings, "kmeans_k": kmeans_paper_k}, "claims": claims}


def claims_markdown(result: Mapping, setting: str) -> str:
    """The claims as a reader's page: verdict, rule and the numbers behind each."""
    lines = ["# Claims check", "", f"This run: {setting}.", "",
             "Thresholds (config `claims:`): " + ", ".join(f"{k} = {v}" for k, v in result["settings"].items()) + ".",
             "", "| claim | verdict | rule | source |", "| --- | --- | --- | --- |"]
    lines += [f"| {c['claim']} | **{c['verdict']}**{' (within sampling error)' if c.get('within_sampling_error') else ''} "
              f"| {c['rule'].replace('|', chr(92) + '|')} | {c['source']} |" for c in result["claims"]]
    for c in result["claims"]:
        lines += ["", f"## {c['id']}: {c['verdict']}", "", c["claim"], ""]
        if c["missing"]:
            lines += [f"Not tested: no results for {', '.join(c['missing'])}.", ""]
        undecided = [f"{display_name(k['model'])} on {k['test_set']}" for k in c["checks"] if k.get("undecided")]
        if undecided:
            lines += [f"Sampling: the threshold lies inside the 95% interval of {', '.join(undecided)}: "
                      "the test set is too small to decide these checks (the verdict follows the measured accuracy).", ""]
        if c["checks"]:
            table = pd.DataFrame(c["checks"])
            for name in ("model", "protocol", "game", "reference"):
                if name in table:
                    table[name] = table[name].map(display_name)
            lines.append(table.to_markdown(index=False))
    return "\n".join(lines) + "\n"


def write_claims(evaluation_paths: Iterable[str | Path], analysis_paths: Iterable[str | Path],
                 summary_paths: Iterable[str | Path], paper_path: str | Path, settings: Mapping,
                 kmeans_paper_k: int | None, json_path: str | Path, markdown_path: str | Path,
                 table3_path: str | Path | None = None) -> dict:
    """Check the claims from the evaluation and analysis JSONs (and table3.csv when given)."""
    table3 = None
    if table3_path is not None:
        table3 = pd.read_csv(table3_path)
        missing = [c for c in ("model", "dataset", "value") if c not in table3.columns]
        if missing:
            raise ReportInputError(f"{table3_path}: lacks column(s) {missing}")
    evaluations = [read_evaluation(p) for p in evaluation_paths]
    summaries = {Path(p).parent.name: read_summary(p) for p in summary_paths}
    result = check_claims(evaluations, [read_analysis(p) for p in analysis_paths], load_paper_results(paper_path),
                          settings, kmeans_paper_k, table3)
    setting = run_setting(evaluations, summaries)
    atomic_write_json(json_path, {"run": setting, **result})
    atomic_write_text(markdown_path, claims_markdown(result, setting))
    return result
