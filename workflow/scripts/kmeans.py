"""Snakemake adapter: SimCLR_kmeans for one k (emcom.evaluation.kmeans.run_kmeans)."""

import logging
import sys

import torch

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")
torch.set_num_threads(snakemake.threads)  # noqa: F821

from emcom.evaluation.kmeans import run_kmeans  # noqa: E402

wildcards, params = snakemake.wildcards, snakemake.params  # noqa: F821
analysis = params.analysis
run_kmeans(snakemake.input.model, int(wildcards.k), params.out_dir, dataset_root=params.dataset_root,  # noqa: F821
           fraction=analysis["kmeans_fit_fraction"], seed=analysis["seed"], test_sets=analysis["test_sets"],
           num_workers=params.evaluation["num_workers"])
