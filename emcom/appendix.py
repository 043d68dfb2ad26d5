"""What config.yaml's ``appendix`` section switches on: the paper's Appendix A.4-A.6 experiments.

All off by default, so the shipped DAG is the main paper's. When on:

- ``test_time_augmentation`` (A.4): every model also plays ``val_aug`` and ``ood_aug``
  (:mod:`emcom.evaluation.augmented`); Table A.4.
- ``test_candidates`` (A.5, at test time): every model also plays val and ood with each count as
  the candidate set; Table A.5.
- ``vocab_sizes`` / ``train_candidates`` (A.6 and A.5 at training time): new variants
  (:func:`emcom.variants.sweep_variants`), trained, evaluated and analysed like any; Table A.6.
"""

from __future__ import annotations

from typing import Any, Mapping

from emcom.evaluation.test_sets import AUGMENTED_TEST_SETS

CANDIDATE_TEST_SETS = ("val", "ood")  # A.5: the test sets played again with each candidate count
TABLE_TEST_SETS = ("val", "ood")  # the plain test sets every appendix table reads


def sweeps_on(appendix: Mapping[str, Any]) -> bool:
    """True when ``vocab_sizes`` or ``train_candidates`` lists both variants and values."""
    return any((appendix.get(key) or {}).get("variants") and (appendix.get(key) or {}).get("values")
               for key in ("vocab_sizes", "train_candidates"))


def appendix_tables(appendix: Mapping[str, Any]) -> list[str]:
    """The appendix tables to build (``table_a4``, ``table_a5``, ``table_a6``), in order."""
    switches = {
        "table_a4": bool(appendix.get("test_time_augmentation")),
        "table_a5": bool(appendix.get("test_candidates")),
        "table_a6": sweeps_on(appendix),
    }
    return [table for table, on in switches.items() if on]


def evaluation_test_sets(test_sets: list[str], appendix: Mapping[str, Any]) -> list[str]:
    """``evaluation.test_sets``, plus val and ood when an appendix table reads them, plus
    ``val_aug`` and ``ood_aug`` when ``test_time_augmentation`` is on; without duplicates."""
    extra = list(TABLE_TEST_SETS) if appendix_tables(appendix) else []
    if appendix.get("test_time_augmentation"):
        extra += AUGMENTED_TEST_SETS
    return list(dict.fromkeys([*test_sets, *extra]))
