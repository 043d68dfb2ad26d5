"""Protocol analysis (Table 2): nMI and WNSim against scikit-learn, by-hand values and brute force;
permutation tests that find a label-copying protocol and ignore a random one; bad input."""

import gzip
import json
import math
from itertools import combinations

import numba
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import normalized_mutual_info_score

from data_fixtures import CAT, DOG, TRUCK
from emcom.analysis import (
    ProtocolScores,
    analyse_protocol,
    analyse_symbols,
    group_by_symbol,
    permutation_p_value,
    read_class_similarity,
    write_class_similarity,
)
from emcom.analysis import similarity as similarity_module
from emcom.analysis.protocol import score_summary
from emcom.analysis.scores import encode_similarity
from emcom.cli import main
from emcom.evaluation.errors import ItemsFileError, SimilarityError
from emcom.wordnet import WordNetError


def path_like_similarity(classes: int, seed: int = 0) -> np.ndarray:
    """A symmetric matrix of 1 / (1 + d), d in 2..19, diagonal 1: WordNet's kind of values."""
    rng = np.random.default_rng(seed)
    d = rng.integers(2, 20, (classes, classes))
    d = np.minimum(d, d.T)
    np.fill_diagonal(d, 0)
    return 1.0 / (1.0 + d)


def brute_wnsim(symbols, labels, similarity) -> float:
    """Mean similarity over every unordered pair of distinct items sharing a symbol (the definition)."""
    pairs = [similarity[labels[i], labels[j]] for i, j in combinations(range(len(labels)), 2)
             if symbols[i] == symbols[j]]
    return float(np.mean(pairs))


def scores_of(symbols, labels, similarity=None) -> ProtocolScores:
    labels = np.asarray(labels)
    classes = int(labels.max()) + 1
    similarity = path_like_similarity(classes) if similarity is None else similarity
    return ProtocolScores(group_by_symbol(np.asarray(symbols), labels, classes), similarity)


@pytest.mark.parametrize("n, symbols, classes", [(60, 7, 5), (500, 80, 30), (300, 1, 4), (200, 200, 3)])
def test_nmi_equals_scikit_learn(n, symbols, classes):
    rng = np.random.default_rng(n)
    labels = rng.integers(0, classes, n)
    sent = rng.integers(0, symbols, n)
    expected = normalized_mutual_info_score(labels, sent, average_method="arithmetic")
    assert scores_of(sent, labels).nmi == pytest.approx(expected, abs=1e-12)


def test_nmi_by_hand():
    # symbols (0, 0, 0, 1), labels (0, 0, 1, 1): cells 2, 1, 1 of N = 4; margins (3, 1) and (2, 2).
    # MI = 1/2 log(4/3) + 1/4 log(2/3) + 1/4 log 2 = 3/4 log(4/3); H(symbols) = -(3/4 log 3/4 + 1/4 log 1/4)
    mi = 0.75 * math.log(4 / 3)
    h_symbols = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    expected = mi / ((h_symbols + math.log(2)) / 2)
    assert expected == pytest.approx(0.34371, abs=1e-5)
    assert scores_of([0, 0, 0, 1], [0, 0, 1, 1]).nmi == pytest.approx(expected, abs=1e-12)
    assert scores_of([5, 5, 9, 9], [0, 0, 1, 1]).nmi == pytest.approx(1.0)  # symbol ids need not be 0..S-1
    assert scores_of([0, 1, 0, 1], [0, 0, 1, 1]).nmi == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_wnsim_equals_the_pairwise_definition(seed):
    rng = np.random.default_rng(seed)
    labels, symbols = rng.integers(0, 6, 70), rng.integers(0, 9, 70)
    for similarity in (path_like_similarity(6, seed), None):
        if similarity is None:  # many distinct values: the float64 path of the kernel
            similarity = rng.random((6, 6))
            similarity = (similarity + similarity.T) / 2
            np.fill_diagonal(similarity, 1.0)
        assert scores_of(symbols, labels, similarity).wnsim == pytest.approx(
            brute_wnsim(symbols, labels, similarity), abs=1e-12)


