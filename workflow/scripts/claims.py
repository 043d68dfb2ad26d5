"""Snakemake adapter: the paper's claims checked on this run (emcom.reporting.claims.write_claims)."""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)

from emcom.reporting.claims import write_claims  # noqa: E402

inputs, params, outputs = snakemake.input, snakemake.params, snakemake.output  # noqa: F821
result = write_claims(inputs.evaluations, inputs.analyses, inputs.summaries, inputs.paper, params.settings,
                      params.kmeans_paper_k, outputs.json, outputs.markdown,
                      table3_path=inputs.table3[0] if inputs.table3 else None)
for claim in result["claims"]:
    print(f"{claim['verdict']:>14}  {claim['id']}", file=sys.stderr)
