"""Snakemake adapter: Figure 4, OOD images of a Sender's 3 most frequent val symbols (emcom.reporting.figures)."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)

from emcom.reporting.figures import write_figure4  # noqa: E402

report = snakemake.params.report  # noqa: F821
symbols = write_figure4(
    snakemake.input.val_items, snakemake.input.ood_items, Path(snakemake.input.dataset).parent,  # noqa: F821
    snakemake.params.model, snakemake.output.png, snakemake.output.pdf, n_symbols=3,  # noqa: F821
    per_symbol=report["images_per_symbol"], seed=report["figure_seed"], size=report["figure_image_px"],
    resample=report["figure_resample"])
print(f"{snakemake.params.model}: symbols shown {symbols}", file=sys.stderr)  # noqa: F821
