"""Game evaluation (Table 1) and SimCLR_kmeans: per-item files, SimCLR_disc, noise, eval mode, bad input."""

import json
import time

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from emcom.checkpoint import MODEL_FORMAT, save
from emcom.cli import main
from emcom.config import ConfigError, ExperimentConfig
from emcom.data.folder import DatasetError
from emcom.data.noise import GaussianNoiseDataset
from emcom.evaluation.errors import ItemsFileError, ModelFileError
from emcom.evaluation.evaluate import build_test_set, evaluate_model
from emcom.evaluation.game_accuracy import play_game, protocol_of, round_vectors, simclr_disc_message
from emcom.evaluation.items import ITEM_COLUMNS, read_items
from emcom.evaluation.kmeans import assign, fit_kmeans, fit_subset, run_kmeans
from emcom.models import build_model
from synthetic import make_image_set

NOISE = {"batches": 3, "batch_size": 8, "seed": 4}


def model_file(tmp_path, root, kind="game", name=None):
    """A model.pt as training writes it, with BN running statistics moved off their initial values."""
    torch.manual_seed(0)
    config = ExperimentConfig.from_dict({
        "model": {"kind": kind, "backbone": "small_resnet", "low_resolution_stem": True, "vocab_size": 32,
                  "hidden_size": 16},
        "data": {"root": str(root), "image_size": 16, "num_workers": 0}, "optim": {"batch_size": 8}})
    model = build_model(config.model).train()
    with torch.no_grad():
        for _ in range(3):
            images = torch.randn(8, 3, 16, 16) * 2 + 0.3
            model(images, images)
    path = tmp_path / (name or kind) / "model.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    save({"format": MODEL_FORMAT, "config": config.to_dict(), "model": model.state_dict(), "history": []}, path)
    return path, model.eval()


@pytest.mark.slow
def test_game_evaluation_writes_the_interface_files(image_set, tmp_path):
    path, _ = model_file(tmp_path, image_set)
    summary = evaluate_model(path, "val", tmp_path / "out", image_set, seed=1)
    items = read_items(tmp_path / "out" / "val.items.tsv.gz")
    assert list(items.columns) == list(ITEM_COLUMNS)
    assert summary == json.loads((tmp_path / "out" / "val.json").read_text())
    assert summary["batch_size"] == 8 and summary["chance"] == 1 / 8 and summary["protocol"] == "game"
    assert summary["items"] == len(items) == 128 and summary["batches"] == 16  # 8 classes x 16, drop_last
    assert summary["accuracy"] == pytest.approx(items["correct"].mean())
    assert items["item"].tolist() == list(range(128)) and sorted(items["index"]) == list(range(128))
    classes = pd.read_csv(image_set / "classes.tsv", sep="\t")["wnid"].tolist()
    for row in items.itertuples():
        assert (image_set / row.source).is_file() and row.source.split("/")[1] == row.wnid
        assert classes[row.label] == row.wnid
    again = evaluate_model(path, "val", tmp_path / "again", image_set, seed=1)
    assert again == {**summary, "model": str(path)}
    assert read_items(tmp_path / "again" / "val.items.tsv.gz").equals(items)