def test_symbols_with_many_items_take_the_matrix_product_path_with_the_same_result(monkeypatch):
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 12, 500)
    symbols = np.where(np.arange(500) < 300, np.arange(500) % 3, rng.integers(3, 60, 500))  # 3 symbols of 100 items
    similarity = path_like_similarity(12, 7)
    mixed = scores_of(symbols, labels, similarity)
    assert len(mixed._dense_sizes) == 3
    assert mixed.wnsim == pytest.approx(brute_wnsim(symbols, labels, similarity), abs=1e-12)
    monkeypatch.setattr("emcom.analysis.scores.DENSE_MIN_ITEMS", 10**9)  # every symbol through the kernel
    lookups = scores_of(symbols, labels, similarity)
    assert len(lookups._dense_sizes) == 0 and lookups.wnsim == pytest.approx(mixed.wnsim, abs=1e-12)
    for a, b in zip(mixed.null(40, seed=1), lookups.null(40, seed=1)):
        assert np.allclose(a, b, rtol=0, atol=1e-12)
    monkeypatch.setattr("emcom.analysis.scores.DENSE_MIN_ITEMS", 64)
    monkeypatch.setattr("emcom.analysis.scores.DENSE_CHUNK_BYTES", 1)  # one permutation per chunk
    assert np.array_equal(scores_of(symbols, labels, similarity).null(5, seed=1)[1], mixed.null(5, seed=1)[1])
    one = np.where(np.arange(500) < 150, 0, rng.integers(3, 60, 500))  # a single symbol of 150 items
    monkeypatch.setattr("emcom.analysis.scores.DENSE_CHUNK_BYTES", 64 << 20)
    single = scores_of(one, labels, similarity)
    assert len(single._dense_sizes) == 1
    assert single.wnsim == pytest.approx(brute_wnsim(one, labels, similarity), abs=1e-12)


def test_similarity_codes_are_exact():
    similarity = path_like_similarity(40)
    codes, values = encode_similarity(similarity)
    assert codes.dtype == np.uint8 and np.array_equal(values[codes], similarity)


@pytest.mark.parametrize("distinct", [256, 257])
def test_similarity_with_more_than_256_values_is_coded_by_position(distinct):
    """uint8 codes hold at most 256 distinct values (diagonal 1.0 included); one more and every cell is
    its own code. Either way values[codes] is the matrix, and WNSim is the pairwise definition."""
    k = 24  # 276 cells above the diagonal
    pool = np.linspace(0.01, 0.9, distinct - 1)
    similarity = np.ones((k, k))
    upper = np.triu_indices(k, 1)
    similarity[upper] = pool[np.arange(len(upper[0])) % len(pool)]
    similarity.T[upper] = similarity[upper]
    codes, values = encode_similarity(similarity)
    assert len(np.unique(similarity)) == distinct
    assert codes.dtype == (np.uint8 if distinct <= 256 else np.int64) and codes.shape == (k, k)
    assert np.array_equal(values[codes], similarity)
    rng = np.random.default_rng(distinct)
    symbols, labels = rng.integers(0, 6, 150), rng.integers(0, k, 150)
    assert scores_of(symbols, labels, similarity).wnsim == pytest.approx(brute_wnsim(symbols, labels, similarity),
                                                                         abs=1e-12)


def test_one_symbol_wnsim_is_the_mean_similarity_of_all_pairs_and_not_significant():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 8, 40)
    similarity = path_like_similarity(8, 1)
    scores = scores_of(np.zeros(40, int), labels, similarity)
    every_pair = np.mean([similarity[labels[i], labels[j]] for i, j in combinations(range(40), 2)])
    assert scores.wnsim == pytest.approx(every_pair, abs=1e-12)
    nmi_null, wnsim_null = scores.null(50, seed=0)
    assert np.allclose(wnsim_null, scores.wnsim)  # shuffling cannot change it...
    assert permutation_p_value(scores.wnsim, wnsim_null) == 1.0  # ...so every permutation ties: p = 1


