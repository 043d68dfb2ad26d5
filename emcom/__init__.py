"""emcom: emergent communication between ResNets trained from scratch, and its SimCLR baseline.

Library of the workflow (it never imports snakemake): config, data, models, losses, training.
"""

__version__ = "0.1.0"
