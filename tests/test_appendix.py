"""The paper's appendix experiments switched on in config (``appendix:``): the sweep variants, test-time
augmentation (``<split>_aug``), candidate counts at test time, Tables A.4-A.6 and the DAG they add."""

import copy
import json
import re
from pathlib import Path

import pytest
import torch
import yaml

from emcom.appendix import appendix_tables, evaluation_test_sets
from emcom.checkpoint import MODEL_FORMAT, save
from emcom.config import ConfigError, DataConfig, ExperimentConfig, deep_merge
from emcom.evaluation.augmented import training_views
from emcom.evaluation.evaluate import build_test_set, evaluate_model
from emcom.evaluation.game_accuracy import play_game, round_vectors, simclr_disc_message
from emcom.evaluation.items import read_items
from emcom.evaluation.test_sets import augmented_split
from emcom.models import build_model
from emcom.reporting.appendix import (
    table_a4_frame,
    table_a4_wide,
    table_a5_frame,
    table_a5_wide,
    table_a6_frame,
    table_a6_wide,
    write_table_a4,
    write_table_a6,
)
from emcom.reporting.inputs import display_name, row_sort_key
from emcom.reporting.tables import table1_frame, table2_frame
from emcom.variants import sweep_variants, with_extra_seeds, with_sweep_variants
from emcom.workflow_config import check_workflow_config
from reporting_inputs import PAPER, analysis, evaluation, write_json
from test_workflow import REPO, scratch_workdir, snakemake

SCHEMA = REPO / "rules" / "schema.yaml"
OFF = {"test_time_augmentation": False, "test_candidates": [],
       "vocab_sizes": {"variants": ["game_aug_noshared"], "values": []},
       "train_candidates": {"variants": ["game_aug_noshared"], "values": []}}


def training_section():
    return copy.deepcopy(yaml.safe_load((REPO / "config.yaml").read_text())["training"])


def appendix(**changes):
    return deep_merge(OFF, changes)


# ---- the sweep variants (emcom.variants) -------------------------------------------------------
def test_sweeps_add_variants_with_one_setting_changed():
    training = training_section()
    sweeps = appendix(vocab_sizes={"values": [64, 4096]},
                      train_candidates={"variants": ["game_aug_noshared", "simclr"], "values": [16]})
    variants = with_sweep_variants(training, sweeps)
    base = training["variants"]
    added = {name: overrides for name, overrides in variants.items() if name not in base}
    assert list(added) == ["game_aug_noshared_vocab64", "game_aug_noshared_vocab4096", "game_aug_noshared_cand16",
                           "simclr_cand16"]
    assert added["game_aug_noshared_vocab64"] == deep_merge(base["game_aug_noshared"], {"model": {"vocab_size": 64}})
    assert added["game_aug_noshared_vocab4096"]["model"]["vocab_size"] == 4096
    assert added["game_aug_noshared_cand16"] == deep_merge(base["game_aug_noshared"], {"optim": {"batch_size": 16}})
    assert added["simclr_cand16"] == deep_merge(base["simclr"], {"optim": {"batch_size": 16}})
    assert {k: v for k, v in variants.items() if k in base} == base  # the bases are untouched
    # the run config each one trains with: the base's, but the swept setting
    resolved = ExperimentConfig.from_dict(deep_merge(training["defaults"], added["game_aug_noshared_cand16"]))
    own = ExperimentConfig.from_dict(deep_merge(training["defaults"], base["game_aug_noshared"]))
    assert resolved.optim.batch_size == 16 and own.optim.batch_size == 64
    assert resolved.model == own.model and resolved.data == own.data and resolved.run == own.run
    records = {s.name: s for s in sweep_variants(training, sweeps)}
    assert (records["game_aug_noshared_vocab64"].base, records["game_aug_noshared_vocab64"].value,
            records["game_aug_noshared_vocab64"].base_value) == ("game_aug_noshared", 64, 1024)
    assert (records["simclr_cand16"].sweep, records["simclr_cand16"].base_value) == ("train_candidates", 64)


def test_switched_off_adds_nothing():
    training = training_section()
    assert sweep_variants(training, OFF) == []
    assert with_sweep_variants(training, OFF) == training["variants"]
    # values without variants, or variants without values: off as well
    assert sweep_variants(training, appendix(vocab_sizes={"variants": [], "values": [64]})) == []
    assert appendix_tables(OFF) == [] and evaluation_test_sets(["val", "noise"], OFF) == ["val", "noise"]


