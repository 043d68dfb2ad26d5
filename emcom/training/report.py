"""A readable account of the trained models: one table row per variant, and the training curves."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from emcom.io import atomic_path, atomic_write_text  # noqa: E402
from emcom.training.trainer import METRICS_NAME  # noqa: E402

COLUMNS = ["variant", "kind", "shared", "augment", "epochs", "global_batch", "lr", "objective",
           "final_loss", "final_train_accuracy", "images_per_second", "train_minutes"]


def read_history(metrics_path: str | Path) -> pd.DataFrame:
    """metrics.jsonl -> one row per epoch."""
    lines = Path(metrics_path).read_text().splitlines()
    return pd.DataFrame([json.loads(line) for line in lines if line.strip()])


def training_table(summaries: Mapping[str, str | Path]) -> pd.DataFrame:
    """variant -> summary.json path, to one row per variant (COLUMNS)."""
    rows = []
    for variant, path in summaries.items():
        summary = json.loads(Path(path).read_text())
        final = summary["final"] or {}
        rows.append({
            "variant": variant, "kind": summary["kind"], "shared": summary["shared"],
            "augment": summary["augment"], "epochs": summary["epochs"], "global_batch": summary["global_batch"],
            "lr": summary["lr"],
            # summaries written before "objective" existed say nothing: leave the cell empty, not guessed
            "objective": summary.get("objective"), "final_loss": final.get("loss"),
            "final_train_accuracy": final.get("accuracy"),
            "images_per_second": final.get("images_per_second"), "train_minutes": summary["train_seconds"] / 60,
        })
    return pd.DataFrame(rows, columns=COLUMNS)


def write_training_report(summaries: Mapping[str, str | Path], csv_path: str | Path, markdown_path: str | Path,
                          figure_path: str | Path) -> pd.DataFrame:
    """Write the per-variant table (CSV and Markdown) and loss/accuracy curves (PNG).

    ``summaries``: variant -> its summary.json; the curves come from the metrics.jsonl beside it.
    """
    table = training_table(summaries)
    with atomic_path(csv_path) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4g")
    note = ("Training accuracy is measured during training: relaxed Gumbel-Softmax messages and "
            "augmented views for games, positive retrieval among 2B-1 views for SimCLR. "
            "It is not the evaluation accuracy of Table 1. `objective` names the loss: the game's, or "
            "NT-Xent in its standard form or the authors' (`ntxent-egg`: the positive counted twice, the loss "
            "halved), so SimCLR's final losses compare only between rows of the same objective.\n\n")
    atomic_write_text(markdown_path, "# Training\n\n" + note + table.to_markdown(index=False, floatfmt=".4g") + "\n")
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for variant, path in summaries.items():
        history = read_history(Path(path).with_name(METRICS_NAME))
        loss_axis.plot(history["epoch"], history["loss"], marker="o", label=variant)
        accuracy_axis.plot(history["epoch"], history["accuracy"], marker="o", label=variant)
    loss_axis.set(xlabel="epoch", ylabel="training loss", title="Loss")
    accuracy_axis.set(xlabel="epoch", ylabel="training accuracy", title="Accuracy (training mode)", ylim=(0, 1))
    accuracy_axis.legend(fontsize="small")
    with atomic_path(figure_path) as tmp:
        figure.savefig(tmp, dpi=120, format="png")
    plt.close(figure)
    return table
