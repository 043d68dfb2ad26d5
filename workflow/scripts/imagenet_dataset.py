"""Snakemake adapter: your ImageNet + the paper's OOD set in the dataset layout (emcom.data.imagenet)."""

import logging
import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

from emcom.data.imagenet import build_imagenet_dataset  # noqa: E402
from emcom.data.manifest import format_counts  # noqa: E402

manifest = build_imagenet_dataset(
    out_root=Path(snakemake.output.manifest).parent,
    config={**snakemake.params.config, "ood_list": snakemake.input.ood_list},
    nltk_data=Path(snakemake.input.wordnet).parent.parent,  # <nltk_data>/corpora/wordnet
    missing_report=snakemake.params.missing_report,
)
print(format_counts(manifest))
