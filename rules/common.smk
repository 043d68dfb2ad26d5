# Config validation, wildcard constraints and the small input functions every rule file uses.
import os
import sys

from snakemake.utils import validate

from emcom.variants import with_extra_seeds


validate(config, schema="schema.yaml")
# Appendix A.2 seed reruns become ordinary variants, <variant>_seed<seed> (emcom.variants)
config["training"]["variants"] = with_extra_seeds(config["training"])

RESOURCES = config["paths"]["resources"]
RESULTS = config["paths"]["results"]
DATASETS = f"{RESOURCES}/datasets"
PYTHON = sys.executable  # the interpreter running snakemake: the project's venv
VARIANTS = list(config["training"]["variants"])


wildcard_constraints:
    variant="|".join(VARIANTS),
    dataset="[a-z_]+",


def dataset_manifest(name):
    """The file that marks dataset `name` as built (its per-split counts)."""
    return f"{DATASETS}/{name}/manifest.json"


def get_final_output():
    return [
        dataset_manifest(config["dataset"]),
        *expand(f"{RESULTS}/models/{{variant}}/model.pt", variant=VARIANTS),
        f"{RESULTS}/training/training.md",
        *evaluation_outputs(),  # rules/evaluate.smk: Table 1-2 evaluation and analysis files
        *report_outputs(),  # rules/tables.smk: Tables 1-2, Figures 3, 4, A.7, claims
        *expand(f"{RESULTS}/tables/table3.{{ext}}", ext=("md", "csv", "tex")),
    ]