def test_switches_pick_tables_and_test_sets():
    assert appendix_tables(appendix(test_time_augmentation=True)) == ["table_a4"]
    assert appendix_tables(appendix(test_candidates=[16])) == ["table_a5"]
    assert appendix_tables(appendix(train_candidates={"values": [16]})) == ["table_a6"]
    assert evaluation_test_sets(["noise"], appendix(test_time_augmentation=True)) == [
        "noise", "val", "ood", "val_aug", "ood_aug"]
    assert evaluation_test_sets(["val", "ood"], appendix(test_candidates=[16])) == ["val", "ood"]


def test_a_seed_rerun_can_be_swept_too():
    training = training_section()
    training["extra_seeds"] = {"enabled": True, "variants": ["game_aug_noshared"], "seeds": [222]}
    training["variants"] = with_extra_seeds(training)
    variants = with_sweep_variants(training, appendix(vocab_sizes={"variants": ["game_aug_noshared_seed222"],
                                                                   "values": [64]}))
    assert variants["game_aug_noshared_seed222_vocab64"]["run"]["seed"] == 222
    assert variants["game_aug_noshared_seed222_vocab64"]["model"]["vocab_size"] == 64


@pytest.mark.parametrize("changes,message", [
    ({"vocab_sizes": {"variants": ["game_nope"], "values": [64]}},
     "appendix.vocab_sizes.variants: no variant 'game_nope'"),
    ({"train_candidates": {"variants": ["game_nope"], "values": [16]}},
     "appendix.train_candidates.variants: no variant 'game_nope'"),
    ({"vocab_sizes": {"variants": ["simclr"], "values": [64]}},
     "appendix.vocab_sizes.variants: 'simclr' is a simclr variant; a vocabulary size needs a game"),
    ({"vocab_sizes": {"values": [1024]}},  # config.yaml's training.defaults vocabulary
     "appendix.vocab_sizes.values: 1024 is already the model.vocab_size of game_aug_noshared"),
    ({"train_candidates": {"values": [64]}},
     "appendix.train_candidates.values: 64 is already the optim.batch_size of game_aug_noshared"),
    ({"train_candidates": {"values": [16]}},  # a user-defined variant of that name exists
     "appendix.train_candidates: 'game_aug_noshared_cand16' is already a variant of training.variants"),
])
def test_sweep_errors_name_the_key(changes, message):
    training = training_section()
    if "cand16" in message:
        training["variants"]["game_aug_noshared_cand16"] = {"model": {"kind": "game"}}
    with pytest.raises(ConfigError) as error:
        with_sweep_variants(training, appendix(**changes))
    assert str(error.value).startswith(message), str(error.value)


def test_a_variant_with_its_own_vocabulary_is_compared_with_that():
    training = training_section()
    training["variants"]["game_aug_noshared"]["model"]["vocab_size"] = 64
    with pytest.raises(ConfigError, match="64 is already the model.vocab_size of game_aug_noshared"):
        with_sweep_variants(training, appendix(vocab_sizes={"values": [64]}))
    assert "game_aug_noshared_vocab1024" in with_sweep_variants(training, appendix(vocab_sizes={"values": [1024]}))


@pytest.mark.parametrize("changes,line", [
    ({"test_candidates": [1]}, "config: appendix.test_candidates.0: 1 is less than the minimum of 2"),
    ({"vocab_sizes": {"values": [0]}}, "config: appendix.vocab_sizes.values.0: 0 is less than the minimum of 2"),
    ({"test_time_augmentaton": True}, "config: appendix.test_time_augmentaton: unknown key"),
    ({"train_candidates": {"value": [16]}}, "config: appendix.train_candidates.value: unknown key"),
])
def test_schema_names_the_appendix_key(changes, line):
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["appendix"] = deep_merge(config["appendix"], changes)
    with pytest.raises(ConfigError) as error:
        check_workflow_config(config, SCHEMA)
    assert str(error.value).startswith(line), str(error.value)


