"""VOC07 linear SVMs on frozen features, as VISSL's SVM benchmark (SPEC.md, Linear evaluation).

Features are L2-normalised (x / (‖x‖ + 1e-5)). For each of the 20 classes, one-vs-rest
scikit-learn LinearSVC (squared hinge, l2 penalty, dual, class_weight {1: 2, -1: 1}, tol 1e-4,
max_iter 2000, as VISSL's ``SVMTrainer``); C is chosen per class from :data:`COSTS` by 3-fold
cross-validation on trainval scored by scikit-learn's average precision, then the SVM is refit on
all of trainval with that C. Labels per class: 1 positive, 0 only "difficult" objects, -1 absent;
difficult images are negatives in training and left out at test. Test AP is the area under the
monotone-interpolated precision/recall curve (VOC2010+, not the 11-point AP); mAP is the mean
over the classes that have test positives.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from sklearn.metrics import precision_recall_curve
from sklearn.model_selection import cross_val_score
from sklearn.svm import LinearSVC

from emcom.io import atomic_write_json

log = logging.getLogger(__name__)

COSTS = (0.01, 0.1, 1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 50.0, 100.0, 1000.0)  # VISSL's VOC07 grid


def l2_normalize(features: np.ndarray) -> np.ndarray:
    """(N, D) -> rows divided by their norm + 1e-5 (VISSL's normalize_features)."""
    features = np.asarray(features, dtype=np.float32)
    return features / (np.linalg.norm(features, axis=1, keepdims=True) + 1e-5)


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    """VOC2010+ AP of one class: labels 1 positive, -1 negative, 0 difficult (left out).

    Tied scores form one threshold (scikit-learn's precision/recall curve), so the result does not
    depend on the order of tied items. Precision is made monotone (each point takes the best
    precision at any higher recall) and integrated over recall. No positives: NaN (undefined).
    """
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels)
    keep = labels != 0
    scores, positive = scores[keep], labels[keep] == 1
    if not positive.any():
        return float("nan")
    precision, recall, _ = precision_recall_curve(positive, scores)
    precision, recall = precision[::-1], recall[::-1]  # recall increasing, starting at (0, 1)
    monotone = np.maximum.accumulate(precision[::-1])[::-1]
    return float(np.sum(np.diff(recall) * monotone[1:]))


def make_svm(cost: float) -> LinearSVC:
    return LinearSVC(C=cost, class_weight={1: 2, -1: 1}, intercept_scaling=1.0, penalty="l2",
                     loss="squared_hinge", tol=1e-4, dual=True, max_iter=2000)


def select_cost(features: np.ndarray, targets: np.ndarray, costs=COSTS, folds: int = 3) -> tuple[float, dict[str, float]]:
    """The C of ``costs`` with the best mean ``folds``-fold CV AP (first on ties) and every C's score.

    ``targets`` are ±1 (difficult already mapped to -1).
    """
    scores = {}
    for cost in costs:
        scores[str(cost)] = float(np.mean(cross_val_score(make_svm(cost), features, targets, cv=folds,
                                                          scoring="average_precision")))
    best = max(costs, key=lambda c: (scores[str(c)], -costs.index(c)))
    return best, scores


def _one_class(cls: int, train_x, train_labels, test_x, test_labels, costs, folds) -> dict[str, Any]:
    tick = time.perf_counter()
    targets = np.where(train_labels[:, cls] == 1, 1, -1)  # difficult (0) trains as a negative
    cost, cv = select_cost(train_x, targets, costs, folds)
    svm = make_svm(cost).fit(train_x, targets)
    ap = average_precision(svm.decision_function(test_x), test_labels[:, cls])
    return {"class": cls, "C": cost, "cv_ap": cv, "ap": ap, "seconds": round(time.perf_counter() - tick, 2)}


def svm_benchmark(train_x: np.ndarray, train_labels: np.ndarray, test_x: np.ndarray, test_labels: np.ndarray,
                  class_names: list[str] | None = None, costs=COSTS, folds: int = 3, n_jobs: int = 1) -> dict[str, Any]:
    """Train one SVM per class and return {"map", "classes": [{name, C, cv_ap, ap}], ...} (AP in %)."""
    train_x, test_x = l2_normalize(train_x), l2_normalize(test_x)
    count = train_labels.shape[1]
    names = class_names or [str(c) for c in range(count)]
    per_class = Parallel(n_jobs=n_jobs)(
        delayed(_one_class)(c, train_x, train_labels, test_x, test_labels, tuple(costs), folds) for c in range(count))
    for row in per_class:
        row["name"] = names[row["class"]]
        row["ap"] = 100.0 * row["ap"]
    defined = [row["ap"] for row in per_class if not np.isnan(row["ap"])]
    missing = [row["name"] for row in per_class if np.isnan(row["ap"])]
    if missing:
        log.warning("classes without test positives, left out of mAP: %s", missing)
    return {"map": float(np.mean(defined)) if defined else float("nan"), "classes": per_class,
            "classes_without_positives": missing, "costs": list(costs), "folds": folds}


def svm_on_cache(train_stem: str | Path, test_stem: str | Path, out_json: str | Path, costs=COSTS,
                 folds: int = 3, n_jobs: int = 1) -> dict[str, Any]:
    """VOC07 SVMs on cached trainval/test features; writes the result JSON (metric mAP, in %)."""
    from emcom.linear_eval.datasets import VOC_CLASSES
    from emcom.linear_eval.features import load_cached

    train_x, train_y, train_meta = load_cached(train_stem, mmap=False)
    test_x, test_y, test_meta = load_cached(test_stem, mmap=False)
    tick = time.perf_counter()
    result = svm_benchmark(train_x, train_y, test_x, test_y, list(VOC_CLASSES), costs, folds, n_jobs)
    meta = {key: train_meta[key] for key in ("model", "kind", "source", "backbone", "image_size", "dataset", "pool")}
    output = {**meta, "protocol": "svm", "metric": "mAP", "value": result["map"], **result,
              "train_items": int(len(train_y)), "test_items": int(len(test_y)), "feature_dim": int(train_x.shape[1]),
              "svm_seconds": round(time.perf_counter() - tick, 2), "extraction": {"train": train_meta, "test": test_meta}}
    atomic_write_json(out_json, output)
    return output
