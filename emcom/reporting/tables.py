"""Tables 1 (game accuracy) and 2 (protocol analysis), each beside the paper's values.

Each table is written three ways: a tidy CSV (one row per model × test set, numbers only, for
code), and Markdown and LaTeX (one row per model, what a reader compares with the paper). Seeds of
one game (``<variant>_seed<N>``) are pooled into mean ± sd. The caption states what this run was
(dataset, image size, backbone, epochs, candidates per game, global batch, lr) next to the
paper's setting, so a small run's table is never mistaken for the ImageNet one.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from emcom.io import atomic_path, atomic_write_text
from emcom.reporting.inputs import (
    display_name,
    group_names,
    kmeans_k,
    model_group,
    read_analysis,
    read_evaluation,
    read_summary,
)
from emcom.reporting.intervals import accuracy_interval
from emcom.reporting.paper import load_paper_results, paper_is_ns, paper_value

TABLE1_TEST_SETS = ("val", "ood", "noise", "noise_raw")
TABLE2_TEST_SETS = ("val", "ood")
TEST_SET_NAMES = {"val": "val", "ood": "OOD", "noise": "noise (normalised)", "noise_raw": "noise (raw N(0,1))"}
# The paper has one blob column; its text says raw N(0,1), the authors' code normalises: both
# of our noise columns are compared with it.
PAPER_TEST_SET = {"val": "val", "ood": "ood", "noise": "noise", "noise_raw": "noise"}


def _f(value: float | None) -> float:
    """A JSON number, None (JSON's stand-in for NaN, e.g. WNSim with no same-symbol pair) as NaN."""
    return math.nan if value is None else float(value)


def _mean_sd(values: Iterable[float]) -> tuple[float, float]:
    values = np.asarray(list(values), dtype=float)
    sd = float(values.std(ddof=1)) if len(values) > 1 else math.nan
    return float(values.mean()), sd


def _by_key(records: Iterable[dict], name_key: str) -> dict[str, dict[str, dict]]:
    """Records -> {name: {test_set: record}}."""
    out: dict[str, dict[str, dict]] = {}
    for record in records:
        out.setdefault(record[name_key], {})[record["test_set"]] = record
    return out


# ---- Table 1 ------------------------------------------------------------------------------------
def table1_frame(evaluations: Iterable[dict], paper_table1: Mapping,
                 test_sets: Iterable[str] = TABLE1_TEST_SETS) -> pd.DataFrame:
    """One row per model group × test set: accuracy (%) as mean over seeds, sd, chance, paper, diff.

    ``ci95_low``/``ci95_high``: the exact binomial 95% interval of a single-seed accuracy over its test
    items (:mod:`emcom.reporting.intervals`); NaN for pooled seeds, whose sd says more.
    ``evaluations``: evaluation JSON records (keys variant, test_set, accuracy, chance, items).
    """
    by_variant = _by_key(evaluations, "variant")
    rows = []
    for group, variants in group_names(by_variant).items():
        for test_set in test_sets:
            records = [by_variant[v][test_set] for v in variants if test_set in by_variant[v]]
            if not records:
                continue
            accuracy, sd = _mean_sd(100 * r["accuracy"] for r in records)
            paper = paper_value(paper_table1, group, PAPER_TEST_SET.get(test_set, test_set))
            low, high = math.nan, math.nan
            if len(records) == 1:
                low, high = (100 * x for x in accuracy_interval(records[0]["accuracy"], int(records[0]["items"])))
            rows.append({
                "model": group, "label": display_name(group), "test_set": test_set,
                "accuracy": accuracy, "accuracy_sd": sd, "seeds": len(records), "ci95_low": low, "ci95_high": high,
                "chance": 100 * float(np.mean([r["chance"] for r in records])),
                "items": int(np.mean([r["items"] for r in records])),
                "paper": paper, "diff": accuracy - paper,
            })
    return pd.DataFrame(rows, columns=["model", "label", "test_set", "accuracy", "accuracy_sd", "seeds",
                                       "ci95_low", "ci95_high", "chance", "items", "paper", "diff"])


def format_number(value: float, sd: float = math.nan, seeds: int = 1, digits: int = 1) -> str:
    """A cell: the value to ``digits`` decimals, ' ± sd (n seeds)' over several seeds, '—' for None/NaN."""
    if value is None or math.isnan(value):
        return "—"
    text = f"{value:.{digits}f}"
    if seeds > 1:
        text += f" ± {sd:.{digits}f} ({seeds} seeds)"
    return text


def _paper_diff(paper: float, diff: float, digits: int, paper_ns: bool = False) -> str:
    if paper_ns:
        return "NS"
    if paper is None or math.isnan(paper):
        return "—"
    return f"{paper:.{digits}f} (Δ {diff:+.{digits}f})" if not math.isnan(diff) else f"{paper:.{digits}f}"


def table1_wide(frame: pd.DataFrame) -> pd.DataFrame:
    """The reader's Table 1: one row per model; per test set our accuracy (%) and 'paper (Δ)'."""
    rows = {}
    for _, r in frame.iterrows():
        row = rows.setdefault(r["label"], {})
        name = TEST_SET_NAMES.get(r["test_set"], r["test_set"])
        row[name] = format_number(r["accuracy"], r["accuracy_sd"], r["seeds"])
        if not math.isnan(r["ci95_low"]):
            row[name] += f" [{r['ci95_low']:.1f}, {r['ci95_high']:.1f}]"
        row[f"{name}: paper (Δ)"] = _paper_diff(r["paper"], r["diff"], 1)
    return _ordered(pd.DataFrame.from_dict(rows, orient="index").rename_axis("model").fillna("—"), frame)


def _ordered(wide: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """Columns grouped by test set in the tables' order (val, OOD, noise...), whichever row came first."""
    names = [TEST_SET_NAMES.get(t, t) for t in dict.fromkeys((*TABLE1_TEST_SETS, *frame["test_set"]))]

    def rank(column: str) -> int:  # the test set whose (longest) name the column starts with
        owners = [n for n in names if column == n or column.startswith((n + " ", n + ":"))]
        return names.index(max(owners, key=len))

    return wide[sorted(wide.columns, key=lambda c: (rank(c), list(wide.columns).index(c)))]


# ---- Table 2 ------------------------------------------------------------------------------------
def _paper_row(protocol: str, kmeans_paper_k: int | None) -> str | None:
    """The paper's row for one of our protocols: k-means only where k is the paper's choice."""
    k = kmeans_k(protocol)
    if k is not None:
        return "simclr_kmeans" if k == kmeans_paper_k else None
    return model_group(protocol)


def table2_frame(analyses: Iterable[dict], paper_table2: Mapping, kmeans_paper_k: int | None,
                 test_sets: Iterable[str] = TABLE2_TEST_SETS) -> pd.DataFrame:
    """One row per protocol group × test set: |P|, nMI and WNSim (mean over seeds) with their
    permutation-null means and p-values, significance, the paper's values and the differences.

    ``kmeans_paper_k``: the k whose k-means row is compared with the paper's SimCLR_kmeans (the
    paper reports k = its vocabulary size); other k get no paper value.
    A score counts as significant only if it is significant for every seed of the group.
    """
    by_protocol = _by_key(analyses, "protocol")
    rows = []
    for group, protocols in group_names(by_protocol).items():
        paper_row = _paper_row(group, kmeans_paper_k)
        for test_set in test_sets:
            records = [by_protocol[p][test_set] for p in protocols if test_set in by_protocol[p]]
            if not records:
                continue
            size, size_sd = _mean_sd(r["symbols_used"] for r in records)
            row: dict[str, Any] = {
                "protocol": group, "label": display_name(group), "test_set": test_set, "seeds": len(records),
                "items": int(np.mean([r["items"] for r in records])),
                "classes": int(np.mean([r.get("classes", 0) for r in records])),
                "symbols_used": size, "symbols_used_sd": size_sd,
                "symbols_used_paper": paper_value(paper_table2, paper_row, test_set, "symbols_used"),
            }
            for score in ("nmi", "wnsim"):
                value, sd = _mean_sd(_f(r[score]["value"]) for r in records)
                significant = sum(bool(r[score]["significant"]) for r in records)
                paper = paper_value(paper_table2, paper_row, test_set, score)
                row.update({
                    score: value, f"{score}_sd": sd,
                    f"{score}_null_mean": float(np.mean([_f(r[score]["null_mean"]) for r in records])),
                    f"{score}_p_value": float(np.max([_f(r[score]["p_value"]) for r in records])),
                    f"{score}_significant": significant == len(records),
                    f"{score}_significant_seeds": significant,
                    f"{score}_paper": paper,
                    f"{score}_paper_ns": paper_is_ns(paper_table2, paper_row, test_set, score),
                    # NS cells are not compared: the paper prints no value, and ours is chance.
                    f"{score}_diff": value - paper if significant == len(records) else math.nan,
                })
            rows.append(row)
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=["protocol", "label", "test_set"])


def _score_cell(r: pd.Series, score: str) -> str:
    value = format_number(r[score], r[f"{score}_sd"], r["seeds"], digits=2)
    null = f"null {format_number(r[f'{score}_null_mean'], digits=2)}"
    if r[f"{score}_significant"]:
        return f"{value} ({null})"
    if r["seeds"] > 1 and r[f"{score}_significant_seeds"]:
        return f"NS in {r['seeds'] - r[f'{score}_significant_seeds']}/{r['seeds']} seeds: {value} ({null})"
    return f"NS ({value}; {null})"


def table2_wide(frame: pd.DataFrame) -> pd.DataFrame:
    """The reader's Table 2: per test set |P|, nMI and WNSim (with the null mean), each beside 'paper (Δ)'."""
    rows = {}
    for _, r in frame.iterrows():
        row = rows.setdefault(r["label"], {})
        name = TEST_SET_NAMES.get(r["test_set"], r["test_set"])
        row[f"{name} |P|"] = format_number(r["symbols_used"], r["symbols_used_sd"], r["seeds"], digits=0)
        row[f"{name} |P|: paper"] = format_number(r["symbols_used_paper"], digits=0)
        for score, title in (("nmi", "nMI"), ("wnsim", "WNSim")):
            row[f"{name} {title}"] = _score_cell(r, score)
            row[f"{name} {title}: paper (Δ)"] = _paper_diff(r[f"{score}_paper"], r[f"{score}_diff"], 2,
                                                            paper_ns=bool(r[f"{score}_paper_ns"]))
    return _ordered(pd.DataFrame.from_dict(rows, orient="index").rename_axis("protocol").fillna("—"), frame)


# ---- captions -----------------------------------------------------------------------------------
def one_or_all(values: Mapping[str, Any]) -> str:
    """'64' when every model agrees, else 'a: 64, b: 128'."""
    distinct = {str(v) for v in values.values()}
    if len(distinct) == 1:
        return distinct.pop()
    return ", ".join(f"{k}: {v}" for k, v in values.items())


def run_setting(evaluations: Iterable[dict], summaries: Mapping[str, dict]) -> str:
    """This run, in words: dataset, image size, backbone, epochs, candidates per game, batch, lr."""
    evaluations = list(evaluations)
    games = {e["variant"]: e for e in evaluations if e["test_set"] == "val"} or {e["variant"]: e for e in evaluations}
    field = lambda key: one_or_all({v: e.get(key, "?") for v, e in games.items()})  # noqa: E731
    batch = one_or_all({v: s["global_batch"] for v, s in summaries.items()})
    lr = one_or_all({v: f"{s['lr']:.4g}" for v, s in summaries.items()})
    epochs = one_or_all({v: s["epochs"] for v, s in summaries.items()})
    backbone = one_or_all({v: s["backbone"] for v, s in summaries.items()})
    return (f"dataset {field('dataset')}, {field('image_size')} px, backbone {backbone}, {epochs} epochs, "
            f"{field('batch_size')} candidates per game, training global batch {batch}, lr {lr}")


def paper_setting(setting: Mapping) -> str:
    return (f"dataset {setting['dataset']}, {setting['image_size']} px, backbone {setting['backbone']}, "
            f"{setting['epochs']} epochs, {setting['candidates']} candidates per game, "
            f"global batch {setting['global_batch']}, lr {setting['lr']}")


# ---- writing ------------------------------------------------------------------------------------
def markdown_table(wide: pd.DataFrame, index: bool = True) -> str:
    """A pipe table of formatted cells, kept exactly as written (``disable_numparse``: "30.0" stays).

    "|P|" in a header or "(|V|=64)" in a row label would split a column: escaped for Markdown only.
    """
    escape = lambda text: str(text).replace("|", "\\|")  # noqa: E731
    escaped = wide.rename(columns=escape, index=escape).map(escape)
    return escaped.to_markdown(disable_numparse=True, index=index)


# LaTeX for the few non-ASCII signs the cells use, so the .tex compiles with pdflatex too.
_TEX_SIGNS = {"Δ": r"$\Delta$", "±": r"$\pm$", "−": "$-$", "—": "---", "|P|": r"$|P|$", "|V|": r"$|V|$"}


def _tex_escape(text: str) -> str:
    for sign, tex in {"\\": r"\textbackslash{}", "%": r"\%", "_": r"\_", "&": r"\&", "#": r"\#"}.items():
        text = text.replace(sign, tex)
    return text


def write_markdown_and_csv(wide: pd.DataFrame, tidy: pd.DataFrame, title: str, caption: str,
                           markdown_path: str | Path, csv_path: str | Path, index: bool = True) -> None:
    """The tidy frame as CSV (numbers, for code) and the wide one as a titled, captioned Markdown table."""
    with atomic_path(csv_path) as tmp:
        tidy.to_csv(tmp, index=False, float_format="%.6g")
    atomic_write_text(markdown_path, f"# {title}\n\n{caption}\n\n{markdown_table(wide, index=index)}\n")


def _write(wide: pd.DataFrame, tidy: pd.DataFrame, title: str, caption: str, label: str,
           markdown_path: str | Path, csv_path: str | Path, tex_path: str | Path) -> None:
    write_markdown_and_csv(wide, tidy, title, caption, markdown_path, csv_path)
    tex = wide.to_latex(caption=_tex_escape(f"{title}. {caption}"), label=label, escape=True)
    for sign, replacement in _TEX_SIGNS.items():
        tex = tex.replace(sign, replacement)
    atomic_write_text(tex_path, tex)


def write_table1(evaluation_paths: Iterable[str | Path], summary_paths: Iterable[str | Path],
                 paper_path: str | Path, markdown_path: str | Path, csv_path: str | Path,
                 tex_path: str | Path) -> pd.DataFrame:
    """Table 1 from the evaluation JSONs and the models' summary.json (named by their folder)."""
    evaluations = [read_evaluation(p) for p in evaluation_paths]
    summaries = {Path(p).parent.name: read_summary(p) for p in summary_paths}
    paper = load_paper_results(paper_path)
    tidy = table1_frame(evaluations, paper["table1"])
    chance = one_or_all({r["model"]: f"{r['chance']:.2f}%" for _, r in tidy.iterrows()})
    noise = {e["test_set"]: e.get("noise_definition") for e in evaluations if e["test_set"].startswith("noise")}
    caption = (
        f"Game-playing accuracy (%) of this run: {run_setting(evaluations, summaries)}; chance {chance}. "
        f"Beside each cell: the paper's value and our difference (percentage points), measured on "
        f"{paper_setting(paper['setting'])}. SimCLR_disc plays with the argmax of its s layer. "
        f"Noise columns ({', '.join(f'{k}: {v}' for k, v in sorted(noise.items()))}): 'normalised' draws "
        f"N(0,1) pixels then applies the ImageNet Normalize, as the authors' code; 'raw' feeds N(0,1) "
        f"pixels, as the paper's text says; both are compared with the paper's one blob column. "
        f"[low, high]: the exact binomial 95% interval of the accuracy over the test set's items (its "
        f"sampling error; table1.csv has the item counts). Seeds of one game are pooled as mean ± sd.")
    _write(table1_wide(tidy), tidy, "Table 1: game-playing accuracy", caption, "tab:game-accuracy",
           markdown_path, csv_path, tex_path)
    return tidy


def write_table2(analysis_paths: Iterable[str | Path], evaluation_paths: Iterable[str | Path],
                 summary_paths: Iterable[str | Path], paper_path: str | Path, kmeans_paper_k: int | None,
                 markdown_path: str | Path, csv_path: str | Path, tex_path: str | Path) -> pd.DataFrame:
    """Table 2 from the analysis JSONs; the evaluation JSONs and summaries only feed the caption."""
    analyses = [read_analysis(p) for p in analysis_paths]
    evaluations = [read_evaluation(p) for p in evaluation_paths]
    summaries = {Path(p).parent.name: read_summary(p) for p in summary_paths}
    paper = load_paper_results(paper_path)
    tidy = table2_frame(analyses, paper["table2"], kmeans_paper_k)
    permutations = one_or_all({a["protocol"] + "/" + a["test_set"]: a.get("permutations", "?") for a in analyses})
    alpha = one_or_all({a["protocol"] + "/" + a["test_set"]: a.get("alpha", "?") for a in analyses})
    sizes = "; ".join(
        f"{TEST_SET_NAMES.get(t, t)}: {one_or_all(dict(zip(g['protocol'], g['items'])))} items of "
        f"{one_or_all(dict(zip(g['protocol'], g['classes'])))} classes" for t, g in tidy.groupby("test_set", sort=False))
    caption = (
        f"Protocol analysis of this run: {run_setting(evaluations, summaries)}; {sizes}. "
        f"|P| = distinct symbols used; nMI = MI(labels; symbols) / mean of the two entropies; WNSim = mean "
        f"WordNet path similarity of the classes of item pairs that share a symbol. NS: not significantly "
        f"above the permutation null ({permutations} permutations, alpha {alpha}); 'null' is the null's "
        f"mean, the score that chance alone gives at this test-set size. SimCLR_disc uses the argmax of h; "
        f"SimCLR_kmeans clusters h (the paper's row is compared with k = {kmeans_paper_k}). Beside each "
        f"cell: the paper's value and our difference, measured on {paper_setting(paper['setting'])}.")
    _write(table2_wide(tidy), tidy, "Table 2: protocol analysis", caption, "tab:protocol-analysis",
           markdown_path, csv_path, tex_path)
    return tidy
