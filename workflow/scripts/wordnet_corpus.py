"""Snakemake adapter: NLTK's WordNet 3.0 corpus from Debian packages (emcom.data.wordnet_corpus)."""

import logging
import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

from emcom.data.wordnet_corpus import build_wordnet_corpus  # noqa: E402

# The inputs are the cached .deb files; the builder finds them by package name in their folder.
build_wordnet_corpus(snakemake.output.corpus, Path(snakemake.input.debs[0]).parent)
