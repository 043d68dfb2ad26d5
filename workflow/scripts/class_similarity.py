"""Snakemake adapter: the dataset's class x class WordNet similarity table (emcom.analysis.write_class_similarity)."""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)

from emcom.analysis import write_class_similarity  # noqa: E402

params = snakemake.params  # noqa: F821
table = write_class_similarity(params.dataset_root, params.nltk_data, snakemake.output.table)  # noqa: F821
print(f"{len(table)} classes, {table.to_numpy().size} pairs", file=sys.stderr)
