"""Linear evaluation (Table 3): the head, the VOC07 SVM maths, the frozen trunk and its pooling,
the dataset adapters and the table. CPU, a few seconds each."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from sklearn.model_selection import cross_val_score

from emcom.checkpoint import MODEL_FORMAT, save
from emcom.config import ConfigError
from emcom.data.folder import DatasetError
from emcom.linear_eval.datasets import load_split
from emcom.linear_eval.features import extract_split_features, load_cached
from emcom.linear_eval.kinds import paths_set
from emcom.linear_eval.linear import LinearSettings, feature_batches, train_linear, train_linear_on_cache
from emcom.linear_eval.svm import average_precision, make_svm, select_cost, svm_benchmark
from emcom.linear_eval.table import write_table3
from emcom.linear_eval.trunk import FrozenTrunk, load_trunk
from emcom.models import build_backbone, build_model


def clusters(n_per_class: int, classes: int, dim: int, spread: float, seed: int):
    """Gaussian blobs around random unit centres: (N, dim) float32, (N,) int64."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    labels = np.repeat(np.arange(classes), n_per_class)
    features = centres[labels] + spread * rng.normal(size=(len(labels), dim))
    return features.astype(np.float32), labels.astype(np.int64)


def test_head_separates_linearly_separable_features(tmp_path):
    train_x, train_y = clusters(100, 5, 32, 0.05, seed=0)  # 32 = 8 channels × 2 × 2
    test_x, test_y = clusters(40, 5, 32, 0.05, seed=0)
    settings = LinearSettings(epochs=6, milestones=[4], batch_size=64, seed=0)
    batches = lambda epoch: feature_batches(train_x, train_y, 64, True, np.random.default_rng(epoch))  # noqa: E731
    result = train_linear(batches, test_x, test_y, channels=8, grid=2, num_classes=5, settings=settings,
                          out_json=tmp_path / "r.json")
    assert result["top1"] >= 99.0 and result["top5"] == 100.0
    assert len(result["history"]) == 6 and result["history"][4]["lr"] == pytest.approx(settings.lr() * 0.1)
    assert json.loads((tmp_path / "r.json").read_text())["value"] == result["top1"]
    assert not (tmp_path / "r.json.ckpt.pt").exists()


def test_head_resumes_after_an_interruption(tmp_path):
    x, y = clusters(30, 3, 8, 0.5, seed=1)
    settings = LinearSettings(epochs=3, milestones=[2], batch_size=16)

    def batches(epoch):
        return feature_batches(x, y, 16, True, np.random.default_rng([0, epoch]))

    full = train_linear(batches, x, y, 2, 2, 3, settings, tmp_path / "full.json")

    def failing(epoch):
        if epoch == 2:
            raise KeyboardInterrupt
        return batches(epoch)

    with pytest.raises(KeyboardInterrupt):
        train_linear(failing, x, y, 2, 2, 3, settings, tmp_path / "cut.json")
    assert (tmp_path / "cut.json.ckpt.pt").is_file() and not (tmp_path / "cut.json").exists()
    resumed = train_linear(batches, x, y, 2, 2, 3, settings, tmp_path / "cut.json")
    assert [h["loss"] for h in resumed["history"]] == pytest.approx([h["loss"] for h in full["history"]])
    assert resumed["top1"] == full["top1"]


def test_average_precision_hand_computed():
    # ranks: +, -, +, -  -> precision 1, .5, .667, .5 at recall .5, .5, 1, 1 -> monotone: 1 then 2/3
    assert average_precision([0.9, 0.8, 0.7, 0.6], [1, -1, 1, -1]) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    # a tie between a positive and a negative is one threshold: precision 1/2 at recall 1 (not 1 or 0)
    assert average_precision([0.5, 0.5, 0.1], [1, -1, -1]) == pytest.approx(0.5)
    assert average_precision([0.9, 0.5, 0.5], [-1, 1, -1]) == pytest.approx(1 / 3)
    # a difficult (0) item is left out wherever it ranks
    assert average_precision([0.99, 0.9, 0.8, 0.7, 0.6], [0, 1, -1, 1, -1]) == pytest.approx(0.5 + 0.5 * 2 / 3)
    # no positives: undefined
    assert math.isnan(average_precision([0.3, 0.2], [-1, 0]))
    assert average_precision([0.1, 0.2, 0.3], [1, 1, 1]) == pytest.approx(1.0)


