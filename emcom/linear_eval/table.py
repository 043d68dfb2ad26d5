"""Table 3: linear evaluation of each model's frozen CNN, per dataset, beside the paper's numbers.

Rows (the paper's order, then this workflow's extras): Supervised (quoted from the paper's [24],
never computed here), SimCLR, the two +aug games (the paper's rows), the two −aug games (the paper
leaves them out: "below 5% on ILSVRC-val"), and the random-init floor. Columns: the configured
datasets (top-1 %, VOC07 mAP %), each with the paper's value beside it when the paper has one.
``table3.csv`` has one row per model × dataset (INTERFACES.md): model, dataset, metric, value,
paper, source (computed | quoted), top5, feature_dim, train_items, test_items.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd
import yaml

from emcom.io import atomic_write_text
from emcom.linear_eval.verdict import table3_checks, verdict_line

SUPERVISED = "supervised"
ROWS = {
    SUPERVISED: "Supervised (quoted from the paper's [24])",
    "simclr": "SimCLR",
    "game_aug_noshared": "game +aug −shared",
    "game_aug_shared": "game +aug +shared",
    "game_noaug_noshared": "game −aug −shared (extra row)",
    "game_noaug_shared": "game −aug +shared (extra row)",
    "random_init": "random init (floor, extra row)",
}
DATASET_LABELS = {"stamps": "stamps", "fashion_mnist": "Fashion-MNIST", "imagenet": "ILSVRC-val",
                  "places205": "Places205", "inaturalist2018": "iNaturalist2018", "voc07": "VOC07"}


def read_results(paths: Iterable[str | Path]) -> list[dict[str, Any]]:
    """The linear-evaluation JSONs ({R}/linear_eval/{model}/{dataset}.json)."""
    results = []
    for path in paths:
        data = json.loads(Path(path).read_text())
        missing = [k for k in ("model", "dataset", "metric", "value") if k not in data]
        if missing:
            raise ValueError(f"{path}: not a linear-evaluation result, lacks {missing}")
        results.append(data)
    return results


def paper_table3(path: str | Path) -> dict[str, dict[str, float]]:
    """The ``table3`` section of data/paper_results.yaml: {model: {dataset: percent}}."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"missing {path}: the paper's numbers (section table3)")
    data = yaml.safe_load(path.read_text()) or {}
    if "table3" not in data:
        raise ValueError(f"{path}: no section table3")
    return data["table3"]


def table3_frame(results: Sequence[Mapping[str, Any]], paper: Mapping[str, Mapping[str, float]],
                 columns: Sequence[str]) -> pd.DataFrame:
    """One row per model × dataset (long form, the CSV), Supervised quoted from ``paper``."""
    rows = []
    for dataset in columns:
        quoted = (paper.get(SUPERVISED) or {}).get(dataset)
        rows.append({"model": SUPERVISED, "dataset": dataset, "metric": _metric(dataset), "value": quoted,
                     "paper": quoted, "source": "quoted"})
    for result in results:
        if result["dataset"] not in columns:
            continue
        rows.append({"model": result["model"], "dataset": result["dataset"], "metric": result["metric"],
                     "value": round(float(result["value"]), 2),
                     "paper": (paper.get(result["model"]) or {}).get(result["dataset"]), "source": "computed",
                     "top5": round(result["top5"], 2) if "top5" in result else None,
                     "feature_dim": result.get("feature_dim"), "train_items": result.get("train_items"),
                     "test_items": result.get("test_items")})
    frame = pd.DataFrame(rows)
    for column in ("feature_dim", "train_items", "test_items"):  # counts stay integers beside the quoted rows' blanks
        if column in frame:
            frame[column] = frame[column].astype("Int64")
    order = {name: i for i, name in enumerate(ROWS)}
    frame["_row"] = frame["model"].map(lambda m: order.get(m, len(order)))
    frame["_col"] = frame["dataset"].map(list(columns).index)
    return frame.sort_values(["_row", "model", "_col"]).drop(columns=["_row", "_col"]).reset_index(drop=True)


def _metric(dataset: str) -> str:
    return "mAP" if dataset == "voc07" else "top1"


def _cell(value: Any) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{float(value):.1f}"


