"""Snakemake adapter: the training table and curves (rules/train.smk, rule training_report)."""

import sys
from pathlib import Path

from emcom.training.report import write_training_report

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)

summaries = {Path(path).parent.name: path for path in snakemake.input.summaries}  # noqa: F821
table = write_training_report(summaries, snakemake.output.csv, snakemake.output.markdown,  # noqa: F821
                              snakemake.output.figure)  # noqa: F821
print(table.to_string(index=False), file=sys.stderr)
