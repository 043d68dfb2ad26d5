"""Snakemake adapter: Fashion-MNIST in the dataset layout (emcom.data.fashion_mnist)."""

import logging
import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

from emcom.data.fashion_mnist import build_fashion_mnist_dataset  # noqa: E402
from emcom.data.manifest import format_counts  # noqa: E402

manifest = build_fashion_mnist_dataset(
    out_root=Path(snakemake.output.manifest).parent,
    config=snakemake.params.config,
    deb_cache=Path(snakemake.input.deb).parent,
    processes=snakemake.threads,
    package_deb=snakemake.input.deb,
)
print(format_counts(manifest))
