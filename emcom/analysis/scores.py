"""nMI and WNSim of a protocol (SPEC.md, Evaluation and analysis), observed and under permutations.

Both scores are functions of the symbol x class contingency table C (c_sk = items of class k that
got symbol s; row sums a_s, column sums b_k, N items):

- nMI = MI / ((H(symbols) + H(classes)) / 2), MI = log N + (1/N) sum c log c
  - (1/N) sum a log a - (1/N) sum b log b (natural log; the base cancels). Only ``sum c log c``
  depends on how symbols pair with classes: the margins, hence the entropies, are fixed.
- WNSim = mean path similarity over all unordered pairs of distinct items that share a symbol,
  with sim(k, k) = 1 (a same-class pair counts 1.0). Per symbol the pair sum is
  sum_k c_k (c_k - 1) / 2 + sum_{k<l} c_k c_l M_kl over the classes it touches; the number of pairs,
  sum_s a_s (a_s - 1) / 2, is fixed.

The permutation test shuffles the labels against the symbols (the same null as shuffling the
symbols: a uniformly random bijection between the two columns). One numba kernel computes both
statistics per permutation from the classes each symbol touches, O(N + sum_s m_s^2) with m_s the
distinct classes of symbol s (WordNet's similarity held as 1-byte codes, see
:func:`encode_similarity`), never looping over item pairs; the pairs of a symbol sent for many
items go to a matrix product (c^T M c) instead. Permutations run in parallel, each seeded by its
own index, so the result does not depend on the thread count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

# Ties within floating-point rounding count as "null >= observed" (a permutation-invariant score,
# e.g. WNSim of a one-symbol protocol, must get p = 1, whatever order the sums ran in).
TIE_TOLERANCE = 1e-9
# A symbol sent for more than max(DENSE_MIN_ITEMS, K / 4) items has its pairs summed by a matrix
# product rather than by the kernel's look-ups (measured by benchmarks/analysis.py: a 10-symbol
# protocol of 50,000 items).
DENSE_MIN_ITEMS = 64
DENSE_CHUNK_BYTES = 256 * 2**20


@dataclass(frozen=True)
class Protocol:
    """Items grouped by symbol: ``labels[starts[g]:starts[g+1]]`` are the classes of symbol group g.

    Built by :func:`group_by_symbol`; ``similarity`` is the (K, K) class similarity, diagonal 1.
    """

    labels: np.ndarray  # (N,) int64 class index, items sorted by symbol
    starts: np.ndarray  # (G+1,) int64 group boundaries, one group per symbol used
    classes: int  # K

    @property
    def items(self) -> int:
        return len(self.labels)

    @property
    def symbols_used(self) -> int:
        return len(self.starts) - 1


def group_by_symbol(symbols: np.ndarray, labels: np.ndarray, classes: int | None = None) -> Protocol:
    """symbols (N,) any ints, labels (N,) in [0, classes) -> :class:`Protocol`."""
    symbols = np.asarray(symbols)
    labels = np.asarray(labels, dtype=np.int64)
    if symbols.shape != labels.shape or symbols.ndim != 1 or len(symbols) == 0:
        raise ValueError(f"symbols and labels must be two non-empty vectors of one length, got "
                         f"{symbols.shape} and {labels.shape}")
    classes = int(labels.max()) + 1 if classes is None else classes
    if labels.min() < 0 or labels.max() >= classes:
        raise ValueError(f"labels must lie in [0, {classes}), got [{labels.min()}, {labels.max()}]")
    order = np.argsort(symbols, kind="stable")
    sorted_symbols = symbols[order]
    boundaries = np.flatnonzero(sorted_symbols[1:] != sorted_symbols[:-1]) + 1
    starts = np.concatenate([[0], boundaries, [len(symbols)]]).astype(np.int64)
    return Protocol(np.ascontiguousarray(labels[order]), starts, classes)


def _xlogx_sum(counts: np.ndarray) -> float:
    counts = counts[counts > 0].astype(np.float64)
    return float((counts * np.log(counts)).sum())


@numba.njit(cache=True, nogil=True)
def _group_sums(labels, starts, dense_slot, codes, values, counts, touched, dense_counts):
    """(sum over cells of c log c, sum over same-symbol item pairs of the class similarity).

    The similarity of classes k, l is ``values[codes[k, l]]``: WordNet path similarities take few
    distinct values (1 / (1 + path length)), so (K, K) uint8 codes (1 MB for K = 1000) stay in the
    CPU cache where a float64 matrix (8 MB) would not; the random look-ups are the kernel's cost.
    A group g with ``dense_slot[g] >= 0`` (a symbol sent for many items) leaves its pairs out and
    writes its class counts to ``dense_counts[dense_slot[g]]`` (K,) instead: a matrix product does
    them faster (:meth:`ProtocolScores._dense_pair_sums`).
    ``counts`` (K,) must be zero on entry and is zero on exit; ``touched`` (K,) is scratch.
    """
    clogc = 0.0
    pair_sum = 0.0
    for g in range(len(starts) - 1):
        m = 0
        for i in range(starts[g], starts[g + 1]):
            label = labels[i]
            if counts[label] == 0:
                touched[m] = label
                m += 1
            counts[label] += 1
        slot = dense_slot[g]
        for x in range(m):
            kx = touched[x]
            cx = float(counts[kx])
            clogc += cx * math.log(cx)
            if slot >= 0:
                dense_counts[slot, kx] = cx
                continue
            pair_sum += cx * (cx - 1.0) / 2.0  # same-class pairs: similarity 1
            row = 0.0
            for y in range(x + 1, m):
                ky = touched[y]
                row += counts[ky] * values[codes[kx, ky]]
            pair_sum += cx * row
        for x in range(m):
            counts[touched[x]] = 0
    return clogc, pair_sum


@numba.njit(cache=True, parallel=True)
def _permuted_group_sums(labels, starts, dense_slot, n_dense, codes, values, seeds):
    """Per permutation p (labels shuffled by Fisher-Yates from seeds[p]): the two sums of _group_sums
    and the dense groups' class counts (P, n_dense, K)."""
    n_perm = len(seeds)
    n = len(labels)
    k = codes.shape[0]
    clogc = np.empty(n_perm)
    pair_sum = np.empty(n_perm)
    dense_counts = np.zeros((n_perm, n_dense, k))
    for p in numba.prange(n_perm):
        np.random.seed(seeds[p])  # numba keeps one generator per thread: reseeded per permutation
        shuffled = labels.copy()
        for i in range(n - 1, 0, -1):
            j = np.random.randint(0, i + 1)
            shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
        counts = np.zeros(k, dtype=np.int64)
        touched = np.empty(k, dtype=np.int64)
        clogc[p], pair_sum[p] = _group_sums(shuffled, starts, dense_slot, codes, values, counts, touched,
                                            dense_counts[p])
    return clogc, pair_sum, dense_counts


