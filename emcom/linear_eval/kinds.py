"""The kinds of linear-evaluation dataset: which config keys name its files, and its protocol.

Torch-free on purpose: the workflow reads these when it builds the DAG (rules/linear_eval.smk), and
every ``snakemake`` start-up (one per SLURM job, twice) would otherwise import torch. The datasets'
readers are in :mod:`emcom.linear_eval.datasets`.
"""

from __future__ import annotations

from typing import Any, Mapping

# The keys naming files or folders, per kind: a dataset enters the DAG only when all are set.
PATH_KEYS = {
    "built": ("root",),
    "folder": ("train", "test"),
    "places205": ("images", "train_list", "test_list"),
    "inaturalist2018": ("images", "train_json", "test_json"),
    "voc2007": ("trainval", "test"),
}


def paths_set(spec: Mapping[str, Any]) -> bool:
    """True when every path key of the dataset's kind is filled in (not null)."""
    keys = PATH_KEYS.get(spec.get("kind"), ("__unknown_kind__",))
    return all(spec.get(key) is not None for key in keys)


def protocol(spec: Mapping[str, Any]) -> str:
    """``svm`` (VOC07: linear SVMs, mAP) or ``linear`` (a trained linear head, top-1/top-5)."""
    return "svm" if spec.get("kind") == "voc2007" else "linear"
