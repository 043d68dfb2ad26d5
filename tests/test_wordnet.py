"""WordNet 3.0 from Debian's packages: the corpus build, synsets of wnids, path similarity, is-a tests."""

from __future__ import annotations

import gzip
import itertools

import numpy as np
import pytest

from data_fixtures import CAT, DOG, POODLE, TRUCK
from emcom.data.debian import read_deb_files
from emcom.data.wordnet_corpus import LEXNAMES_MAN_PAGE, lexnames_from_man_page
from emcom.wordnet import WordNet, WordNetError

pytestmark = pytest.mark.debian


def test_lexnames_file_has_the_45_wordnet_3_rows(nltk_data, deb_cache):
    rows = [line.split("\t") for line in (nltk_data / "corpora/wordnet/lexnames").read_text().splitlines()]
    assert len(rows) == 45
    assert rows[0] == ["00", "adj.all", "3"]
    assert ["05", "noun.animal", "1"] in rows
    assert ["18", "noun.person", "1"] in rows  # its man-page row has spaces before the tab
    assert rows[-1] == ["44", "adj.ppl", "3"]
    # numbers are the line indices NLTK uses to name a synset's lexicographer file
    assert [int(number) for number, _, _ in rows] == list(range(45))


def test_lexnames_parser_rejects_an_incomplete_table(deb_cache):
    man = read_deb_files(deb_cache / "wordnet-base.deb", [LEXNAMES_MAN_PAGE])[LEXNAMES_MAN_PAGE]
    text = gzip.decompress(man).decode()
    truncated = "\n".join(line for line in text.splitlines() if "noun.animal" not in line)
    with pytest.raises(ValueError, match="found 44"):
        lexnames_from_man_page(truncated)


def test_paper_sanity_values(wordnet):
    """SPEC.md: path_similarity(dog, domestic cat) = 0.3333, dog vs truck = 0.0769 in WordNet 3.0."""
    assert wordnet.path_similarity(DOG, CAT) == pytest.approx(1 / 3)
    assert wordnet.path_similarity(DOG, TRUCK) == pytest.approx(1 / 13)
    assert round(wordnet.path_similarity(DOG, TRUCK), 4) == 0.0769


def test_synset_and_wnid_round_trip(wordnet):
    assert wordnet.synset(DOG).name() == "dog.n.01"
    assert wordnet.wnid(wordnet.synset(CAT)) == CAT
    assert wordnet.name(CAT) == "domestic cat"
    assert wordnet.lexname(TRUCK) == "noun.artifact"


@pytest.mark.parametrize("wnid", ["n99999999", "n02084070"])
def test_unknown_wnid_is_named(wordnet, wnid):
    with pytest.raises(WordNetError, match=wnid):
        wordnet.synset(wnid)


def test_malformed_wnid_is_named(wordnet):
    with pytest.raises(WordNetError, match="'dog'"):
        wordnet.synset("dog")


def test_missing_corpus_names_the_config_key(tmp_path):
    with pytest.raises(WordNetError, match="wordnet.nltk_data"):
        WordNet(tmp_path)


def test_related_follows_hypernyms_both_ways_and_instances(wordnet):
    assert wordnet.related(DOG, POODLE) and wordnet.related(POODLE, DOG)
    assert wordnet.related(DOG, DOG)
    assert not wordnet.related(DOG, CAT)
    assert not wordnet.related(DOG, TRUCK)
    einstein = wordnet.wnid(wordnet.reader.synset("einstein.n.01"))
    scientist = wordnet.wnid(wordnet.reader.synset("scientist.n.01"))
    assert wordnet.related(einstein, scientist)  # only through an instance hypernym (physicist)
    assert wordnet.ancestors(DOG)[DOG] == 0
    assert wordnet.ancestors(POODLE)[DOG] == 1 + wordnet.ancestors(wordnet.wnid(wordnet.synset(POODLE).hypernyms()[0]))[DOG]


def test_similarity_matrix_equals_nltk_path_similarity(wordnet):
    wnids = [DOG, CAT, TRUCK, POODLE, "n07739125", "n12620196", "n10954498"]
    matrix = wordnet.similarity_matrix(wnids)
    assert matrix.shape == (7, 7)
    np.testing.assert_array_equal(matrix, matrix.T)
    np.testing.assert_array_equal(np.diag(matrix), 1.0)
    synsets = wordnet.synsets(wnids)
    for i, j in itertools.combinations(range(len(wnids)), 2):
        assert matrix[i, j] == pytest.approx(synsets[i].path_similarity(synsets[j]), abs=1e-12)


def test_similarity_matrix_cache_is_keyed_by_the_wnid_list(wordnet, tmp_path):
    cache = tmp_path / "similarity.npz"
    first = wordnet.similarity_matrix([DOG, CAT], cache=cache)
    assert cache.is_file()
    with np.load(cache) as stored:
        assert stored["wnids"].tolist() == [DOG, CAT]
    # A planted value proves the second call reads the cache for the same list...
    np.savez(cache, wnids=np.array([DOG, CAT]), similarity=np.full((2, 2), 7.0))
    assert wordnet.similarity_matrix([DOG, CAT], cache=cache)[0, 1] == 7.0
    # ...and a different list recomputes and replaces it.
    other = wordnet.similarity_matrix([CAT, DOG, TRUCK], cache=cache)
    assert other[0, 1] == pytest.approx(first[0, 1])
    with np.load(cache) as stored:
        assert stored["wnids"].tolist() == [CAT, DOG, TRUCK]


def test_unknown_wnids_in_a_list_are_all_named(wordnet):
    with pytest.raises(WordNetError, match=r"2 wnid\(s\).*n99999999.*n99999998"):
        wordnet.similarity_matrix([DOG, "n99999999", "n99999998"])