def wide_table(frame: pd.DataFrame, columns: Sequence[str], paper: Mapping[str, Mapping[str, float]]) -> pd.DataFrame:
    """Rows = models (display names), columns = datasets, plus "<dataset> (paper)" where the paper has values."""
    with_paper = [d for d in columns if any(d in (row or {}) for row in paper.values())]
    table = []
    for model in dict.fromkeys(frame["model"]):
        cells = frame[frame["model"] == model].set_index("dataset")
        row = {"model": ROWS.get(model, model)}
        for dataset in columns:
            label = DATASET_LABELS.get(dataset, dataset)
            row[label] = _cell(cells["value"].get(dataset)) if dataset in cells.index else "—"
            if dataset in with_paper:
                row[f"{label} (paper)"] = _cell((paper.get(model) or {}).get(dataset))
        table.append(row)
    return pd.DataFrame(table)


def caption(results: Sequence[Mapping[str, Any]], columns: Sequence[str], settings: Mapping[str, Any]) -> str:
    """What was measured: trunk, features, protocol, schedule, subsampling."""
    if not results:
        return "No linear-evaluation results."
    first = results[0]
    parts = [f"Linear evaluation of frozen CNN features ({first.get('backbone')} at {first.get('image_size')} px, "
             f"pool {first.get('pool')}: {first.get('feature_dim')}-d). Games: the Sender's CNN."]
    for dataset in columns:
        done = [r for r in results if r["dataset"] == dataset]
        if not done:
            continue
        r = done[0]
        if r["metric"] == "mAP":
            parts.append(f"{DATASET_LABELS.get(dataset, dataset)}: mAP (%) of per-class linear SVMs, C by 3-fold CV, "
                         f"{r.get('train_items')} trainval / {r.get('test_items')} test images.")
        else:
            s = r.get("settings", {})
            how = "augmented images through the frozen trunk" if r.get("augment") else "cached features, no augmentation"
            parts.append(f"{DATASET_LABELS.get(dataset, dataset)}: top-1 (%) of BN + linear head, {r.get('classes')} "
                         f"classes, {r.get('train_items')} train / {r.get('test_items')} test images, {s.get('epochs')} "
                         f"epochs (lr {s.get('lr')}, ×0.1 at {s.get('milestones')}), {how}.")
        subsample = (settings.get("datasets", {}).get(dataset) or {}).get("train_subsample")
        if subsample:
            parts.append(f"{DATASET_LABELS.get(dataset, dataset)}'s training images are a seeded subsample of "
                         f"{subsample} (for time).")
    parts.append("Supervised is quoted from the paper (its [24]), not computed here; a '(paper)' column holds "
                 "the paper's ResNet-50 value at full scale where it has one; — = no value.")
    return " ".join(parts)


def _tex(table: pd.DataFrame, text: str) -> str:
    def escape(value: str) -> str:
        return str(value).replace("_", r"\_").replace("%", r"\%").replace("—", "--").replace("−", "$-$")

    lines = [r"\begin{table}[t]", r"\centering", r"\begin{tabular}{l" + "r" * (table.shape[1] - 1) + "}", r"\toprule",
             " & ".join(escape(c) for c in table.columns) + r" \\", r"\midrule"]
    lines += [" & ".join(escape(v) for v in row) + r" \\" for row in table.itertuples(index=False)]
    lines += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{escape(text)}}}", r"\label{tab:linear-eval}",
              r"\end{table}"]
    return "\n".join(lines) + "\n"


def write_table3(result_paths: Iterable[str | Path], paper_path: str | Path, columns: Sequence[str],
                 settings: Mapping[str, Any], markdown: str | Path, csv: str | Path, tex: str | Path) -> pd.DataFrame:
    """Write Table 3 as Markdown, CSV (long, one row per model × dataset) and LaTeX; return the CSV frame."""
    results = read_results(result_paths)
    paper = paper_table3(paper_path)
    frame = table3_frame(results, paper, columns)
    table = wide_table(frame, columns, paper)
    text = caption(results, columns, settings)
    body = "# Table 3: linear evaluation\n\n" + table.to_markdown(index=False) + "\n\n" + text + "\n"
    if "stamps" in columns:  # the embedded default's reading of the paper's claim (emcom.linear_eval.verdict)
        body += "\n" + verdict_line(*table3_checks(frame, "stamps")) + "\n"
    atomic_write_text(markdown, body)
    atomic_write_text(csv, frame.to_csv(index=False))
    atomic_write_text(tex, _tex(table, text))
    return frame