# ---- labels and paper values of the sweep variants ---------------------------------------------
def test_sweep_variants_get_readable_labels_and_their_own_rows():
    assert display_name("game_aug_noshared_vocab64") == "game +aug −shared (|V|=64)"
    assert display_name("game_aug_noshared_cand32") == "game +aug −shared (32 candidates)"
    assert display_name("simclr_cand32_disc") == "SimCLR_disc (32 candidates)"
    assert display_name("game_aug_noshared_seed222_vocab64") == "game +aug −shared (seed 222) (|V|=64)"
    names = ["game_aug_shared", "game_aug_noshared_vocab64", "game_aug_noshared_cand32", "game_aug_noshared",
             "game_aug_noshared_vocab8", "simclr"]
    assert sorted(names, key=row_sort_key) == ["simclr", "game_aug_noshared", "game_aug_noshared_cand32",
                                               "game_aug_noshared_vocab8", "game_aug_noshared_vocab64",
                                               "game_aug_shared"]


def test_sweep_variants_are_not_given_the_paper_values_of_their_base():
    paper = yaml.safe_load(PAPER.read_text())
    records = [evaluation(v, "val", 0.5) for v in ("game_aug_noshared", "game_aug_noshared_vocab64",
                                                   "game_aug_noshared_cand32")]
    frame = table1_frame(records, paper["table1"], test_sets=("val",)).set_index("model")
    assert frame.loc["game_aug_noshared", "paper"] == paper["table1"]["game_aug_noshared"]["val"]
    assert frame[["paper", "diff"]].loc[["game_aug_noshared_vocab64", "game_aug_noshared_cand32"]].isna().all().all()
    assert frame.loc["game_aug_noshared_vocab64", "label"] == "game +aug −shared (|V|=64)"
    analyses = [analysis(p, "val", 50, 0.6, 0.3) for p in ("game_aug_noshared", "game_aug_noshared_vocab64")]
    frame2 = table2_frame(analyses, paper["table2"], 2048, test_sets=("val",)).set_index("protocol")
    assert frame2.loc["game_aug_noshared", "nmi_paper"] == paper["table2"]["game_aug_noshared"]["val"]["nmi"]
    assert frame2.loc["game_aug_noshared_vocab64", ["nmi_paper", "wnsim_paper", "symbols_used_paper"]].isna().all()


# ---- <split>_aug: each agent its own augmented view --------------------------------------------
AUGMENT = DataConfig(image_size=16, min_crop_scale=0.5, blur_sigma=[0.1, 0.5], color_jitter_strength=0.4)


def model_file(tmp_path, root, kind="game"):
    """A small model.pt (16 px) with BatchNorm running statistics moved off their initial values."""
    torch.manual_seed(0)
    config = ExperimentConfig.from_dict({
        "model": {"kind": kind, "backbone": "small_resnet", "low_resolution_stem": True, "vocab_size": 32,
                  "hidden_size": 16},
        "data": {"root": str(root), "image_size": 16, "num_workers": 0, "min_crop_scale": 0.5,
                 "blur_sigma": [0.1, 0.5], "color_jitter_strength": 0.4},
        "optim": {"batch_size": 8}})
    model = build_model(config.model).train()
    with torch.no_grad():
        for _ in range(3):
            images = torch.randn(8, 3, 16, 16) * 2 + 0.3
            model(images, images)
    path = tmp_path / kind / "model.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    save({"format": MODEL_FORMAT, "config": config.to_dict(), "model": model.state_dict(), "history": []}, path)
    return path, model.eval()


def test_augmented_test_set_names():
    assert augmented_split("val_aug") == "val" and augmented_split("ood_aug") == "ood"
    assert augmented_split("val") is None and augmented_split("_aug") is None


def test_augmented_views_differ_per_agent_and_replay_from_the_seed(image_set):
    tests = build_test_set("val_aug", 16, image_set, augmentation=AUGMENT, seed=3)
    plain = build_test_set("val", 16, image_set)
    assert tests.augmented and tests.name == "val_aug" and len(tests.dataset) == len(plain.dataset) == 128
    assert tests.sources == plain.sources and tests.labels == plain.labels
    (sender, receiver), label = tests.dataset[5]
    assert sender.shape == receiver.shape == (3, 16, 16) and label == plain.dataset[5][1]
    assert not torch.equal(sender, receiver)  # independent draws
    assert not torch.equal(sender, plain.dataset[5][0])  # not the squashed image
    torch.manual_seed(12345)  # the loader's RNG state does not matter: item 5's views come from (3, 5)
    before = torch.get_rng_state()
    again = build_test_set("val_aug", 16, image_set, augmentation=AUGMENT, seed=3).dataset[5][0]
    assert torch.equal(torch.get_rng_state(), before)  # and the global RNG is left as it was
    assert torch.equal(again[0], sender) and torch.equal(again[1], receiver)
    other = build_test_set("val_aug", 16, image_set, augmentation=AUGMENT, seed=4).dataset[5][0]
    assert not torch.equal(other[0], sender)
    assert not torch.equal(tests.dataset[6][0][0], sender)  # another item, other views


