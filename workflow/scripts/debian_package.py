"""Snakemake adapter: download one Debian package into the cache (emcom.data.debian.fetch_deb)."""

import logging
import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

from emcom.data.debian import fetch_deb  # noqa: E402

deb = fetch_deb(snakemake.wildcards.package, Path(snakemake.output.deb).parent)
print(f"{snakemake.wildcards.package}: {deb} ({deb.stat().st_size / 1e6:.1f} MB)")
