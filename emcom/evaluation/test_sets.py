"""Names of the augmented test sets (the paper's Appendix A.4), kept free of torch.

The workflow reads these names when it builds the DAG (rules/appendix.smk, :mod:`emcom.appendix`);
importing them must not import torch, which every ``snakemake`` start-up (one per SLURM job,
twice) would otherwise pay for. The views themselves are drawn in :mod:`emcom.evaluation.augmented`.
"""

from __future__ import annotations

from typing import Optional

AUGMENTED_SUFFIX = "_aug"
AUGMENTED_SPLITS = ("val", "ood")  # the dataset splits the appendix plays again with augmented views
AUGMENTED_TEST_SETS = tuple(f"{split}{AUGMENTED_SUFFIX}" for split in AUGMENTED_SPLITS)


def augmented_split(test_set: str) -> Optional[str]:
    """``val_aug`` -> ``val``; None for a test set without augmentation."""
    if test_set.endswith(AUGMENTED_SUFFIX) and len(test_set) > len(AUGMENTED_SUFFIX):
        return test_set[: -len(AUGMENTED_SUFFIX)]
    return None