def test_augmented_views_use_the_models_training_augmentations():
    crop, jitter, _, blur, *_ = training_views(AUGMENT, 16).transform.transforms
    assert crop.scale == (0.5, 1.0) and tuple(crop.size) == (16, 16)
    assert jitter.transforms[0].brightness == pytest.approx((1 - 0.8 * 0.4, 1 + 0.8 * 0.4))  # strength 0.4
    assert jitter.transforms[0].hue == pytest.approx((-0.2 * 0.4, 0.2 * 0.4))
    assert blur.transforms[0].sigma == (0.1, 0.5)
    views = training_views(DataConfig(min_crop_scale=0.08), 24).transform.transforms[0]
    assert views.scale == (0.08, 1.0) and tuple(views.size) == (24, 24)


def test_noise_has_no_augmented_set(image_set):
    from emcom.data.folder import DatasetError

    with pytest.raises(DatasetError, match="noise_aug"):
        build_test_set("noise_aug", 16, image_set, {"batches": 1, "batch_size": 8, "seed": 0}, augmentation=AUGMENT)
    with pytest.raises(DatasetError, match="augmentation settings"):
        build_test_set("val_aug", 16, image_set)


def record_inputs(model):
    """Record what the game's forward receives: (sender_images, receiver_images) per call."""
    calls = []
    forward = model.forward

    def recording(sender, receiver):
        calls.append((sender, receiver))
        return forward(sender, receiver)

    model.forward = recording
    return calls


def test_plain_test_sets_give_both_agents_the_same_tensor(image_set, tmp_path):
    _, model = model_file(tmp_path, image_set)
    calls = record_inputs(model)
    play_game(model, build_test_set("val", 16, image_set).dataset, batch_size=8, seed=0)
    assert len(calls) == 16 and all(sender is receiver for sender, receiver in calls)


def test_augmented_play_gives_the_sender_and_the_receiver_their_own_view(image_set, tmp_path):
    _, model = model_file(tmp_path, image_set)
    dataset = build_test_set("val_aug", 16, image_set, augmentation=AUGMENT, seed=3).dataset
    calls = record_inputs(model)
    played = play_game(model, dataset, batch_size=8, seed=1)
    assert len(calls) == 16 and len(played.correct) == 128
    first = played.indices[:8]
    expected_sender = torch.stack([dataset[int(i)][0][0] for i in first])
    expected_receiver = torch.stack([dataset[int(i)][0][1] for i in first])
    sender, receiver = calls[0]
    assert torch.equal(sender, expected_sender) and torch.equal(receiver, expected_receiver)
    # the result: ranked by the Sender view's message against the Receiver views
    with torch.no_grad():
        out = model(expected_sender, expected_receiver)
    scores = torch.nn.functional.normalize(out.message_embedding, dim=1) @ \
        torch.nn.functional.normalize(out.receiver_vectors, dim=1).T
    assert (scores.argmax(dim=1) == torch.arange(8)).numpy().tolist() == played.correct[:8].tolist()
    assert played.symbols[:8].tolist() == out.logits.argmax(dim=1).tolist()


def test_simclr_message_from_the_sender_view_candidates_from_the_receiver_view(image_set, tmp_path):
    _, model = model_file(tmp_path, image_set, "simclr")
    torch.manual_seed(1)
    sender, receiver = torch.randn(8, 3, 16, 16), torch.randn(8, 3, 16, 16)
    with torch.no_grad():
        vectors = round_vectors(model, sender, receiver)
        s_layers, r_layers = model.layers(sender), model.layers(receiver)
    assert torch.allclose(vectors.messages, simclr_disc_message(model, s_layers.s))
    assert torch.allclose(vectors.candidates, r_layers.z) and not torch.allclose(vectors.candidates, s_layers.z)
    assert torch.equal(vectors.symbols, s_layers.s.argmax(dim=1))
    assert torch.equal(vectors.symbols_h, s_layers.h.argmax(dim=1))
    # one forward when both agents see the same tensor
    calls = []
    layers = model.layers
    model.layers = lambda images: calls.append(images) or layers(images)
    with torch.no_grad():
        round_vectors(model, sender)
    assert len(calls) == 1