def test_noise_evaluation_is_reproducible_batch_for_batch(image_set, tmp_path):
    path, model = model_file(tmp_path, image_set)
    first = evaluate_model(path, "noise", tmp_path / "a", noise=NOISE, seed=2)
    second = evaluate_model(path, "noise", tmp_path / "b", noise=NOISE, seed=2)
    a, b = (read_items(tmp_path / d / "noise.items.tsv.gz") for d in "ab")
    assert a.equals(b) and first["accuracy"] == second["accuracy"] and first["noise_definition"] == "normalized"
    assert a["source"].str.startswith("noise:").all() and (a["label"] == -1).all() and (a["wnid"] == "").all()
    assert a["correct"].dtype == np.int64 and set(a["correct"]) <= {0, 1}  # written as 0/1, not 0.0/1.0
    # the summary says what was played, and with which model (Table 1's captions read these)
    assert first == json.loads((tmp_path / "a" / "noise.json").read_text())
    assert first == {"variant": "game", "kind": "game", "protocol": "game", "test_set": "noise",
                     "accuracy": first["accuracy"], "chance": 1 / 8, "batch_size": 8, "batches": 3, "items": 24,
                     "seed": 2, "image_size": 16, "backbone": "small_resnet", "epochs": 100,
                     "dataset": image_set.name, "noise_definition": "normalized", "vocab_size": 32,
                     "symbols_used": a["symbol"].nunique(), "model": str(path)}
    assert first["accuracy"] == pytest.approx(a["correct"].mean())
    # batch k of the play is items[8k:8k+8]; played by hand from the noise generator, it gives the same
    noise = GaussianNoiseDataset(24, 16, seed=4)
    for k in range(3):
        batch = a.iloc[8 * k: 8 * k + 8]
        images = torch.stack([noise[i][0] for i in batch["index"]])
        with torch.no_grad():
            vectors = round_vectors(model, images)
        assert (vectors.symbols.numpy() == batch["symbol"].to_numpy()).all()
    raw = evaluate_model(path, "noise_raw", tmp_path / "c", noise=NOISE, seed=2)
    assert raw["noise_definition"] == "raw" and raw["items"] == 24


def test_raw_noise_is_standard_normal_and_normalised_noise_is_its_imagenet_normalisation():
    raw, normalised = GaussianNoiseDataset(2, 32, seed=1, normalize=False), GaussianNoiseDataset(2, 32, seed=1)
    mean, std = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1), torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    assert torch.allclose((raw[0][0] - mean) / std, normalised[0][0])
    assert abs(raw[1][0].mean()) < 0.1 and abs(raw[1][0].std() - 1) < 0.1


def test_simclr_disc_message_is_the_one_hot_of_argmax_s_through_the_last_linear(image_set, tmp_path):
    _, model = model_file(tmp_path, image_set, "simclr")
    images = torch.randn(8, 3, 16, 16)
    seen = []
    handle = model.head[3].register_forward_hook(lambda module, inputs, output: seen.append(inputs[0]))
    with torch.no_grad():
        layers = model.layers(images)
        seen.clear()
        message = simclr_disc_message(model, layers.s)
    handle.remove()
    one_hot = seen[0]
    assert torch.equal(one_hot, F.one_hot(layers.s.argmax(dim=1), layers.s.shape[1]).float())
    assert torch.allclose(message, one_hot @ model.head[3].weight.T)
    with torch.no_grad():
        vectors = round_vectors(model, images)
    assert torch.equal(vectors.symbols, layers.s.argmax(dim=1)) and torch.equal(vectors.symbols_h, layers.h.argmax(dim=1))
    assert torch.allclose(vectors.candidates, layers.z)  # the Receiver side stays continuous


def test_simclr_evaluation_records_symbol_h(image_set, tmp_path):
    path, _ = model_file(tmp_path, image_set, "simclr")
    summary = evaluate_model(path, "val", tmp_path / "out", image_set)
    items = read_items(tmp_path / "out" / "val.items.tsv.gz", (*ITEM_COLUMNS, "symbol_h"))
    assert summary["protocol"] == "simclr_disc" and summary["kind"] == "simclr"
    assert items["symbol_h"].between(0, 127).all()  # small_resnet: h has 128 dims
    assert items["symbol"].between(0, 15).all()  # s has hidden_size = 16 dims