def test_label_copying_protocol_is_perfect_and_significant():
    labels = np.repeat(np.arange(20), 10)
    result = analyse_symbols(labels + 100, np.array([f"n{k:08d}" for k in labels]),
                             [f"n{k:08d}" for k in range(20)], path_like_similarity(20), permutations=200)
    assert result["nmi"]["value"] == pytest.approx(1.0)
    assert result["wnsim"]["value"] == pytest.approx(1.0)  # every same-symbol pair is a same-class pair
    for score in ("nmi", "wnsim"):
        assert result[score]["p_value"] == pytest.approx(1 / 201) and result[score]["p_value"] < 0.01
        assert result[score]["significant"] and result[score]["null_mean"] < 0.5
    assert result["symbols_used"] == 20 and result["classes"] == 20


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_protocol_is_not_significant(seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 15, 600)
    result = analyse_symbols(rng.integers(0, 40, 600), np.array([f"n{k:08d}" for k in labels]),
                             [f"n{k:08d}" for k in range(15)], path_like_similarity(15), permutations=200, seed=seed)
    for score in ("nmi", "wnsim"):
        assert not result[score]["significant"], result
        assert result[score]["p_value"] > 0.01
        # the null is centred where a random protocol lies: the excess over chance is small
        assert abs(result[score]["value"] - result[score]["null_mean"]) < 4 * result[score]["null_sd"]


def test_permutations_are_reproducible_whatever_the_thread_count():
    rng = np.random.default_rng(3)
    scores = scores_of(rng.integers(0, 30, 400), rng.integers(0, 12, 400))
    numba.set_num_threads(1)
    single = scores.null(64, seed=5)
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    again = scores.null(64, seed=5)
    assert all(np.array_equal(a, b) for a, b in zip(single, again))
    assert not np.array_equal(single[0], scores.null(64, seed=6)[0])


def test_the_null_is_the_score_of_shuffled_labels():
    """Each null value is a real score: the null's mean matches that of shuffles drawn here."""
    rng = np.random.default_rng(4)
    symbols, labels = rng.integers(0, 10, 300), rng.integers(0, 6, 300)
    similarity = path_like_similarity(6, 4)
    nmi_null, wnsim_null = scores_of(symbols, labels, similarity).null(400, seed=0)
    shuffled = [rng.permutation(labels) for _ in range(400)]
    nmi_here = [normalized_mutual_info_score(s, symbols) for s in shuffled]
    wnsim_here = [scores_of(symbols, s, similarity).wnsim for s in shuffled]
    assert nmi_null.mean() == pytest.approx(np.mean(nmi_here), abs=4 * np.std(nmi_here) / 20)
    assert wnsim_null.mean() == pytest.approx(np.mean(wnsim_here), abs=4 * np.std(wnsim_here) / 20)


def write_items_file(path, wnids, symbols, column="symbol"):
    n = len(wnids)
    table = pd.DataFrame({"item": range(n), "index": range(n), "source": [f"x/{i}.png" for i in range(n)],
                          "wnid": wnids, "label": 0, column: symbols, "correct": 1})
    table.to_csv(path, sep="\t", index=False, compression="gzip")
    return path


@pytest.mark.debian
def test_wnsim_of_a_four_item_protocol_by_hand(wordnet, nltk_data, tmp_path):
    root = tmp_path / "dataset"
    root.mkdir()
    (root / "classes.tsv").write_text("wnid\tname\tsource\n" + "".join(f"{w}\tx\tt\n" for w in (DOG, CAT, TRUCK)))
    similarity_path = tmp_path / "class_similarity.tsv.gz"
    write_class_similarity(root, nltk_data, similarity_path)
    wnids, matrix = read_class_similarity(similarity_path)
    assert wnids == [DOG, CAT, TRUCK]
    assert matrix[0, 1] == pytest.approx(0.3333, abs=1e-4) and matrix[0, 2] == pytest.approx(0.0769, abs=1e-4)
    # symbol A: (dog, cat); symbol B: (dog, truck) -> WNSim = (1/3 + 1/13) / 2
    items = write_items_file(tmp_path / "val.items.tsv.gz", [DOG, CAT, DOG, TRUCK], [7, 7, 3, 3])
    out = tmp_path / "analysis" / "game" / "val.json"
    result = analyse_protocol(items, similarity_path, out, permutations=20, protocol="game")
    assert result["wnsim"]["value"] == pytest.approx((1 / 3 + 1 / 13) / 2, abs=1e-9)
    assert json.loads(out.read_text())["wnsim"]["value"] == result["wnsim"]["value"]
    # one symbol for (dog, dog, cat), another for truck alone: pairs (dog, dog) = 1, (dog, cat) twice
    items = write_items_file(tmp_path / "ood.items.tsv.gz", [DOG, DOG, CAT, TRUCK], [1, 1, 1, 2])
    result = analyse_protocol(items, similarity_path, out, permutations=20)
    assert result["wnsim"]["value"] == pytest.approx((1 + 2 / 3) / 3, abs=1e-9)
    assert result["symbols_used"] == 2 and result["items"] == 4 and result["same_symbol_pairs"] == 3