def test_cost_search_picks_the_best_cross_validated_cost():
    # 40 images, 1 weak informative dimension + 300 noise ones: a large C fits the noise (n << d).
    rng = np.random.default_rng(0)
    y = np.where(np.arange(40) % 2 == 0, 1, -1)
    x = np.concatenate([y[:, None] * 0.6 + rng.normal(size=(40, 1)), rng.normal(size=(40, 300)) * 3], axis=1)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    costs = (0.01, 1.0, 1000.0)
    best, scores = select_cost(x, y, costs)
    expected = {str(c): np.mean(cross_val_score(make_svm(c), x, y, cv=3, scoring="average_precision")) for c in costs}
    assert scores == pytest.approx(expected)
    assert best == max(costs, key=lambda c: expected[str(c)])
    assert scores[str(best)] > min(scores.values())  # the choice matters on this case


def test_svm_benchmark_separable_classes_and_difficult_handling():
    x, y = clusters(30, 3, 16, 0.05, seed=2)
    labels = np.where(np.eye(3, dtype=np.int8)[y] == 1, 1, -1).astype(np.int8)
    test_labels = labels.copy()
    test_labels[0, 1] = 0  # a class-0 image marked "difficult" for class 1: excluded from class 1's AP
    test_labels[:, 2] = -1  # class 2 has no test positives: left out of mAP
    result = svm_benchmark(x, labels, x, test_labels, ["a", "b", "c"], costs=(0.1, 1.0))
    aps = {row["name"]: row["ap"] for row in result["classes"]}
    assert aps["a"] == pytest.approx(100.0) and aps["b"] == pytest.approx(100.0) and math.isnan(aps["c"])
    assert result["map"] == pytest.approx(100.0) and result["classes_without_positives"] == ["c"]


@pytest.mark.slow  # image decoding and CNN forwards: seconds on a busy 2-core CPU
def test_resnet50_res5_pooling_is_8192_at_224_px():
    cnn, _ = build_backbone("resnet50")
    trunk = FrozenTrunk(cnn, 2048, "res5")
    out = trunk(torch.randn(2, 3, 224, 224))
    assert out.shape == (2, 2048, 2, 2) and out.flatten(1).shape[1] == 8192
    assert FrozenTrunk(cnn, 2048, "res5avg")(torch.randn(1, 3, 224, 224)).shape == (1, 2048, 1, 1)


def test_small_resnet_res5_rule_at_32_px():
    cnn, channels = build_backbone("small_resnet", low_resolution_stem=True)
    trunk = FrozenTrunk(cnn, channels, "res5")
    assert channels == 128 and trunk.feature_dim(32) == 512  # 4×4 map -> AvgPool2d(3, 1) -> 2×2
    images = torch.randn(3, 3, 32, 32)
    # the global average of the 2×2 grid's windows is not the plain global pool, but res5avg is
    assert torch.allclose(FrozenTrunk(cnn, channels, "res5avg")(images).flatten(1), cnn(images), atol=1e-5)


