"""Snakemake adapter: Table A.4, test-time augmentation (emcom.reporting.appendix.write_table_a4)."""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)

from emcom.reporting.appendix import write_table_a4  # noqa: E402

inputs, outputs = snakemake.input, snakemake.output  # noqa: F821
table = write_table_a4(inputs.evaluations, outputs.markdown, outputs.csv)
print(table.to_string(index=False), file=sys.stderr)