def test_evaluate_model_plays_val_aug_reproducibly(image_set, tmp_path):
    path, model = model_file(tmp_path, image_set)
    first = evaluate_model(path, "val_aug", tmp_path / "a", image_set, seed=2)
    second = evaluate_model(path, "val_aug", tmp_path / "b", image_set, seed=2)
    plain = evaluate_model(path, "val", tmp_path / "c", image_set, seed=2)
    a, b, c = (read_items(tmp_path / d / f"{t}.items.tsv.gz") for d, t in (("a", "val_aug"), ("b", "val_aug"),
                                                                            ("c", "val")))
    assert a.equals(b) and first["accuracy"] == second["accuracy"] and first["test_set"] == "val_aug"
    assert json.loads((tmp_path / "a" / "val_aug.json").read_text()) == first
    assert first["augmentation"] == {"min_crop_scale": 0.5, "blur_sigma": [0.1, 0.5], "color_jitter_strength": 0.4,
                                     "seed": 2}
    assert "augmentation" not in plain  # the plain test sets' summaries keep their keys
    assert a["index"].tolist() == c["index"].tolist()  # the same play order, other views
    assert not a["symbol"].equals(c["symbol"])
    # evaluation.seed seeds the views too: played by hand on the views of seed 2, the same symbols
    by_hand = play_game(model, build_test_set("val_aug", 16, image_set, augmentation=AUGMENT, seed=2).dataset, 8, 2)
    assert by_hand.symbols.tolist() == a["symbol"].tolist() and by_hand.correct.tolist() == a["correct"].astype(bool).tolist()


# ---- candidates at test time --------------------------------------------------------------------
def test_evaluate_model_with_n_candidates_reports_chance_one_over_n(image_set, tmp_path):
    path, model = model_file(tmp_path, image_set)
    summary = evaluate_model(path, "val", tmp_path / "candidates5", image_set, batch_size=5, seed=0)
    assert summary["batch_size"] == 5 and summary["chance"] == 1 / 5
    assert summary["batches"] == 128 // 5 and summary["items"] == 125  # drop_last
    assert (tmp_path / "candidates5" / "val.json").is_file()
    calls = record_inputs(model)
    play_game(model, build_test_set("val", 16, image_set).dataset, batch_size=5, seed=0)
    assert [len(sender) for sender, _ in calls] == [5] * 25


# ---- Tables A.4-A.6 on hand-made records --------------------------------------------------------
def test_table_a4_pairs_plain_and_augmented_accuracy():
    records = [evaluation("game_aug_noshared", "val", 0.5), evaluation("game_aug_noshared", "val_aug", 0.3),
               evaluation("game_aug_noshared", "ood", 0.4), evaluation("game_aug_noshared", "ood_aug", 0.1),
               evaluation("simclr", "val", 0.2), evaluation("simclr", "val_aug", 0.25),
               evaluation("simclr", "noise", 0.9)]
    frame = table_a4_frame(records)
    assert frame[["model", "test_set"]].values.tolist() == [["simclr", "val"], ["game_aug_noshared", "val"],
                                                            ["game_aug_noshared", "ood"]]
    game_ood = frame.iloc[2]
    assert (game_ood["accuracy"], game_ood["accuracy_aug"]) == pytest.approx((40.0, 10.0))
    assert game_ood["aug_minus_plain"] == pytest.approx(-30.0) and game_ood["chance"] == pytest.approx(100 / 128)
    wide = table_a4_wide(frame)
    assert list(wide.columns) == ["val", "val +aug", "OOD", "OOD +aug", "chance"]
    assert wide.loc["game +aug −shared"].tolist() == ["50.0", "30.0", "40.0", "10.0", "0.78"]
    assert wide.loc["SimCLR_disc"].tolist() == ["20.0", "25.0", "—", "—", "0.78"]