@pytest.mark.debian
def test_wnids_unknown_to_wordnet_name_the_classes_file(nltk_data, tmp_path):
    (tmp_path / "classes.tsv").write_text(f"wnid\tname\tsource\n{DOG}\tdog\tt\nn99999999\tnothing\tt\n")
    with pytest.raises(SimilarityError, match=r"classes\.tsv.*n99999999"):
        write_class_similarity(tmp_path, nltk_data, tmp_path / "similarity.tsv.gz")
    assert not (tmp_path / "similarity.tsv.gz").exists()


class StubWordNet:
    """Stands in for emcom.wordnet.WordNet: a fixed matrix for the wnids asked, or WordNetError."""

    matrix = np.array([[1.0, 1 / 3, 1 / 13], [1 / 3, 1.0, 0.1234567890123456], [1 / 13, 0.1234567890123456, 1.0]])

    def __init__(self, nltk_data):
        self.nltk_data = nltk_data

    def similarity_matrix(self, wnids):
        assert str(self.nltk_data).endswith("nltk"), self.nltk_data  # the folder write_class_similarity was given
        if "n99999999" in wnids:
            raise WordNetError("n99999999 is not a WordNet noun")
        return self.matrix


def test_similarity_table_keeps_classes_order_and_twelve_digits_without_wordnet(tmp_path, monkeypatch):
    """The table's contract, WordNet stubbed (the real values: the debian tests above): rows and columns
    in classes.tsv order, values to 12 significant digits (encode_similarity needs few distinct
    values), read back as float64; an unknown wnid is one error naming classes.tsv, no file written."""
    monkeypatch.setattr(similarity_module, "WordNet", StubWordNet)
    (tmp_path / "classes.tsv").write_text("wnid\tname\tsource\n" + "".join(f"{w}\tx\tt\n" for w in (TRUCK, DOG, CAT)))
    out = tmp_path / "sub" / "similarity.tsv.gz"
    write_class_similarity(tmp_path, tmp_path / "nltk", out)
    with gzip.open(out, "rt") as text:
        header, first = text.readline().rstrip("\n").split("\t"), text.readline().rstrip("\n").split("\t")
    assert header == ["wnid", TRUCK, DOG, CAT] and first == [TRUCK, "1", "0.333333333333", "0.0769230769231"]
    wnids, matrix = read_class_similarity(out)
    assert wnids == [TRUCK, DOG, CAT] and matrix.dtype == np.float64
    assert np.array_equal(matrix, [[float(f"{v:.12g}") for v in row] for row in StubWordNet.matrix])
    assert matrix[1, 2] == 0.123456789012  # 12 significant digits, not 16
    (tmp_path / "classes.tsv").write_text(f"wnid\tname\tsource\n{DOG}\tdog\tt\nn99999999\tnothing\tt\n")
    bad = tmp_path / "bad.tsv.gz"
    with pytest.raises(SimilarityError, match=r"classes\.tsv: n99999999 is not a WordNet noun"):
        write_class_similarity(tmp_path, tmp_path / "nltk", bad)
    assert not bad.exists()


