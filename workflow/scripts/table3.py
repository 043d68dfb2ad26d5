"""Snakemake adapter: Table 3 from the linear-evaluation JSONs (rules/linear_eval.smk, rule table3)."""

import sys

from emcom.linear_eval.table import write_table3

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)

table = write_table3(snakemake.input.results, snakemake.input.paper, snakemake.params.columns,  # noqa: F821
                     snakemake.params.settings, snakemake.output.markdown, snakemake.output.csv,  # noqa: F821
                     snakemake.output.tex)  # noqa: F821
print(table.to_string(index=False), file=sys.stderr)