@pytest.mark.parametrize("kind", ["game", "simclr"])
def test_eval_mode_items_do_not_depend_on_their_batch_and_build_no_graph(image_set, tmp_path, kind):
    _, model = model_file(tmp_path, image_set, kind)
    model.train()  # whatever mode the caller left it in: play_game switches to eval and back
    images = torch.randn(16, 3, 16, 16) * 1.5
    dataset = torch.utils.data.TensorDataset(images, torch.arange(16))
    whole = play_game(model, dataset, batch_size=16, seed=0)
    split = play_game(model, dataset, batch_size=4, seed=7)  # another order, batches of 4
    assert model.training
    by_item = dict(zip(split.labels.tolist(), split.symbols.tolist()))
    assert [by_item[i] for i in whole.labels.tolist()] == whole.symbols.tolist()
    model.eval()
    with torch.no_grad():
        one = round_vectors(model, images)
        order = torch.randperm(16, generator=torch.Generator().manual_seed(3))
        parts = [round_vectors(model, images[order[k:k + 5]]) for k in range(0, 16, 5)]
    for field in ("messages", "candidates"):
        pieces = torch.cat([getattr(p, field) for p in parts])
        assert torch.allclose(pieces, getattr(one, field)[order], atol=1e-5)
    assert not one.messages.requires_grad and one.messages.grad_fn is None
    played = []
    cnn = model.cnn if kind == "simclr" else model.sender.cnn
    handle = cnn.register_forward_hook(lambda module, inputs, output: played.append(output.requires_grad))
    play_game(model, dataset, batch_size=8, seed=0)
    handle.remove()
    assert played and not any(played)


def test_a_model_that_plays_no_game_is_named_in_the_error():
    """Neither a game nor SimCLR: the error names the class (and, for the protocol, what is expected)."""
    stranger = torch.nn.Linear(3, 3)
    with pytest.raises(TypeError, match=r"^cannot play the game with a Linear; expected ReferentialGame or SimCLR$"):
        protocol_of(stranger)
    with pytest.raises(TypeError, match=r"^cannot play the game with a Linear$"):
        round_vectors(stranger, torch.zeros(2, 3, 8, 8))