def test_trunk_stays_frozen_while_a_head_trains(tmp_path):
    cnn, channels = build_backbone("small_resnet", low_resolution_stem=True)
    trunk = FrozenTrunk(cnn, channels)
    before = {k: v.clone() for k, v in trunk.state_dict().items()}
    images, labels = torch.randn(64, 3, 32, 32), torch.randint(0, 4, (64,))
    parent = torch.nn.ModuleDict({"trunk": trunk})
    parent.train()  # what a training loop does to the whole model
    assert not trunk.training and not any(p.requires_grad for p in trunk.parameters())

    def batches(epoch):  # the online protocol: images through the trunk at every step
        for start in range(0, 64, 16):
            yield trunk(images[start:start + 16]).flatten(1), labels[start:start + 16]

    train_linear(batches, np.zeros((4, 512), np.float32), np.zeros(4, np.int64), channels, 2, 4,
                 LinearSettings(epochs=2, milestones=[1], batch_size=16), tmp_path / "r.json")
    after = trunk.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # weights, BN running stats, counters


def _model_file(tmp_path, kind="game"):
    raw = {"model": {"kind": kind, "backbone": "small_resnet", "low_resolution_stem": True, "vocab_size": 16,
                     "hidden_size": 8},
           "data": {"root": str(tmp_path), "image_size": 32, "num_workers": 0}}
    from emcom.config import ExperimentConfig
    config = ExperimentConfig.from_dict(raw)
    torch.manual_seed(3)
    model = build_model(config.model)
    path = tmp_path / "m" / "model.pt"
    save({"format": MODEL_FORMAT, "config": config.to_dict(), "model": model.state_dict(), "history": []}, path)
    return path, model


def test_trunk_is_the_senders_cnn_and_random_init_is_not(tmp_path):
    path, model = _model_file(tmp_path)
    trunk, info = load_trunk(path)
    assert info.kind == "game" and info.image_size == 32 and info.channels == 128
    assert all(torch.equal(a, b) for a, b in zip(trunk.cnn.state_dict().values(),
                                                  model.sender.cnn.state_dict().values()))
    random, random_info = load_trunk(path, random_init_seed=0, model_name="random_init")
    assert random_info.kind == "random_init"
    assert not torch.equal(random.cnn.stem[0].weight, model.sender.cnn.stem[0].weight)
    again, _ = load_trunk(path, random_init_seed=0)
    assert torch.equal(again.cnn.stem[0].weight, random.cnn.stem[0].weight)  # seeded


@pytest.mark.slow  # image decoding and CNN forwards: seconds on a busy 2-core CPU
def test_features_cache_and_head_on_a_built_dataset(tmp_path, image_set):
    path, _ = _model_file(tmp_path, kind="simclr")
    spec = {"kind": "built", "root": str(image_set), "train_split": "train", "test_split": "val"}
    for split in ("train", "test"):
        meta = extract_split_features(path, spec, "toy", split, tmp_path / "cache" / split, batch_size=32,
                                      progress=False)
        assert meta["items"] == 128 and meta["dim"] == 512 and meta["classes"] == 8
    x, y, _ = load_cached(tmp_path / "cache" / "train")
    assert x.shape == (128, 512) and list(np.bincount(y)) == [16] * 8
    result = train_linear_on_cache(tmp_path / "cache" / "train", tmp_path / "cache" / "test",
                                   LinearSettings(epochs=2, milestones=[1], batch_size=32), tmp_path / "toy.json")
    assert result["model"] == "m" and result["dataset"] == "toy" and result["test_items"] == 128
    assert 0 <= result["top1"] <= result["top5"] <= 100


