"""Snakemake adapter: write the resolved run config of one variant (rules/train.smk)."""

import sys

from emcom.config import save_config
from emcom.variants import variant_config

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)

config = variant_config(snakemake.params.training, snakemake.wildcards.variant,  # noqa: F821
                        snakemake.params.dataset_root, snakemake.params.on_bad_image)  # noqa: F821
save_config(config, snakemake.output.config)  # noqa: F821
print(f"wrote {snakemake.output.config}", file=sys.stderr)  # noqa: F821
