"""Snakemake adapter: cache one split's frozen-trunk features (rules/linear_eval.smk, linear_features)."""

import logging
import sys

import torch

from emcom.linear_eval.features import extract_split_features

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")
torch.set_num_threads(snakemake.threads)  # noqa: F821

wildcards, params = snakemake.wildcards, snakemake.params  # noqa: F821
settings = params.settings
extract_split_features(
    snakemake.input.trunk, params.spec, wildcards.le_dataset, wildcards.split,  # noqa: F821
    str(snakemake.output.meta).removesuffix(".json"), pool=settings["pool"],  # noqa: F821
    random_init_seed=params.random_init_seed, model_name=wildcards.model, center_crop=settings["center_crop"],
    batch_size=settings["extract_batch_size"], num_workers=settings["num_workers"], progress=False)
