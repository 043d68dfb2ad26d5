"""Snakemake adapter: the embedded default dataset (emcom.data.stamps.build_stamps_dataset)."""

import logging
import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

from emcom.data.manifest import format_counts  # noqa: E402
from emcom.data.stamps import build_stamps_dataset  # noqa: E402

manifest = build_stamps_dataset(
    out_root=Path(snakemake.output.manifest).parent,
    config={**snakemake.params.config, "table": snakemake.input.table},
    deb_cache=Path(snakemake.input.deb).parent,
    nltk_data=Path(snakemake.input.wordnet).parent.parent,  # <nltk_data>/corpora/wordnet
    processes=snakemake.threads,
    package_deb=snakemake.input.deb,
)
print(format_counts(manifest))
