"""Snakemake adapter: Table 1, game accuracy beside the paper's (emcom.reporting.tables.write_table1)."""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)

from emcom.reporting.tables import write_table1  # noqa: E402

inputs, outputs = snakemake.input, snakemake.output  # noqa: F821
table = write_table1(inputs.evaluations, inputs.summaries, inputs.paper, outputs.markdown, outputs.csv, outputs.tex)
print(table.to_string(index=False), file=sys.stderr)
