"""Snakemake adapter: one model plays the game on one test set (emcom.evaluation.evaluate_model); rules
evaluate and evaluate_candidates (the latter sets evaluation.batch_size to its N candidates)."""

import logging
import sys
from pathlib import Path

import torch

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")
torch.set_num_threads(snakemake.threads)  # noqa: F821

from emcom.evaluation.evaluate import evaluate_model  # noqa: E402

wildcards, params, output = snakemake.wildcards, snakemake.params, snakemake.output  # noqa: F821
settings = params.evaluation
evaluate_model(snakemake.input.model, wildcards.test_set, Path(output.summary).parent,  # noqa: F821
               dataset_root=params.dataset_root, batch_size=settings["batch_size"], seed=settings["seed"],
               noise=params.noise, num_workers=settings["num_workers"], variant=wildcards.variant)
