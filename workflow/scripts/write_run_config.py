"""Snakemake adapter: write the resolved run config of one variant (rules/train.smk)."""

import sys

from emcom.config import save_config
from emcom.variants import variant_config

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)

params = snakemake.params  # noqa: F821
variant = snakemake.wildcards.variant  # noqa: F821
training = {"defaults": params.defaults, "variants": {variant: params.overrides}}
config = variant_config(training, variant, params.dataset_root, params.on_bad_image)
save_config(config, snakemake.output.config)  # noqa: F821
print(f"wrote {snakemake.output.config}", file=sys.stderr)  # noqa: F821
