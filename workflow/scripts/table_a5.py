"""Snakemake adapter: Table A.5, candidates per game at test time (emcom.reporting.appendix.write_table_a5)."""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)

from emcom.reporting.appendix import write_table_a5  # noqa: E402

inputs, outputs = snakemake.input, snakemake.output  # noqa: F821
table = write_table_a5(inputs.candidates, inputs.evaluations, outputs.markdown, outputs.csv)
print(table.to_string(index=False), file=sys.stderr)