def test_a_file_that_is_not_an_emcom_model_is_one_line(tmp_path, capsys):
    bogus = tmp_path / "model.pt"
    torch.save({"weights": torch.zeros(2)}, bogus)
    assert main(["evaluate", str(bogus), "val", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(bogus) in err and "not an emcom model" in err
    (tmp_path / "text.pt").write_text("hello")
    assert main(["kmeans", str(tmp_path / "text.pt"), "--k", "2", "--out", str(tmp_path / "k")]) == 2
    assert str(tmp_path / "text.pt") in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_read_model_says_in_one_line_why_a_file_is_not_a_model(tmp_path, monkeypatch):
    """Missing file; a load error's first line only; an error without a message by its type."""
    import emcom.evaluation.evaluate as evaluate

    with pytest.raises(ModelFileError, match=r"^model file not found: .*absent\.pt$"):
        evaluate.read_model(tmp_path / "absent.pt")
    path = tmp_path / "model.pt"
    path.write_bytes(b"")
    seen = []
    for error, reason in ((RuntimeError("size mismatch\n  details"), "size mismatch"), (KeyError(), "KeyError"),
                          (ValueError("  \n"), "ValueError")):
        def fail(file, device, error=error):
            seen.append(device)
            raise error
        monkeypatch.setattr(evaluate, "load_model", fail)
        with pytest.raises(ModelFileError) as caught:
            evaluate.read_model(path, "meta")
        assert str(caught.value) == f"{path} is not an emcom model file: {reason}"
    with pytest.raises(ModelFileError):
        evaluate.read_model(path)
    assert seen == ["meta"] * 3 + ["cpu"]  # the device reaches the loader; by default the CPU


def test_kmeans_fit_share_smaller_than_k_names_the_config_key():
    with pytest.raises(ConfigError, match=r"analysis\.kmeans_fit_fraction = 0\.1 gives 928 .* k = 1024 centroids: "
                                          r"set it to at least 0\.1103 "):
        fit_subset(9280, 0.1, 1024, seed=0)
    subset = fit_subset(9280, 0.25, 1024, seed=0)
    assert len(subset) == 2320 and len(set(subset)) == 2320 and np.array_equal(subset, fit_subset(9280, 0.25, 1024, 0))


def test_kmeans_assigns_the_nearest_centroid():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 10, (4, 6))
    points = (centres[rng.integers(0, 4, 200)] + rng.normal(0, 0.5, (200, 6))).astype(np.float32)
    kmeans, inertia = fit_kmeans(points, 4, seed=1)
    clusters = assign(kmeans, points)
    distances = ((points[:, None, :] - kmeans.centroids[None]) ** 2).sum(-1)
    assert np.array_equal(clusters, distances.argmin(1))
    assert inertia == pytest.approx(distances.min(1).sum(), rel=1e-4)


def test_kmeans_command_writes_fit_and_items(image_set, tmp_path):
    path, _ = model_file(tmp_path, image_set, "simclr")
    out = tmp_path / "simclr_k4"
    assert main(["kmeans", str(path), "--k", "4", "--out", str(out), "--dataset", str(image_set),
                 "--fraction", "0.5", "--test-sets", "val"]) == 0
    fit = json.loads((out / "fit.json").read_text())
    assert fit["k"] == 4 and fit["fit_images"] == 64 and fit["library"].startswith("faiss")
    items = read_items(out / "val.items.tsv.gz")
    assert len(items) == 128 and items["symbol"].between(0, 3).all() and (items["correct"] == "").all()


@pytest.mark.parametrize("fraction", [0, -0.1, 1.5])
def test_kmeans_fit_share_outside_zero_one_names_the_key(fraction):
    with pytest.raises(ConfigError, match=rf"analysis\.kmeans_fit_fraction must be in \(0, 1\], got {fraction}"):
        fit_subset(100, fraction, 2, seed=0)


def test_kmeans_fit_share_may_be_all_of_train_or_exactly_k_images():
    assert np.array_equal(fit_subset(50, 1.0, 50, seed=3), np.arange(50))
    exactly_k = fit_subset(100, 0.1, 10, seed=0)
    assert len(exactly_k) == 10 and np.all(np.diff(exactly_k) > 0)  # sorted, distinct


def test_run_kmeans_uses_the_given_dataset_its_defaults_and_its_seed(image_set, tmp_path):
    """The model's own data.root points nowhere (a moved dataset): the dataset_root given is used. Defaults:
    a 10% fit share and seed 0 (SPEC.md); the same seed gives the same clusters; a game model is refused."""
    path, _ = model_file(tmp_path, tmp_path / "moved-away", "simclr")
    started = time.perf_counter()
    fit = run_kmeans(path, 4, tmp_path / "a", image_set, test_sets=("val",))
    elapsed = time.perf_counter() - started
    assert (fit["fraction"], fit["seed"], fit["fit_images"], fit["train_images"]) == (0.1, 0, 13, 128)
    assert (fit["k"], fit["iterations"], fit["feature_dim"], fit["test_sets"]) == (4, 25, 128, ["val"])
    assert fit["model"] == str(path) and fit["dataset"] == image_set.name and fit["inertia"] > 0
    # the fit's own time, rounded to ms: part of the call's (not a speed check)
    assert 0 <= fit["seconds"] <= elapsed + 0.001 and fit["seconds"] == round(fit["seconds"], 3)
    assert json.loads((tmp_path / "a" / "fit.json").read_text()) == fit
    again = run_kmeans(path, 4, tmp_path / "b", image_set, seed=0, test_sets=("val",))
    assert again["inertia"] == fit["inertia"]
    assert read_items(tmp_path / "a" / "val.items.tsv.gz").equals(read_items(tmp_path / "b" / "val.items.tsv.gz"))
    game, _ = model_file(tmp_path, image_set, "game")
    with pytest.raises(ConfigError, match=r"game/model\.pt: k-means runs on a SimCLR model's h, this is a game model"):
        run_kmeans(game, 4, tmp_path / "c", image_set)


def test_kmeans_takes_the_runs_seed_and_any_float_features(image_set, tmp_path, monkeypatch):
    """The run's seed reaches faiss (different seeds: different centroids; same seed: the same) and
    float64 features are converted for faiss; clusters are int64."""
    points = np.random.default_rng(0).random((120, 6))  # float64, no cluster structure: init matters
    first, _ = fit_kmeans(points, 8, seed=0)
    assert np.array_equal(first.centroids, fit_kmeans(points, 8)[0].centroids)  # seed 0 by default
    assert not np.array_equal(first.centroids, fit_kmeans(points, 8, seed=1)[0].centroids)
    clusters = assign(first, points)
    assert clusters.dtype == np.int64 and clusters.shape == (120,)
    import emcom.evaluation.kmeans as kmeans_module

    seeds = []
    fit = kmeans_module.fit_kmeans
    monkeypatch.setattr(kmeans_module, "fit_kmeans", lambda features, k, seed: seeds.append(seed) or fit(features, k, seed))
    path, _ = model_file(tmp_path, image_set, "simclr")
    run_kmeans(path, 4, tmp_path / "k", image_set, seed=7, test_sets=("val",))
    assert seeds == [7]


def test_evaluation_defaults_name_the_variant_by_its_folder_and_play_with_seed_zero(image_set, tmp_path):
    path, _ = model_file(tmp_path, image_set, name="game_aug_noshared")
    summary = evaluate_model(path, "val", tmp_path / "out", image_set)
    assert summary["variant"] == "game_aug_noshared" and summary["seed"] == 0
    seeded = evaluate_model(path, "val", tmp_path / "zero", image_set, seed=0, variant="renamed")
    assert seeded["variant"] == "renamed" and seeded["accuracy"] == summary["accuracy"]
    assert read_items(tmp_path / "zero" / "val.items.tsv.gz").equals(read_items(tmp_path / "out" / "val.items.tsv.gz"))


def test_per_item_files_keep_sources_and_wnids_as_text_and_name_a_bad_file(tmp_path):
    path = tmp_path / "noise.items.tsv.gz"
    pd.DataFrame({"item": [0, 1], "index": [0, 1], "source": ["0007", "0010"], "wnid": ["", ""], "label": [-1, -1],
                  "symbol": [3, 3], "correct": [1, 0]}).to_csv(path, sep="\t", index=False, compression="gzip")
    items = read_items(path)
    assert items["source"].tolist() == ["0007", "0010"] and items["wnid"].tolist() == ["", ""]
    with pytest.raises(ItemsFileError, match=r"per-item file not found: .*missing\.items\.tsv\.gz"):
        read_items(tmp_path / "missing.items.tsv.gz")
    (tmp_path / "broken.items.tsv.gz").write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(ItemsFileError, match=r"broken\.items\.tsv\.gz: not a per-item TSV file \("):
        read_items(tmp_path / "broken.items.tsv.gz")


def test_items_files_have_the_documented_columns_and_nothing_else(tmp_path):
    """write_items: ITEM_COLUMNS first, extras after, no index column, gzip TSV; a missing column names
    the file and the column. read_items keeps sources and wnids as written (text, even digits and commas)."""
    import gzip

    from emcom.evaluation.items import write_items

    table = pd.DataFrame({"symbol_h": [5, 6], "correct": [1, 0], "symbol": [3, 4], "label": [0, -1],
                          "wnid": ["0123", ""], "source": ["a dir/x,y.png", "noise:1"], "index": [9, 8],
                          "item": [0, 1]})
    path = tmp_path / "val.items.tsv.gz"
    write_items(table, path)
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    assert lines[0].split("\t") == [*ITEM_COLUMNS, "symbol_h"]
    assert lines[1].split("\t") == ["0", "9", "a dir/x,y.png", "0123", "0", "3", "1", "5"]
    back = read_items(path)
    assert back["wnid"].tolist() == ["0123", ""] and back["source"].tolist() == ["a dir/x,y.png", "noise:1"]
    assert back["symbol"].tolist() == [3, 4]
    write_items(table.assign(wnid=["0123", "0456"]), path)  # digits only: still text
    assert read_items(path)["wnid"].tolist() == ["0123", "0456"]
    with pytest.raises(ValueError, match=r"^per-item table for .*bad\.items\.tsv\.gz lacks column\(s\) \['wnid', 'correct'\]$"):
        write_items(table.drop(columns=["wnid", "correct"]), tmp_path / "bad.items.tsv.gz")
    assert not (tmp_path / "bad.items.tsv.gz").exists()


def test_build_test_set_names_each_set_and_says_what_it_lacks(tmp_path):
    """Names as asked, raw noise for noise_raw, the default seed of augmented views, and one message per
    missing input (noise config, dataset root, classes of the split: the first five named)."""
    root = make_image_set(tmp_path / "set", classes=7, per_class=2, splits=("val",))
    assert build_test_set("val", 16, root).name == "val"
    for name, normalize in (("noise", True), ("noise_raw", False)):
        tests = build_test_set(name, 16, noise=NOISE)
        assert tests.name == name
        assert torch.equal(tests.dataset[3][0], GaussianNoiseDataset.from_config(NOISE, 16, normalize=normalize)[3][0])
    views = build_test_set("val_aug", 16, root, augmentation=ExperimentConfig().data)
    seeded = build_test_set("val_aug", 16, root, augmentation=ExperimentConfig().data, seed=0)
    assert views.name == "val_aug" and all(torch.equal(a, b) for a, b in zip(views.dataset[5][0], seeded.dataset[5][0]))
    with pytest.raises(DatasetError, match=r"^test set noise needs the noise config section \(batches, batch_size, seed\)$"):
        build_test_set("noise", 16)
    with pytest.raises(DatasetError, match=r"^test set val is a dataset split: it needs the dataset root$"):
        build_test_set("val", 16)
    classes = (root / "classes.tsv").read_text().splitlines()
    (root / "classes.tsv").write_text("\n".join(classes[:2]) + "\n")  # the header and the first class only
    wnids = [line.split("\t")[0] for line in classes[2:7]]
    with pytest.raises(DatasetError) as caught:
        build_test_set("val", 16, root)
    assert str(caught.value) == f"{root / 'classes.tsv'}: lacks the class(es) {wnids} of split val"


def test_kmeans_runs_its_iterations_on_every_fit_point():
    """k-means is fitted on all the points it is given (faiss alone would subsample to 256 per centroid)
    for the iterations asked: one iteration stops before convergence, 50 reach Lloyd's fixed point,
    where each centroid is the mean of the points assigned to it."""
    rng = np.random.default_rng(0)
    points = np.concatenate([rng.normal(0, 1, (700, 2)), rng.normal(1.5, 1, (700, 2))]).astype(np.float32)
    converged, _ = fit_kmeans(points, 2, iterations=50)
    clusters = assign(converged, points)
    means = np.stack([points[clusters == c].mean(axis=0) for c in range(2)])
    assert np.allclose(converged.centroids, means, atol=1e-4)  # a 512-point subsample misses by ~1e-2
    early, _ = fit_kmeans(points, 2, iterations=1)
    assert not np.allclose(early.centroids, converged.centroids, atol=1e-3)


def test_the_package_loads_play_game_on_first_use():
    """emcom.evaluation stays torch-free to import (the DAG reads emcom.evaluation.test_sets) and still
    offers play_game and GamePlay; any other name is an AttributeError naming it."""
    import emcom.evaluation
    import emcom.evaluation.game_accuracy as game_accuracy

    assert emcom.evaluation.play_game is game_accuracy.play_game and emcom.evaluation.GamePlay is game_accuracy.GamePlay
    with pytest.raises(AttributeError, match=r"^module 'emcom.evaluation' has no attribute 'round_vectors'$"):
        emcom.evaluation.round_vectors