def test_table_a5_rows_per_candidate_count_with_the_table1_row():
    candidates = [evaluation("game_aug_noshared", t, a, batch_size=n) for t, a, n in
                  (("val", 0.5, 16), ("ood", 0.25, 16), ("val", 0.3, 32), ("ood", 0.2, 32))]
    table1 = [evaluation("game_aug_noshared", "val", 0.1), evaluation("game_aug_noshared", "ood", 0.05),
              evaluation("game_aug_noshared", "noise", 0.9)]
    frame = table_a5_frame(candidates, table1)
    assert frame[["candidates", "source", "test_set"]].values.tolist() == [
        [16, "test_candidates", "val"], [16, "test_candidates", "ood"], [32, "test_candidates", "val"],
        [32, "test_candidates", "ood"], [128, "table1", "val"], [128, "table1", "ood"]]
    row = frame.iloc[0]
    assert (row["accuracy"], row["chance"], row["ratio_to_chance"]) == pytest.approx((50.0, 6.25, 8.0))
    assert frame.iloc[4]["ratio_to_chance"] == pytest.approx(12.8)  # 10% against 1/128
    wide = table_a5_wide(frame)
    assert wide["candidates"].tolist() == ["16", "32", "128 (Table 1)"]
    assert wide.iloc[0][["val", "val ×chance", "OOD", "OOD ×chance", "chance"]].tolist() == [
        "50.0", "8.0", "25.0", "4.0", "6.25"]


SWEEPS = [
    {"name": "game_aug_noshared_vocab64", "base": "game_aug_noshared", "sweep": "vocab_sizes", "value": 64,
     "base_value": 1024},
    {"name": "game_aug_noshared_vocab8", "base": "game_aug_noshared", "sweep": "vocab_sizes", "value": 8,
     "base_value": 1024},
    {"name": "simclr_cand16", "base": "simclr", "sweep": "train_candidates", "value": 16, "base_value": 64},
]
PROTOCOLS = {"game_aug_noshared": "game_aug_noshared", "game_aug_noshared_vocab64": "game_aug_noshared_vocab64",
             "game_aug_noshared_vocab8": "game_aug_noshared_vocab8", "simclr": "simclr_disc",
             "simclr_cand16": "simclr_cand16_disc"}


def a6_records():
    accuracy = {"game_aug_noshared": 0.6, "game_aug_noshared_vocab64": 0.5, "game_aug_noshared_vocab8": 0.2,
                "simclr": 0.4, "simclr_cand16": 0.3}
    evaluations = [evaluation(v, t, a * (1 if t == "val" else 0.5)) for v, a in accuracy.items() for t in ("val", "ood")]
    analyses = [analysis("game_aug_noshared", "val", 900, 0.6, 0.3), analysis("game_aug_noshared_vocab64", "val", 60, 0.5, None),
                analysis("game_aug_noshared_vocab8", "val", 8, 0.2, 0.1), analysis("simclr_disc", "val", 100, 0.4, 0.2),
                analysis("simclr_cand16_disc", "val", 90, None, None),
                analysis("game_aug_noshared", "ood", 1, 0.0, 0.0)]  # another test set: not read
    return evaluations, analyses


def test_table_a6_puts_each_sweep_beside_its_base():
    evaluations, analyses = a6_records()
    frame = table_a6_frame(SWEEPS, PROTOCOLS, evaluations, analyses)
    assert frame[["model", "value", "is_base"]].values.tolist() == [
        ["game_aug_noshared", 1024, True], ["game_aug_noshared_vocab8", 8, False],
        ["game_aug_noshared_vocab64", 64, False], ["simclr", 64, True], ["simclr_cand16", 16, False]]
    vocab64 = frame.set_index("model").loc["game_aug_noshared_vocab64"]
    assert (vocab64["val_accuracy"], vocab64["ood_accuracy"], vocab64["val_symbols_used"]) == pytest.approx((50, 25, 60))
    assert vocab64["val_nmi"] == pytest.approx(0.5) and vocab64["val_nmi_significant"]
    assert not vocab64["val_wnsim_significant"]
    simclr = frame.set_index("model").loc["simclr_cand16"]  # read through its protocol, simclr_cand16_disc
    assert simclr["val_symbols_used"] == 90 and simclr["setting"] == "per-GPU batch"
    wide = table_a6_wide(frame)
    assert wide["setting"].tolist() == ["|V| = 1024 (base)", "|V| = 8", "|V| = 64", "per-GPU batch = 64 (base)",
                                        "per-GPU batch = 16"]
    assert wide.iloc[2][["model", "val", "OOD", "val |P|", "val nMI", "val WNSim"]].tolist() == [
        "game +aug −shared (|V|=64)", "50.0", "25.0", "60", "0.50", "NS (0.05)"]


