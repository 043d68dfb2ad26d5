"""Snakemake adapter: one model × dataset of Table 3 (rules/linear_eval.smk, rule linear_eval)."""

import logging
import sys

import torch

from emcom.linear_eval.run import evaluate_model_on_dataset

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")
wildcards, params, inputs = snakemake.wildcards, snakemake.params, snakemake.input  # noqa: F821
cached = "train_json" in inputs.keys()
# A head on cached features is small matrix products: one thread is fastest (and leaves a core free).
torch.set_num_threads(1 if cached else snakemake.threads)  # noqa: F821
result = evaluate_model_on_dataset(
    wildcards.model, wildcards.le_dataset, params.spec, params.settings,
    train_stem=str(inputs.train_json).removesuffix(".json") if cached else None,
    test_stem=str(inputs.test_json).removesuffix(".json"), out_json=snakemake.output.result,  # noqa: F821
    trunk=inputs.trunk if "trunk" in inputs.keys() else None, random_init_seed=params.random_init_seed,
    threads=snakemake.threads)  # noqa: F821
print(f"{wildcards.model} {wildcards.le_dataset}: {result['metric']} {result['value']:.2f}", file=sys.stderr)