def test_dataset_adapters_and_their_errors(tmp_path):
    voc = tmp_path / "VOC2007"
    (voc / "ImageSets" / "Main").mkdir(parents=True)
    (voc / "Annotations").mkdir()
    (voc / "ImageSets" / "Main" / "trainval.txt").write_text("000001\n000002\n")
    obj = "<object><name>{}</name><difficult>{}</difficult></object>"
    (voc / "Annotations" / "000001.xml").write_text(f"<annotation>{obj.format('dog', 0)}{obj.format('cat', 1)}</annotation>")
    (voc / "Annotations" / "000002.xml").write_text(f"<annotation>{obj.format('cat', 1)}{obj.format('cat', 0)}</annotation>")
    split = load_split({"kind": "voc2007", "trainval": str(voc), "test": str(voc)}, "train", "voc07")
    dog, cat = split.classes.index("dog"), split.classes.index("cat")
    assert split.labels[0, dog] == 1 and split.labels[0, cat] == 0 and split.labels[1, cat] == 1
    assert (split.labels[:, split.classes.index("car")] == -1).all()
    (voc / "Annotations" / "000002.xml").write_text("<annotation><object>")
    with pytest.raises(DatasetError, match="000002.xml"):
        load_split({"kind": "voc2007", "trainval": str(voc), "test": str(voc)}, "train", "voc07")

    listing = tmp_path / "train_places205.csv"
    listing.write_text("a/abbey/1.jpg 0\nb/bar/2.jpg 3\n")
    places = load_split({"kind": "places205", "images": str(tmp_path), "train_list": str(listing),
                         "test_list": str(listing)}, "train", "places205")
    assert [p.name for p in places.paths] == ["1.jpg", "2.jpg"] and list(places.labels) == [0, 3]
    listing.write_text("a/abbey/1.jpg zero\n")
    with pytest.raises(DatasetError, match="train_places205.csv:1"):
        load_split({"kind": "places205", "images": str(tmp_path), "train_list": str(listing),
                    "test_list": str(listing)}, "train", "places205")

    annotations = tmp_path / "val2018.json"
    annotations.write_text(json.dumps({"images": [{"id": 5, "file_name": "x/5.jpg"}],
                                       "annotations": [{"image_id": 5, "category_id": 7}],
                                       "categories": [{"id": i} for i in range(8)]}))
    inat = load_split({"kind": "inaturalist2018", "images": str(tmp_path), "train_json": str(annotations),
                       "test_json": str(annotations)}, "test", "inaturalist2018")
    assert list(inat.labels) == [7] and len(inat.classes) == 8

    unset = {"kind": "folder", "train": None, "test": "/nowhere"}
    assert not paths_set(unset)
    with pytest.raises(ConfigError, match=r"linear_eval\.datasets\.imagenet\.train"):
        load_split(unset, "train", "imagenet")
    with pytest.raises(DatasetError, match="/nowhere"):
        load_split(unset, "test", "imagenet")


def test_table3_quotes_supervised_and_pairs_paper_values(tmp_path):
    paper = tmp_path / "paper.yaml"
    paper.write_text(yaml.safe_dump({"table3": {"supervised": {"imagenet": 76.5}, "simclr": {"imagenet": 60.6}}}))
    paths = []
    for model, value in (("simclr", 12.5), ("random_init", 8.0), ("game_aug_shared", 11.0)):
        for dataset in ("stamps", "imagenet"):
            path = tmp_path / model / f"{dataset}.json"
            path.parent.mkdir(exist_ok=True)
            path.write_text(json.dumps({"model": model, "dataset": dataset, "metric": "top1", "value": value,
                                        "top5": value + 10, "feature_dim": 512}))
            paths.append(path)
    frame = write_table3(paths, paper, ["stamps", "imagenet"], {}, tmp_path / "t.md", tmp_path / "t.csv",
                         tmp_path / "t.tex")
    csv = frame.set_index(["model", "dataset"])
    assert csv.loc[("supervised", "imagenet"), "source"] == "quoted" and csv.loc[("supervised", "imagenet"), "value"] == 76.5
    assert csv.loc[("simclr", "imagenet"), "paper"] == 60.6 and csv.loc[("simclr", "stamps"), "value"] == 12.5
    assert list(frame["model"].drop_duplicates()) == ["supervised", "simclr", "game_aug_shared", "random_init"]
    markdown = (tmp_path / "t.md").read_text()
    assert "ILSVRC-val (paper)" in markdown and "quoted" in markdown and "stamps (paper)" not in markdown
    assert (tmp_path / "t.tex").read_text().count(r"\\") >= 5


