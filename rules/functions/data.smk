# Functions of rules/data.smk (lint: rule files hold rules only).
from snakemake.exceptions import WorkflowError


def check_imagenet_folders():
    """Full scale: stop before any job runs when an ImageNet folder is unset or absent (the builder
    checks their content when it runs; docs/data.md)."""
    for key in ("train", "val", "full"):
        folder = config["imagenet"][key]
        if not folder:
            raise WorkflowError(f"config key imagenet.{key} is null: set it to your ImageNet folder (docs/data.md)")
        if not os.path.isdir(folder):
            raise WorkflowError(f"config key imagenet.{key}: folder not found: {folder}")
