"""Run configs: defaults are the paper's, errors name the key."""

import pytest

from emcom.config import ConfigError, ExperimentConfig, load_config, save_config


def test_defaults_are_the_papers():
    config = ExperimentConfig.from_dict({})
    assert config.model.backbone == "resnet50" and config.model.vocab_size == 2048
    assert config.model.gumbel_temperature == 5.0 and config.model.similarity_temperature == 0.1
    assert config.optim.batch_size == 128 and config.optim.epochs == 100 and config.optim.base_lr == 0.3
    assert config.run.seed == 111 and not config.run.gather_negatives
    # SPEC.md, Training: SGD momentum 0.9 in LARS (trust 1e-3), wd 1e-5, no warm-up (eps 1e-8: tests/test_optim.py)
    assert config.optim.momentum == 0.9 and config.optim.weight_decay == 1e-5
    assert config.optim.trust_coefficient == 1e-3 and config.optim.warmup_epochs == 0
    assert config.model.ntxent_variant == "standard" and not config.model.shared and config.model.hidden_size == 2048
    assert config.data.augment and config.data.image_size == 224 and config.data.min_crop_scale == 0.08
    assert config.data.blur_sigma == [0.1, 2.0]


@pytest.mark.parametrize("raw,fragment", [
    ({"model": {"vocab": 3}}, "model: unknown key(s) ['vocab']"),
    ({"optim": {"batch_size": "big"}}, "optim.batch_size: expected int"),
    ({"model": {"backbone": "vgg"}}, "model.backbone must be one of"),
    ({"training": {}}, "unknown section(s) ['training']"),
    ({"optim": {"batch_size": 1}}, "optim.batch_size must be >= 2"),
    ({"run": {"precision": "fp8"}}, "run.precision"),
    ({"data": {"min_crop_scale": 0}}, "data.min_crop_scale must be in (0, 1]"),
    ({"data": {"blur_sigma": [2.0, 0.1]}}, "data.blur_sigma must be [low, high]"),
    ({"data": {"blur_sigma": [0.1]}}, "data.blur_sigma must be [low, high]"),
    ({"data": {"blur_sigma": 0.5}}, "data.blur_sigma: expected list"),
    ({"data": {"color_jitter_strength": 2.0}}, "data.color_jitter_strength must be in [0, 1.25]"),
])
def test_bad_values_name_the_key(raw, fragment):
    with pytest.raises(ConfigError) as error:
        ExperimentConfig.from_dict(raw)
    assert fragment in str(error.value)


def test_yaml_round_trip(tmp_path):
    config = ExperimentConfig.from_dict({"model": {"kind": "simclr", "hidden_size": 64}, "optim": {"base_lr": 1}})
    save_config(config, tmp_path / "run.yaml")
    assert load_config(tmp_path / "run.yaml") == config
    assert config.optim.base_lr == 1.0 and config.model.shared  # SimCLR has one CNN


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml"):
        load_config(tmp_path / "nope.yaml")


def test_variant_config_layers_workflow_defaults_and_overrides():
    from emcom.variants import variant_config

    training = {"defaults": {"model": {"hidden_size": 64}, "optim": {"epochs": 3}},
                "variants": {"a": {"model": {"kind": "simclr"}, "optim": {"epochs": 5}}}}
    config = variant_config(training, "a", "/data/x", on_bad_image="skip")
    assert config.model.kind == "simclr" and config.model.hidden_size == 64
    assert config.optim.epochs == 5 and config.data.root == "/data/x" and config.data.on_bad_image == "skip"
    with pytest.raises(ConfigError, match="no variant 'b'"):
        variant_config(training, "b", "/data/x")
    with pytest.raises(ConfigError, match="training.variants.a"):
        variant_config({"variants": {"a": {"optim": {"epoch": 1}}}}, "a", "/data/x")


def test_operational_keys_are_keys_of_a_run_config():
    """A renamed field must not silently leave the operational list (it would then bind checkpoints)."""
    from emcom.config import OPERATIONAL_KEYS

    config = ExperimentConfig.from_dict({}).to_dict()
    for key in OPERATIONAL_KEYS:
        section, name = key.split(".")
        assert name in config[section], key
    # what a result depends on is never operational
    assert not {"optim.epochs", "optim.base_lr", "run.seed", "run.precision", "data.augment"} & OPERATIONAL_KEYS