def encode_similarity(similarity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes (K, K), values (V,)) with ``values[codes] == similarity`` exactly: uint8 codes when the
    matrix holds at most 256 distinct values (WordNet's do), else the identity coding (int32 codes
    into the flattened matrix would be no smaller, so codes index a row-major copy)."""
    values, inverse = np.unique(similarity, return_inverse=True)
    if len(values) <= 256:
        return inverse.reshape(similarity.shape).astype(np.uint8), values
    k = similarity.shape[0]
    return np.arange(k * k, dtype=np.int64).reshape(k, k), np.ascontiguousarray(similarity).ravel()


def _check_similarity(similarity: np.ndarray, classes: int) -> np.ndarray:
    similarity = np.ascontiguousarray(similarity, dtype=np.float64)
    if similarity.shape != (classes, classes):
        raise ValueError(f"similarity must be ({classes}, {classes}), got {similarity.shape}")
    if not np.allclose(np.diag(similarity), 1.0):
        raise ValueError("similarity must have a diagonal of 1 (a same-class pair counts 1.0)")
    return similarity


class ProtocolScores:
    """nMI and WNSim of one protocol, observed and for any number of label permutations.

    >>> scores = ProtocolScores(group_by_symbol(symbols, labels, K), similarity)
    >>> scores.nmi, scores.wnsim                     # observed
    >>> nmi_null, wnsim_null = scores.null(1000, seed=0)   # (1000,) each
    """

    def __init__(self, protocol: Protocol, similarity: np.ndarray):
        self.protocol = protocol
        self.similarity = _check_similarity(similarity, protocol.classes)
        self._codes, self._values = encode_similarity(self.similarity)
        n = protocol.items
        sizes = np.diff(protocol.starts)
        class_counts = np.bincount(protocol.labels, minlength=protocol.classes)
        self._n = n
        self._fixed = math.log(n) - (_xlogx_sum(sizes) + _xlogx_sum(class_counts)) / n  # MI minus (1/N) sum c log c
        h_symbols = math.log(n) - _xlogx_sum(sizes) / n
        h_classes = math.log(n) - _xlogx_sum(class_counts) / n
        self._mean_entropy = (h_symbols + h_classes) / 2
        # scikit-learn's convention: one symbol and one class is a perfect (if trivial) labelling
        self._trivial = len(sizes) == 1 and np.count_nonzero(class_counts) == 1
        self.pairs = float((sizes * (sizes - 1) / 2).sum())  # same-symbol pairs: permutation-invariant
        # Symbols sent for many items go to the matrix product: pairs cost up to min(a_s, K)^2 / 2 look-ups
        # in the kernel, K^2 multiply-adds in BLAS, which runs them tens of times faster.
        dense = sizes > max(DENSE_MIN_ITEMS, protocol.classes // 4)
        self._dense_sizes = sizes[dense].astype(np.float64)
        self._dense_slot = np.where(dense, np.cumsum(dense) - 1, -1).astype(np.int64)
        clogc, pair_sum = self._sums(np.zeros(0, np.uint32))
        self.nmi = float(self._nmi(clogc)[0])
        self.wnsim = float(self._wnsim(pair_sum)[0])

    def _dense_pair_sums(self, dense_counts: np.ndarray) -> np.ndarray:
        """Same-symbol pair sums of the dense groups: (P, n_dense, K) counts -> (P,).

        Per group, pairs of distinct items = (c^T M c - a) / 2, the diagonal of M being 1.
        """
        if dense_counts.shape[1] == 0:
            return np.zeros(len(dense_counts))
        flat = dense_counts.reshape(-1, dense_counts.shape[2])
        quadratic = np.einsum("gk,gk->g", flat @ self.similarity, flat).reshape(dense_counts.shape[:2])
        return ((quadratic - self._dense_sizes) / 2).sum(axis=1)

    def _sums(self, seeds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(sum c log c, pair sum) per permutation seed; no seed (an empty array): the observed labels."""
        protocol, n_dense = self.protocol, len(self._dense_sizes)
        if len(seeds) == 0:
            dense_counts = np.zeros((1, n_dense, protocol.classes))
            clogc, pair_sum = _group_sums(protocol.labels, protocol.starts, self._dense_slot, self._codes,
                                          self._values, np.zeros(protocol.classes, np.int64),
                                          np.empty(protocol.classes, np.int64), dense_counts[0])
            clogc, pair_sum = np.array([clogc]), np.array([pair_sum])
        else:
            clogc, pair_sum, dense_counts = _permuted_group_sums(protocol.labels, protocol.starts, self._dense_slot,
                                                                 n_dense, self._codes, self._values, seeds)
        return clogc, pair_sum + self._dense_pair_sums(dense_counts)

    def _nmi(self, clogc: np.ndarray) -> np.ndarray:
        if self._trivial:
            return np.ones_like(clogc)
        if self._mean_entropy <= 0:
            return np.zeros_like(clogc)
        mutual_information = np.clip(self._fixed + clogc / self._n, 0.0, None)
        return mutual_information / self._mean_entropy

    def _wnsim(self, pair_sum: np.ndarray) -> np.ndarray:
        if self.pairs == 0:  # every symbol used once: no pair shares a symbol
            return np.full_like(pair_sum, np.nan)
        return pair_sum / self.pairs

    def null(self, permutations: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(nMI, WNSim) of ``permutations`` label shufflings, each (permutations,); reproducible from ``seed``."""
        seeds = np.random.SeedSequence(seed).generate_state(permutations, dtype=np.uint32)
        # chunks keep the dense groups' counts (chunk, n_dense, K) float64 under DENSE_CHUNK_BYTES
        chunk = max(1, DENSE_CHUNK_BYTES // (8 * max(1, len(self._dense_sizes)) * self.protocol.classes))
        parts = [self._sums(seeds[start:start + chunk]) for start in range(0, permutations, chunk)]
        clogc = np.concatenate([part[0] for part in parts])
        pair_sum = np.concatenate([part[1] for part in parts])
        return self._nmi(clogc), self._wnsim(pair_sum)


def permutation_p_value(observed: float, null: np.ndarray) -> float:
    """p = (1 + #{null >= observed}) / (1 + n), ties within rounding counted (Phipson & Smyth 2010)."""
    if not np.isfinite(observed):
        return float("nan")
    at_least = np.count_nonzero(null >= observed - TIE_TOLERANCE * max(1.0, abs(observed)))
    return (1 + at_least) / (1 + len(null))
