"""Snakemake adapter: Figure 3, val images of a Sender's 9 most frequent symbols (emcom.reporting.figures)."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)

from emcom.reporting.figures import write_figure3  # noqa: E402

report = snakemake.params.report  # noqa: F821
symbols = write_figure3(
    snakemake.input.val_items, Path(snakemake.input.dataset).parent, snakemake.params.model,  # noqa: F821
    snakemake.output.png, snakemake.output.pdf, n_symbols=9, per_symbol=report["images_per_symbol"],  # noqa: F821
    seed=report["figure_seed"], size=report["figure_image_px"], resample=report["figure_resample"])
print(f"{snakemake.params.model}: symbols shown {symbols}", file=sys.stderr)  # noqa: F821
