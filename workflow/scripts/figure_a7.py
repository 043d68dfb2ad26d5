"""Snakemake adapter: Figure A.7, symbol frequency against rank (emcom.reporting.figures)."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)

from emcom.reporting.figures import write_symbol_frequency  # noqa: E402

kinds = snakemake.params.kinds  # noqa: F821
items = {}
for path in snakemake.input.item_files:  # noqa: F821  {R}/evaluation/<variant>/<test_set>.items.tsv.gz
    variant, test_set = Path(path).parent.name, Path(path).name.split(".")[0]
    # SimCLR_disc's protocol (Table 2) is the argmax of h, its symbol_h column
    column = "symbol_h" if kinds[variant] == "simclr" else "symbol"
    items[f"{'simclr_disc' if kinds[variant] == 'simclr' else variant}/{test_set}"] = (path, column)
curves = write_symbol_frequency(items, snakemake.output.png, snakemake.output.pdf, snakemake.output.csv)  # noqa: F821
print(curves.groupby(["model", "test_set"]).size().rename("symbols_used").to_string(), file=sys.stderr)