def test_a_table_that_is_not_square_or_not_a_table_is_named(tmp_path):
    missing = tmp_path / "none.tsv.gz"
    with pytest.raises(SimilarityError, match=r"class similarity table not found: .*none\.tsv\.gz"):
        read_class_similarity(missing)
    ragged = tmp_path / "ragged.tsv"
    pd.DataFrame([[1.0, 0.5, 0.2]], index=pd.Index([DOG], name="wnid"), columns=[DOG, CAT, TRUCK]).to_csv(ragged, sep="\t")
    with pytest.raises(SimilarityError, match=r"ragged\.tsv: not a square table"):
        read_class_similarity(ragged)
    swapped = tmp_path / "swapped.tsv"
    pd.DataFrame(np.eye(2), index=pd.Index([DOG, CAT], name="wnid"), columns=[CAT, DOG]).to_csv(swapped, sep="\t")
    with pytest.raises(SimilarityError, match=r"swapped\.tsv: not a square table whose columns repeat its row wnids"):
        read_class_similarity(swapped)
    integers = tmp_path / "integers.tsv"  # a table of 0s and 1s is still read as float64
    pd.DataFrame(np.eye(2, dtype=int), index=pd.Index([DOG, CAT], name="wnid"), columns=[DOG, CAT]).to_csv(integers, sep="\t")
    assert read_class_similarity(integers)[1].dtype == np.float64
    binary = tmp_path / "binary.tsv.gz"
    binary.write_bytes(b"\x1f\x8bnot gzip")
    with pytest.raises(SimilarityError, match=r"binary\.tsv\.gz: not a class similarity table \("):
        read_class_similarity(binary)


def similarity_table(path, wnids, seed=0):
    pd.DataFrame(path_like_similarity(len(wnids), seed), index=pd.Index(wnids, name="wnid"),
                 columns=wnids).to_csv(path, sep="\t", compression="gzip")
    return path


def test_analyse_command_writes_the_interface_json(tmp_path):
    wnids = [f"n0000000{k}" for k in range(5)]
    similarity = similarity_table(tmp_path / "similarity.tsv.gz", wnids)
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, 100)
    items = write_items_file(tmp_path / "val.items.tsv.gz", [wnids[k] for k in labels], labels * 2, "symbol_h")
    out = tmp_path / "simclr_disc" / "val.json"
    assert main(["analyse", str(items), "--similarity", str(similarity), "--out", str(out), "--column", "symbol_h",
                 "--protocol", "simclr_disc", "--permutations", "99"]) == 0
    result = json.loads(out.read_text())
    assert {"protocol", "test_set", "items", "classes", "symbols_used", "permutations", "alpha", "seed", "nmi",
            "wnsim"} <= set(result)
    assert result["protocol"] == "simclr_disc" and result["test_set"] == "val" and result["permutations"] == 99
    for score in ("nmi", "wnsim"):
        assert set(result[score]) == {"value", "null_mean", "null_sd", "p_value", "significant"}
        assert result[score]["p_value"] == pytest.approx(0.01) and not result[score]["significant"]  # 1/100, not < 0.01


