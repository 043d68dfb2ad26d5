"""Sampling uncertainty of a game accuracy: the exact (Clopper–Pearson) binomial interval.

A test set of n items played once gives k correct targets; the interval treats each item as a
Bernoulli draw (items of one game share their candidates, so it is an approximation). At the
embedded default's sizes (768–8,192 items) a 95% interval is 0.5–7 points wide, the size of the
margins by which claims such as "at most 1.5 × chance" are won or lost, so Table 1 and the claims
check print it beside the accuracy.
"""

from __future__ import annotations


def accuracy_interval(accuracy: float, items: int, level: float = 0.95) -> tuple[float, float]:
    """(low, high), as fractions, of the exact binomial interval of ``accuracy`` (a fraction) over ``items``."""
    if items <= 0:
        raise ValueError(f"an accuracy interval needs at least one item, got items={items}")
    if not 0.0 <= accuracy <= 1.0:
        raise ValueError(f"accuracy must be a fraction in [0, 1], got {accuracy}")
    # Imported here: scipy.stats took 1.2-1.5 s to import on 2 cores, and every reporting job imports this module
    # through emcom.reporting.tables, most of them (figures, Table 2) without needing an interval.
    from scipy.stats import binomtest

    correct = round(accuracy * items)  # accuracy = correct / items in every evaluation JSON
    interval = binomtest(correct, items).proportion_ci(confidence_level=level, method="exact")
    return float(interval.low), float(interval.high)
