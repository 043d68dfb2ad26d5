"""config/imagenet.yaml is the paper's run: global batch 2048 and lr 2.4 on its 16 ranks, the authors'
precision per variant and NT-Xent, and the Appendix A.2 seeds as a switch (issue #7)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator
from snakemake.utils import update_config

from emcom.config import ConfigError
from emcom.training.batching import batch_plan
from emcom.variants import seed_variant_name, split_seed_variant, variant_config, with_extra_seeds

ROOT = Path(__file__).resolve().parent.parent
PAPER_VARIANTS = ["game_noaug_noshared", "game_noaug_shared", "game_aug_noshared", "game_aug_shared", "simclr"]


def _workflow_config(*overlays: str) -> dict:
    """config.yaml with the overlays applied as `snakemake --configfile` applies them (recursive update)."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    for overlay in overlays:
        update_config(config, yaml.safe_load((ROOT / overlay).read_text()))
    Draft202012Validator(yaml.safe_load((ROOT / "rules" / "schema.yaml").read_text())).validate(config)
    return config


@pytest.fixture(scope="module")
def paper() -> dict:
    return _workflow_config("config/imagenet.yaml")


def _run_config(config: dict, variant: str):
    training = {**config["training"], "variants": with_extra_seeds(config["training"])}
    return variant_config(training, variant, "/data/imagenet")


def test_paper_config_gives_global_batch_2048_and_lr_2_4_on_its_16_ranks(paper):
    world = paper["training"]["resources"]["tasks"]
    assert world == 16 and paper["training"]["resources"]["gpus"] == 16 and paper["training"]["resources"]["nodes"] == 2
    assert list(paper["training"]["variants"]) == PAPER_VARIANTS
    for variant in PAPER_VARIANTS:
        plan = batch_plan(_run_config(paper, variant).optim, world)
        assert (plan.per_process_batch, plan.accumulation_steps, plan.global_batch) == (128, 1, 2048), variant
        assert plan.lr == pytest.approx(2.4), variant


def test_on_8_gpus_the_user_chooses_global_batch_or_per_gpu_batch(paper):
    optim = _run_config(paper, "game_aug_noshared").optim
    scaled = batch_plan(optim, 8)  # the default: per-GPU batch kept, lr scaled
    assert (scaled.global_batch, scaled.lr) == (1024, pytest.approx(1.2))
    optim.global_batch = 2048  # the paper's global batch by accumulation
    accumulated = batch_plan(optim, 8)
    assert (accumulated.accumulation_steps, accumulated.global_batch, accumulated.lr) == (2, 2048, pytest.approx(2.4))


def test_precision_and_ntxent_follow_the_authors_runs(paper):
    precision = {variant: _run_config(paper, variant).run.precision for variant in PAPER_VARIANTS}
    assert precision == {"game_noaug_noshared": "fp16", "game_noaug_shared": "fp32", "game_aug_noshared": "fp16",
                         "game_aug_shared": "fp16", "simclr": "fp16"}
    assert _run_config(paper, "simclr").model.ntxent_variant == "egg"
    # the embedded default too: with the standard loss its SimCLR_disc told noise apart (docs/calibration.md, c33-c34)
    assert _run_config(_workflow_config(), "simclr").model.ntxent_variant == "egg"


def test_paper_config_trains_with_the_papers_augmentations(paper):
    """config.yaml's demo softens the augmentations (docs/calibration.md); the paper's run must not inherit that."""
    for variant in PAPER_VARIANTS:
        data = _run_config(paper, variant).data
        assert (data.color_jitter_strength, data.blur_sigma, data.min_crop_scale) == (1.0, [0.1, 2.0], 0.08), variant
        assert data.augment_on == "workers" and data.image_size == 224, variant


def test_appendix_seeds_are_a_switch_of_the_paper_config(paper):
    assert with_extra_seeds(paper["training"]).keys() == set(PAPER_VARIANTS)  # off by default
    switched = copy.deepcopy(paper)
    switched["training"]["extra_seeds"]["enabled"] = True
    variants = with_extra_seeds(switched["training"])
    extra = [f"game_aug_noshared_seed{seed}" for seed in (222, 333, 444, 555)]
    assert list(variants) == PAPER_VARIANTS + extra
    for name in extra:
        config = _run_config(switched, name)
        base, seed = split_seed_variant(name, paper["training"]["variants"])
        assert base == "game_aug_noshared" and config.run.seed == seed
        same = _run_config(switched, base)
        assert config.model == same.model and config.data == same.data and config.optim == same.optim
        assert config.run.precision == same.run.precision and same.run.seed == 111


def test_seed_variant_names_and_errors():
    assert seed_variant_name("simclr", 7) == "simclr_seed7"
    assert split_seed_variant("simclr_seed7") == ("simclr", 7)
    assert split_seed_variant("game_seed1", {"simclr": {}}) == ("game_seed1", None)  # base not a variant
    assert split_seed_variant("simclr") == ("simclr", None)
    training = {"defaults": {"run": {"seed": 5}}, "variants": {"a": {}},
                "extra_seeds": {"enabled": True, "variants": ["a"], "seeds": [6]}}
    assert with_extra_seeds(training)["a_seed6"] == {"run": {"seed": 6}}
    with pytest.raises(ConfigError, match="training.extra_seeds.variants: no variant 'b'"):
        with_extra_seeds({**training, "extra_seeds": {"enabled": True, "variants": ["b"], "seeds": [6]}})
    with pytest.raises(ConfigError, match="training.extra_seeds.seeds: 5 is already the seed of a"):
        with_extra_seeds({**training, "extra_seeds": {"enabled": True, "variants": ["a"], "seeds": [5]}})
