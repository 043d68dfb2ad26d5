"""Snakemake adapter: |P|, nMI and WNSim with permutation tests for one protocol x test set
(emcom.analysis.analyse_protocol)."""

import logging
import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")

from emcom.analysis import analyse_protocol  # noqa: E402

wildcards, params = snakemake.wildcards, snakemake.params  # noqa: F821
analysis = params.analysis
analyse_protocol(snakemake.input.per_item, snakemake.input.similarity, snakemake.output.summary,  # noqa: F821
                 symbol_column=params.column, protocol=wildcards.protocol, test_set=wildcards.test_set,
                 permutations=analysis["permutations"], alpha=analysis["alpha"], seed=analysis["seed"],
                 threads=snakemake.threads)  # noqa: F821
