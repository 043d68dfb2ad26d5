"""Choose out-of-distribution classes the way the paper built its OOD set, with WordNet.

The paper's OOD synsets are neither ILSVRC classes nor hypernyms/hyponyms of one. Here, out of a
pool of candidate classes, a seeded draw holds some out so that:

- no OOD class is the same as, a hypernym of, or a hyponym of any training class;
- every OOD class belongs to a domain the training classes cover: its WordNet lexicographer file
  (``noun.animal``, ``noun.food``, ``noun.artifact``...) is also that of some training class.

Classes linked by an is-a relation must fall on the same side, so the draw picks whole connected
groups of the "related" graph (most groups are single classes).
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Sequence

import numpy as np

from emcom.wordnet import WordNet

log = logging.getLogger(__name__)


def related_groups(wnids: Sequence[str], wordnet: WordNet) -> list[list[str]]:
    """Connected components of the graph whose edges join is-a related classes, each sorted."""
    wnids = sorted(set(wnids))
    parent = {w: w for w in wnids}

    def root(w: str) -> str:
        while parent[w] != w:
            parent[w] = parent[parent[w]]
            w = parent[w]
        return w

    for i, a in enumerate(wnids):
        for b in wnids[i + 1 :]:
            if wordnet.related(a, b):
                parent[root(a)] = root(b)
    groups: dict[str, list[str]] = {}
    for w in wnids:
        groups.setdefault(root(w), []).append(w)
    return sorted(groups.values())


def choose_ood_classes(wnids: Sequence[str], wordnet: WordNet, fraction: float, seed: int) -> list[str]:
    """About ``fraction`` of ``wnids`` (rounded; never more) to hold out as OOD classes, sorted.

    Groups of related classes are visited in a seeded random order and taken whole while they fit
    the target count and leave every domain of an OOD class with at least one training class.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"ood_fraction must be in (0, 1), got {fraction!r}")
    target = round(fraction * len(set(wnids)))
    groups = related_groups(wnids, wordnet)
    train_per_domain = Counter(wordnet.lexname(w) for group in groups for w in group)
    order = np.random.default_rng(seed).permutation(len(groups))
    chosen: list[str] = []
    for index in order:
        group = groups[index]
        if len(chosen) + len(group) > target:
            continue
        needed = Counter(wordnet.lexname(w) for w in group)
        if any(train_per_domain[domain] - count < 1 for domain, count in needed.items()):
            continue  # it would leave its domain without a training class
        train_per_domain.subtract(needed)
        chosen.extend(group)
        if len(chosen) == target:
            break
    if not chosen:
        raise ValueError(
            f"no class can be held out as OOD among {len(set(wnids))} (ood_fraction {fraction}): every "
            "candidate is related to a training class or alone in its WordNet domain"
        )
    log.info("OOD: %d of %d classes (target %d), %d related groups", len(chosen), len(set(wnids)), target, len(groups))
    return sorted(chosen)


def check_ood_split(train: Sequence[str], ood: Sequence[str], wordnet: WordNet) -> None:
    """Raise ``ValueError`` naming the first OOD class related to a training class or out of domain."""
    domains = {wordnet.lexname(w) for w in train}
    for o in ood:
        if wordnet.lexname(o) not in domains:
            raise ValueError(f"OOD class {o} ({wordnet.lexname(o)}) is in no training domain")
        for t in train:
            if wordnet.related(o, t):
                raise ValueError(f"OOD class {o} is related (is-a) to training class {t}")