def test_appendix_tables_are_written_with_our_numbers_only(tmp_path):
    evaluations, analyses = a6_records()
    eval_paths = [write_json(tmp_path / "evaluation" / e["variant"] / f"{e['test_set']}.json", e) for e in evaluations]
    analysis_paths = [write_json(tmp_path / "analysis" / a["protocol"] / f"{a['test_set']}.json", a)
                      for a in analyses if a["test_set"] == "val"]
    tidy = write_table_a6(SWEEPS, PROTOCOLS, eval_paths, analysis_paths, tmp_path / "a6.md", tmp_path / "a6.csv")
    markdown = (tmp_path / "a6.md").read_text()
    assert markdown.startswith("# Table A.6") and "Our numbers only" in markdown and "paper (Δ)" not in markdown
    assert "game +aug −shared (\\|V\\|=64)" in markdown  # a pipe in a row label would split the column
    rows = [line for line in markdown.splitlines() if line.startswith("| game +aug −shared (\\|V\\|=64)")]
    assert len(rows) == 1 and rows[0].count(" | ") == 7  # 8 columns
    import pandas as pd

    assert pd.read_csv(tmp_path / "a6.csv")["model"].tolist() == tidy["model"].tolist()
    aug = [evaluation("game_aug_noshared", t, 0.5) for t in ("val", "val_aug")]
    aug[1]["augmentation"] = {"min_crop_scale": 0.08, "blur_sigma": [0.1, 2.0], "color_jitter_strength": 1.0, "seed": 0}
    paths = [write_json(tmp_path / "a4" / f"{e['test_set']}.json", e) for e in aug]
    write_table_a4(paths, tmp_path / "a4.md", tmp_path / "a4.csv")
    a4 = (tmp_path / "a4.md").read_text()
    assert "min_crop_scale 0.08" in a4 and "Our numbers only" in a4


# ---- the DAG -------------------------------------------------------------------------------------
# `snakemake -n --configfile config/ci.yaml` before the appendix existed (commit 29b5cac), per rule;
# debian_package jobs depend on the .deb cache and are left out of the comparison.
CI_JOBS_BEFORE = {"run_config": 5, "wordnet": 1, "stamps_dataset": 1, "class_similarity": 1, "linear_features": 12,
                  "train": 5, "evaluate": 20, "kmeans": 1, "linear_eval": 6, "training_report": 1, "analyse": 12,
                  "figure3": 1, "figure4": 1, "figure_a7": 1, "table1": 1, "table2": 1, "table3": 1, "claims": 1,
                  "all": 1}
ALL_ON = {"appendix": {"test_time_augmentation": True, "test_candidates": [8, 16],
                       "vocab_sizes": {"variants": ["game_aug_noshared"], "values": [64]},
                       "train_candidates": {"variants": ["game_aug_noshared", "simclr"], "values": [16]}}}


def job_counts(stdout: str) -> dict[str, int]:
    stats = stdout.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", stats, re.MULTILINE))
    return {rule: int(n) for rule, n in counts.items() if rule not in ("total", "debian_package")}


def plan(tmp_path: Path, overlay: dict | None = None):
    workdir = scratch_workdir(tmp_path)
    files = []
    if overlay is not None:
        (workdir / "appendix.yaml").write_text(yaml.safe_dump(overlay))
        files = ["--configfile", "config/ci.yaml", "appendix.yaml"]
    return snakemake(workdir, "--dry-run", *files)


