"""WordNet 3.0 for the datasets and the analysis: synsets of wnids, path similarity, is-a relations.

A wnid is ``'n'`` + the 8-digit offset of a noun synset (``n02084071`` is dog.n.01); its synset is
``synset_from_pos_and_offset('n', int(wnid[1:]))`` (SPEC.md, WNSim). The corpus is read from an
explicit ``nltk_data`` folder (built by ``rules/data.smk`` from Debian's packages), never from
NLTK's search path or the environment, so every run uses the same WordNet.
"""

from __future__ import annotations

import functools
import logging
import re
import warnings
from collections import deque
from pathlib import Path
from typing import Sequence

import numpy as np

from emcom.io import atomic_path

log = logging.getLogger(__name__)

_WNID = re.compile(r"^n\d{8}$")


class WordNetError(LookupError):
    """A wnid WordNet does not know, or a missing WordNet corpus; the message names it."""


@functools.lru_cache(maxsize=4)
def _reader(nltk_data: str):
    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    # NLTK >= 3.10 opens only files under a folder of nltk.data.path (its path sandbox): authorise
    # this one folder. The reader itself is given the explicit path, so no search path decides.
    if nltk_data not in nltk.data.path:
        nltk.data.path.insert(0, nltk_data)
    with warnings.catch_warnings():
        # "multilingual functions are not available": expected, we load no Open Multilingual Wordnet.
        warnings.simplefilter("ignore", UserWarning)
        return WordNetCorpusReader(str(Path(nltk_data) / "corpora" / "wordnet"), None)


class WordNet:
    """WordNet read from ``<nltk_data>/corpora/wordnet``.

    >>> wn = WordNet("resources/nltk_data")
    >>> wn.synset("n02084071").name()
    'dog.n.01'
    """

    def __init__(self, nltk_data: str | Path):
        corpus = Path(nltk_data) / "corpora" / "wordnet"
        if not (corpus / "data.noun").is_file() or not (corpus / "lexnames").is_file():
            raise WordNetError(
                f"no WordNet corpus in {corpus} (config key wordnet.nltk_data = {nltk_data}); build it "
                f"with `snakemake --cores 1 {corpus}`"
            )
        self.nltk_data = Path(nltk_data)
        self.reader = _reader(str(Path(nltk_data).resolve()))
        self._ancestors: dict[str, dict[str, int]] = {}  # related() is asked O(classes²) times

    # --- wnids and synsets ------------------------------------------------------------------
    def synset(self, wnid: str):
        """The noun synset of ``wnid``; an unknown or malformed wnid raises :class:`WordNetError`."""
        if not isinstance(wnid, str) or not _WNID.match(wnid):
            raise WordNetError(f"malformed wnid {wnid!r} (expected 'n' + 8 digits, e.g. n02084071)")
        with warnings.catch_warnings():
            # NLTK warns, then returns None, for an offset that is not a synset: we raise instead.
            warnings.simplefilter("ignore", UserWarning)
            try:
                synset = self.reader.synset_from_pos_and_offset("n", int(wnid[1:]))
            except Exception as error:  # an offset inside a line, past the end of the file...
                raise WordNetError(f"wnid {wnid} is not a noun synset of WordNet 3.0") from error
        if synset is None:
            raise WordNetError(f"wnid {wnid} is not a noun synset of WordNet 3.0")
        return synset

    def synsets(self, wnids: Sequence[str]) -> list:
        """Synsets of several wnids; every unknown one is named in a single error."""
        found, unknown = [], []
        for wnid in wnids:
            try:
                found.append(self.synset(wnid))
            except WordNetError:
                unknown.append(wnid)
        if unknown:
            raise WordNetError(f"{len(unknown)} wnid(s) unknown to WordNet 3.0: {unknown[:10]}")
        return found

    @staticmethod
    def wnid(synset) -> str:
        """The wnid of a noun synset (``dog.n.01`` -> ``n02084071``)."""
        if synset.pos() != "n":
            raise WordNetError(f"{synset.name()} is not a noun synset; wnids name nouns only")
        return f"n{synset.offset():08d}"

    def name(self, wnid: str) -> str:
        """A readable name: the first lemma of the synset, spaces for underscores."""
        return self.synset(wnid).lemma_names()[0].replace("_", " ")

    def lexname(self, wnid: str) -> str:
        """The lexicographer file (domain) of ``wnid``: ``noun.animal``, ``noun.artifact``, ..."""
        return self.synset(wnid).lexname()

    # --- is-a relations -----------------------------------------------------------------------
    def ancestors(self, wnid: str) -> dict[str, int]:
        """``{ancestor wnid: shortest number of is-a edges}`` including ``wnid`` itself at 0.

        Follows hypernyms and instance hypernyms, as NLTK's path similarity does.
        """
        if wnid not in self._ancestors:
            distances = _hypernym_distances(self.synset(wnid))
            self._ancestors[wnid] = {self.wnid(s): d for s, d in distances.items()}
        return self._ancestors[wnid]

    def related(self, a: str, b: str) -> bool:
        """True if ``a`` and ``b`` are the same synset or one is a hypernym of the other (transitively).

        "Hypernym or hyponym of" in the paper's OOD criterion; instance hypernyms count.
        """
        return a == b or a in self.ancestors(b) or b in self.ancestors(a)

    # --- path similarity ----------------------------------------------------------------------
    def path_similarity(self, a: str, b: str) -> float:
        """NLTK's ``path_similarity`` of two wnids: 1 / (1 + shortest is-a path length)."""
        return float(self.similarity_matrix([a, b])[0, 1])

    def similarity_matrix(self, wnids: Sequence[str], cache: str | Path | None = None) -> np.ndarray:
        """Path similarity of every pair: float64 array of shape (len(wnids), len(wnids)), diagonal 1.

        Equal to NLTK's ``path_similarity`` (noun synsets share the root entity.n.01, so no
        simulated root is needed) but computed from each synset's ancestor distances once, which
        makes 1000 x 1000 a matter of seconds. With ``cache`` (an ``.npz`` path) the matrix is
        stored together with its wnid list and reused only for that exact list.
        """
        wnids = list(wnids)
        if cache is not None and Path(cache).is_file():
            with np.load(cache) as stored:
                if stored["wnids"].tolist() == wnids:
                    return stored["similarity"]
            log.info("%s was computed for another wnid list: recomputing", cache)
        distances = [_hypernym_distances(s) for s in self.synsets(wnids)]
        n = len(wnids)
        matrix = np.eye(n)
        for i in range(n):
            di = distances[i]
            for j in range(i + 1, n):
                dj = distances[j]
                small, large = (di, dj) if len(di) <= len(dj) else (dj, di)
                common = [d + large[s] for s, d in small.items() if s in large]
                # No common ancestor cannot happen among WordNet 3.0 nouns (all under entity.n.01).
                matrix[i, j] = matrix[j, i] = 1.0 / (1 + min(common)) if common else 0.0
        if cache is not None:
            with atomic_path(cache) as tmp, open(tmp, "wb") as handle:
                np.savez(handle, wnids=np.array(wnids), similarity=matrix)
        return matrix


def _hypernym_distances(synset) -> dict:
    """Breadth-first ``{ancestor synset: distance}`` over hypernyms + instance hypernyms (as NLTK)."""
    distances: dict = {}
    queue = deque([(synset, 0)])
    while queue:
        current, depth = queue.popleft()
        if current in distances:
            continue
        distances[current] = depth
        for parent in current.hypernyms() + current.instance_hypernyms():
            queue.append((parent, depth + 1))
    return distances
