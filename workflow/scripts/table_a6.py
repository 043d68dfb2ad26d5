"""Snakemake adapter: Table A.6, the appendix sweeps beside their base (emcom.reporting.appendix.write_table_a6)."""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)

from emcom.reporting.appendix import write_table_a6  # noqa: E402

inputs, params, outputs = snakemake.input, snakemake.params, snakemake.output  # noqa: F821
table = write_table_a6(params.sweeps, params.protocols, inputs.evaluations, inputs.analyses, outputs.markdown,
                       outputs.csv)
print(table.to_string(index=False), file=sys.stderr)