def test_switched_off_the_plan_is_todays(tmp_path):
    result = plan(tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert job_counts(result.stdout) == CI_JOBS_BEFORE
    assert not re.search(r"\w_aug\.json", result.stdout) and "candidates" not in result.stdout
    assert "table_a" not in result.stdout


def test_switched_on_the_plan_adds_the_appendix_jobs(tmp_path):
    result = plan(tmp_path, ALL_ON)
    assert result.returncode == 0, result.stderr[-3000:]
    counts = job_counts(result.stdout)
    new_variants = ["game_aug_noshared_vocab64", "game_aug_noshared_cand16", "simclr_cand16"]
    assert counts["train"] == counts["run_config"] == 5 + 3
    for variant in new_variants:
        assert f"results/models/{variant}/model.pt" in result.stdout
    assert counts["evaluate"] == 8 * (4 + 2)  # every model: Table 1's four test sets, val_aug, ood_aug
    assert "results/evaluation/simclr_cand16/ood_aug.json" in result.stdout
    assert counts["evaluate_candidates"] == 8 * 2 * 2  # models × counts × val/ood
    assert "results/evaluation/game_aug_noshared_vocab64/candidates16/val.json" in result.stdout
    assert counts["analyse"] == 2 * (6 + 2 + 2)  # 6 games, 2 SimCLR_disc, 2 SimCLR_kmeans
    # Table 3 stays on the non-appendix models
    assert (counts["linear_features"], counts["linear_eval"]) == (12, 6)
    assert not re.search(r"linear_eval/features/\w+_(vocab|cand)\d+", result.stdout)
    for table in ("table_a4", "table_a5", "table_a6"):
        assert counts[table] == 1 and f"results/tables/{table}.md" in result.stdout


@pytest.mark.parametrize("overlay,line", [
    ({"appendix": {"test_candidates": [1]}}, "config: appendix.test_candidates.0: 1 is less than the minimum of 2"),
    ({"appendix": {"vocab_sizes": {"variants": ["simclr"], "values": [64]}}},
     "appendix.vocab_sizes.variants: 'simclr' is a simclr variant"),
])
def test_a_bad_appendix_setting_stops_the_dry_run_naming_the_key(tmp_path, overlay, line):
    result = plan(tmp_path, overlay)
    out = result.stdout + result.stderr
    assert result.returncode != 0 and line in out and "Traceback" not in out, out[-2000:]


@pytest.mark.slow
def test_the_appendix_table_rules_run_on_synthetic_files(tmp_path):
    """Rules table_a4/a5/a6 really run (not a dry run) on evaluation and analysis files written here."""
    workdir = scratch_workdir(tmp_path)
    results = workdir / "results"
    variants = ["game_noaug_noshared", "game_noaug_shared", "game_aug_noshared", "game_aug_shared", "simclr",
                "game_aug_noshared_vocab64"]
    for k, variant in enumerate(variants):
        for test_set in ("val", "ood", "val_aug", "ood_aug"):
            write_json(results / "evaluation" / variant / f"{test_set}.json",
                       evaluation(variant, test_set, 0.1 * (k + 1), batch_size=32))
        for test_set in ("val", "ood"):
            write_json(results / "evaluation" / variant / "candidates16" / f"{test_set}.json",
                       evaluation(variant, test_set, 0.5, batch_size=16))
    for protocol in ("game_aug_noshared", "game_aug_noshared_vocab64"):
        write_json(results / "analysis" / protocol / "val.json", analysis(protocol, "val", 40, 0.5, 0.2))
    overlay = {"appendix": {"test_time_augmentation": True, "test_candidates": [16],
                            "vocab_sizes": {"variants": ["game_aug_noshared"], "values": [64]}}}
    (workdir / "appendix.yaml").write_text(yaml.safe_dump(overlay))
    tables = [f"results/tables/table_a{n}.md" for n in (4, 5, 6)]
    result = snakemake(workdir, "--configfile", "config/ci.yaml", "appendix.yaml", "--rerun-triggers", "mtime",
                       "--allowed-rules", "table_a4", "table_a5", "table_a6", "--", *tables)
    assert result.returncode == 0, result.stderr[-3000:]
    import pandas as pd

    a4 = pd.read_csv(results / "tables" / "table_a4.csv")
    assert len(a4) == 2 * len(variants) and set(a4["model"]) == set(variants)
    a5 = pd.read_csv(results / "tables" / "table_a5.csv")
    assert sorted(set(a5["candidates"])) == [16, 32] and a5["chance"].round(4).isin([6.25, 3.125]).all()
    a6 = pd.read_csv(results / "tables" / "table_a6.csv")
    assert a6["model"].tolist() == ["game_aug_noshared", "game_aug_noshared_vocab64"]
    assert a6["value"].tolist() == [1024, 64]  # config.yaml's vocabulary, then the sweep's
    for n in (4, 5, 6):
        assert "Our numbers only" in (results / "tables" / f"table_a{n}.md").read_text()
        assert (workdir / "logs" / f"table_a{n}" / f"table_a{n}.log").is_file()