def test_verdict_needs_both_closeness_to_simclr_and_distance_from_the_floor():
    from emcom.linear_eval.verdict import table3_checks, verdict_line

    def frame(aug, simclr, floor):
        rows = [("simclr", simclr), ("random_init", floor), ("game_aug_noshared", aug), ("game_aug_shared", aug)]
        return pd.DataFrame([{"model": m, "dataset": "stamps", "value": v, "source": "computed"} for m, v in rows])

    assert all(c["pass"] for c in table3_checks(frame(28.0, 30.0, 15.0))[0])  # 0.93× SimCLR, +13 points
    assert not any(c["pass"] for c in table3_checks(frame(26.0, 30.0, 15.0))[0])  # 0.87× SimCLR
    assert not any(c["pass"] for c in table3_checks(frame(20.0, 20.0, 12.0))[0])  # at SimCLR, but +8 over the floor
    checks, missing = table3_checks(frame(28.0, 30.0, 15.0).iloc[:3])
    assert missing == ["game_aug_shared/stamps"] and "not tested" in verdict_line(checks, missing)


@pytest.mark.slow  # image decoding and CNN forwards: seconds on a busy 2-core CPU
def test_cli_linear_eval_runs_and_names_a_bad_dataset_key(tmp_path, image_set, capsys):
    from emcom.cli import main

    path, _ = _model_file(tmp_path)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"linear_eval": {
        "epochs": 1, "milestones": [1], "num_workers": 0,
        "datasets": {"toy": {"kind": "built", "root": str(image_set), "train_split": "train", "test_split": "val"}}}}))
    out = tmp_path / "out" / "toy.json"
    assert main(["linear-eval", str(path), "--dataset", "toy", "--config", str(config), "--out", str(out),
                 "--random-init", "0"]) == 0
    result = json.loads(out.read_text())
    assert result["model"] == "random_init" and result["kind"] == "random_init" and len(result["history"]) == 1
    assert main(["linear-eval", str(path), "--dataset", "nope", "--config", str(config), "--out", str(out)]) == 2
    assert "linear_eval.datasets has no entry 'nope'" in capsys.readouterr().err


@pytest.mark.slow  # one Snakemake dry run
def test_table3_dag_has_one_job_per_model_dataset_and_split(tmp_path):
    from test_workflow import scratch_workdir, snakemake

    workdir = scratch_workdir(tmp_path)
    plan = snakemake(workdir, "--dry-run", "--quiet", "rules", "--", "results/tables/table3.md")
    assert plan.returncode == 0, plan.stderr[-3000:]
    counts = {line.split()[0]: int(line.split()[1]) for line in plan.stdout.splitlines()
              if len(line.split()) == 2 and line.split()[1].isdigit()}
    models = len(yaml.safe_load((workdir / "config.yaml").read_text())["training"]["variants"]) + 1  # + random_init
    # config/ci.yaml: stamps only; train and test features cached once per model
    assert counts["linear_features"] == 2 * models and counts["linear_eval"] == models and counts["table3"] == 1


def test_claims_page_carries_the_stamps_verdict():
    from emcom.reporting.claims import check_claims

    rows = [("simclr", 30.0), ("random_init", 15.0), ("game_aug_noshared", 28.0), ("game_aug_shared", 20.0)]
    table3 = pd.DataFrame([{"model": m, "dataset": "stamps", "value": v, "source": "computed"} for m, v in rows])
    paper = {"table1": {}, "table2": {}, "table3": {}}
    result = check_claims([], [], paper, {}, kmeans_paper_k=None, table3=table3)
    claim = next(c for c in result["claims"] if c["id"] == "game_features_near_simclr_above_random")
    assert claim["verdict"] == "does not hold"  # game_aug_shared: 0.67× SimCLR, +5 points
    assert [c["pass"] for c in claim["checks"]] == [True, False]
