"""Snakemake adapter: Table 2, protocol analysis beside the paper's (emcom.reporting.tables.write_table2)."""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)

from emcom.reporting.tables import write_table2  # noqa: E402

inputs, outputs = snakemake.input, snakemake.output  # noqa: F821
table = write_table2(inputs.analyses, inputs.evaluations, inputs.summaries, inputs.paper,
                     snakemake.params.kmeans_paper_k, outputs.markdown, outputs.csv, outputs.tex)  # noqa: F821
print(table.to_string(index=False), file=sys.stderr)