def test_items_file_with_missing_columns_is_one_line_naming_it(tmp_path, capsys):
    similarity = similarity_table(tmp_path / "similarity.tsv.gz", ["n00000001"])
    items = tmp_path / "val.items.tsv.gz"
    with gzip.open(items, "wt") as handle:
        handle.write("item\tsource\n0\tx.png\n")
    code = main(["analyse", str(items), "--similarity", str(similarity), "--out", str(tmp_path / "out.json")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert str(items) in err and "wnid" in err and "symbol" in err
    assert not (tmp_path / "out.json").exists()
    with pytest.raises(ItemsFileError, match="symbol_h"):
        analyse_protocol(write_items_file(tmp_path / "ood.items.tsv.gz", ["n00000001"] * 3, [0, 0, 1]),
                         similarity, tmp_path / "o.json", symbol_column="symbol_h")


def test_items_wnids_missing_from_the_similarity_table_are_named(tmp_path, capsys):
    similarity = similarity_table(tmp_path / "similarity.tsv.gz", ["n00000001", "n00000002"])
    items = write_items_file(tmp_path / "val.items.tsv.gz", ["n00000001", "n00000003"], [0, 0])
    code = main(["analyse", str(items), "--similarity", str(similarity), "--out", str(tmp_path / "out.json")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and str(items) in err and "n00000003" in err
    noise = write_items_file(tmp_path / "noise.items.tsv.gz", ["", ""], [0, 1])
    with pytest.raises(ItemsFileError, match="no wnid"):
        analyse_protocol(noise, similarity, tmp_path / "n.json")


# ---- what the protocol analysis passes on, checks and writes (mutation testing, issue #13) --------
def small_protocol(tmp_path, seed=0, n=120):
    """A 5-class protocol whose similarity table holds 3 more classes than the items, in another order."""
    table_wnids = [f"n0000000{k}" for k in (7, 3, 0, 5, 1, 6, 2, 4)]
    similarity = similarity_table(tmp_path / "similarity.tsv.gz", table_wnids, seed=3)
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 5, n)
    symbols = np.where(rng.random(n) < 0.6, labels, rng.integers(0, 9, n))  # partly category-related
    wnids = [f"n0000000{k}" for k in labels]
    return write_items_file(tmp_path / "val.items.tsv.gz", wnids, symbols), similarity, symbols, np.array(wnids)


def test_analysis_reads_only_the_present_classes_of_a_larger_table(tmp_path):
    _, similarity_path, symbols, wnids = small_protocol(tmp_path)
    table_wnids, similarity = read_class_similarity(similarity_path)
    result = analyse_symbols(symbols, wnids, table_wnids, similarity, permutations=10)
    position = {w: i for i, w in enumerate(table_wnids)}
    pairs = [similarity[position[wnids[i]], position[wnids[j]]] for i, j in combinations(range(len(wnids)), 2)
             if symbols[i] == symbols[j]]
    assert result["wnsim"]["value"] == pytest.approx(np.mean(pairs), abs=1e-12)
    assert result["same_symbol_pairs"] == len(pairs) and result["classes"] == 5
    assert result["nmi"]["value"] == pytest.approx(normalized_mutual_info_score(wnids, symbols), abs=1e-12)


def test_analysis_defaults_are_the_papers_and_its_seed_is_used(tmp_path):
    _, similarity_path, symbols, wnids = small_protocol(tmp_path)
    table_wnids, similarity = read_class_similarity(similarity_path)
    default = analyse_symbols(symbols, wnids, table_wnids, similarity)
    assert (default["permutations"], default["alpha"], default["seed"]) == (1000, 0.01, 0)
    assert default == analyse_symbols(symbols, wnids, table_wnids, similarity, 1000, 0.01, 0)
    seeded = analyse_symbols(symbols, wnids, table_wnids, similarity, permutations=50, seed=5)
    assert seeded == analyse_symbols(symbols, wnids, table_wnids, similarity, permutations=50, seed=5)
    other = analyse_symbols(symbols, wnids, table_wnids, similarity, permutations=50, seed=6)
    assert seeded["nmi"]["null_mean"] != other["nmi"]["null_mean"]


def test_analyse_protocol_passes_alpha_and_seed_and_writes_what_it_read(tmp_path):
    items, similarity, _, _ = small_protocol(tmp_path)
    out = tmp_path / "game" / "val.json"
    result = analyse_protocol(items, similarity, out, permutations=30, alpha=0.05, seed=3)
    assert (result["permutations"], result["alpha"], result["seed"]) == (30, 0.05, 3)
    assert result["items_file"] == str(items) and result["symbol_column"] == "symbol"
    assert json.loads(out.read_text()) == result
    again = analyse_protocol(items, similarity, tmp_path / "again.json", permutations=30, alpha=0.05, seed=3)
    assert again["nmi"] == result["nmi"] and again["wnsim"] == result["wnsim"]
    default = analyse_protocol(items, similarity, tmp_path / "default.json", permutations=20)
    assert (default["alpha"], default["seed"]) == (0.01, 0)
    assert analyse_protocol(items, similarity, tmp_path / "d.json")["permutations"] == 1000


@pytest.mark.parametrize("permutations,alpha,ok", [(1, 0.5, True), (0, 0.01, False), (5, 0.0, False),
                                                   (5, 1.0, False), (5, 1.5, False)])
def test_permutations_and_alpha_are_checked(tmp_path, permutations, alpha, ok):
    items, similarity, _, _ = small_protocol(tmp_path, n=30)
    if ok:
        assert analyse_protocol(items, similarity, tmp_path / "o.json", permutations=permutations, alpha=alpha)
        return
    with pytest.raises(ValueError, match=rf"permutations must be >= 1 and alpha in \(0, 1\), got {permutations} and "
                                         rf"{alpha}"):
        analyse_protocol(items, similarity, tmp_path / "o.json", permutations=permutations, alpha=alpha)


def test_threads_cap_the_permutation_kernel_within_what_numba_has(tmp_path):
    items, similarity, _, _ = small_protocol(tmp_path, n=30)
    before = numba.get_num_threads()
    try:
        analyse_protocol(items, similarity, tmp_path / "a.json", permutations=5, threads=1)
        assert numba.get_num_threads() == 1
        analyse_protocol(items, similarity, tmp_path / "b.json", permutations=5, threads=10_000)
        assert numba.get_num_threads() == numba.config.NUMBA_NUM_THREADS
    finally:
        numba.set_num_threads(before)


def test_item_files_without_items_wnids_or_integer_symbols_are_named(tmp_path):
    similarity = similarity_table(tmp_path / "similarity.tsv.gz", ["n00000001", "n00000002"])
    empty = write_items_file(tmp_path / "empty.items.tsv.gz", [], [])
    with pytest.raises(ItemsFileError, match=r"empty\.items\.tsv\.gz: per-item file holds no item"):
        analyse_protocol(empty, similarity, tmp_path / "e.json")
    one = analyse_protocol(write_items_file(tmp_path / "one.items.tsv.gz", ["n00000001"], [4]), similarity,
                           tmp_path / "one.json", permutations=5)
    assert one["items"] == 1 and one["symbols_used"] == 1
    noise = write_items_file(tmp_path / "noise.items.tsv.gz", ["", "n00000001", ""], [0, 1, 2])
    with pytest.raises(ItemsFileError, match=r"noise\.items\.tsv\.gz: 2 item\(s\) have no wnid \(noise has no class: "
                                             r"protocols are analysed on val and ood\)"):
        analyse_protocol(noise, similarity, tmp_path / "n.json")
    words = write_items_file(tmp_path / "words.items.tsv.gz", ["n00000001", "n00000002"], ["a", "b"])
    with pytest.raises(ItemsFileError, match=r"words\.items\.tsv\.gz: column symbol holds non-integer symbols"):
        analyse_protocol(words, similarity, tmp_path / "w.json")


def test_score_summary_reads_the_finite_null_and_writes_no_nan():
    summary = score_summary(0.5, np.array([0.1, np.nan, 0.3]), alpha=0.3)
    assert summary["null_mean"] == pytest.approx(0.2) and summary["null_sd"] == pytest.approx(np.std([0.1, 0.3], ddof=1))
    assert summary["p_value"] == pytest.approx(1 / 4) and summary["significant"]  # the NaN never counts as >= 0.5
    assert summary["value"] == 0.5
    single = score_summary(0.5, np.array([0.7, np.nan]), alpha=0.01)
    assert single["null_mean"] == pytest.approx(0.7) and single["null_sd"] is None
    undefined = score_summary(float("nan"), np.array([0.1, 0.2]), alpha=0.01)
    assert undefined["value"] is None and undefined["p_value"] is None and not undefined["significant"]


def test_p_value_counts_ties_within_a_relative_tolerance():
    assert math.isnan(permutation_p_value(float("nan"), np.array([0.1, 0.2])))
    tolerance = 1e-9  # emcom.analysis.scores.TIE_TOLERANCE, relative above |observed| = 1
    assert permutation_p_value(0.5, np.array([0.5 - 0.5 * tolerance, 0.4])) == pytest.approx(2 / 3)  # a tie
    assert permutation_p_value(0.5, np.array([0.5 - 1.5 * tolerance, 0.4])) == pytest.approx(1 / 3)  # below
    assert permutation_p_value(0.5, np.array([0.5 - tolerance, 0.4])) == pytest.approx(2 / 3)  # the bound counts
    assert permutation_p_value(1000.0, np.array([1000.0 - 500 * tolerance])) == pytest.approx(1.0)  # scaled by |x|


def test_group_by_symbol_checks_its_vectors_and_label_range():
    shape = r"symbols and labels must be two non-empty vectors of one length, got "
    with pytest.raises(ValueError, match=shape + r"\(3,\) and \(2,\)"):
        group_by_symbol(np.array([0, 1, 2]), np.array([0, 1]))
    with pytest.raises(ValueError, match=shape + r"\(1, 2\) and \(1, 2\)"):
        group_by_symbol(np.array([[0, 1]]), np.array([[0, 1]]))
    with pytest.raises(ValueError, match=shape + r"\(0,\) and \(0,\)"):
        group_by_symbol(np.array([], dtype=np.int64), np.array([], dtype=np.int64))
    single = group_by_symbol(np.array([7]), np.array([0]))
    assert single.classes == 1 and single.symbols_used == 1
    assert group_by_symbol(np.array([0, 1, 1]), np.array([0, 2, 1])).classes == 3  # max label + 1
    protocol = group_by_symbol(np.array([5, 3, 5]), np.array([0.0, 1.0, 1.0]), 2)
    assert protocol.labels.dtype == np.int64 and protocol.starts.dtype == np.int64
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\), got \[0, 3\]"):
        group_by_symbol(np.array([0, 1]), np.array([0, 3]), 3)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\), got \[-1, 2\]"):
        group_by_symbol(np.array([0, 1]), np.array([-1, 2]), 3)


def test_xlogx_sum_skips_empty_cells():
    from emcom.analysis.scores import _xlogx_sum

    assert _xlogx_sum(np.array([0, 2, 3, 1])) == pytest.approx(2 * math.log(2) + 3 * math.log(3))


def test_similarity_must_be_square_with_a_unit_diagonal():
    with pytest.raises(ValueError, match=r"^similarity must be \(3, 3\), got \(2, 2\)$"):
        scores_of([0, 1, 2], np.array([0, 1, 2]), np.eye(2))
    with pytest.raises(ValueError, match=r"^similarity must have a diagonal of 1 \(a same-class pair counts 1\.0\)$"):
        scores_of([0, 1, 2], np.array([0, 1, 2]), np.full((3, 3), 0.5))


def test_one_symbol_for_one_class_is_a_perfect_labelling_and_one_pair_has_its_similarity():
    """scikit-learn's convention for the trivial protocol (nMI 1); WNSim of a single shared pair."""
    similarity = path_like_similarity(3, 1)
    trivial = scores_of([4, 4, 4], np.array([2, 2, 2]), similarity)
    assert trivial.nmi == 1.0 == normalized_mutual_info_score([2, 2, 2], [4, 4, 4])
    assert scores_of([4, 4, 4], np.array([0, 1, 2]), similarity).nmi == 0.0  # one symbol, three classes
    one_pair = scores_of([0, 1, 1], np.array([0, 1, 2]), similarity)
    assert one_pair.pairs == 1 and one_pair.wnsim == pytest.approx(similarity[1, 2])
    assert math.isnan(scores_of([0, 1, 2], np.array([0, 1, 2]), similarity).wnsim)  # no shared symbol


def test_null_default_seed_is_zero():
    rng = np.random.default_rng(2)
    scores = scores_of(rng.integers(0, 5, 60), rng.integers(0, 4, 60), path_like_similarity(4, 2))
    default, zero = scores.null(20), scores.null(20, seed=0)
    assert np.array_equal(default[0], zero[0]) and np.array_equal(default[1], zero[1])
    assert not np.array_equal(default[0], scores.null(20, seed=1)[0])
