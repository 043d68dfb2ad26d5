# Config validation, wildcard constraints and the small input functions every rule file uses.
import os
import sys

from snakemake.utils import validate

from emcom.config import ConfigError
from emcom.variants import sweep_variants, with_extra_seeds, with_sweep_variants
from emcom.workflow_config import check_run_configs, check_workflow_config, check_writable

# Every key of config.yaml and of each variant's run config is checked here, before any job: one
# line per problem naming the key (validate alone would print the whole schema), and no job fails
# on a typo (Snakemake deletes a failed job's outputs: a good config.yaml or manifest.json).
try:
    check_workflow_config(config, os.path.join(workflow.current_basedir, "schema.yaml"))
    validate(config, schema="schema.yaml")  # fills in the schema's defaults
    check_run_configs(config, f"{config['paths']['resources']}/datasets/{config['dataset']}")
    check_writable(config)
    # Appendix A.2 seed reruns become ordinary variants, <variant>_seed<seed> (emcom.variants)
    config["training"]["variants"] = with_extra_seeds(config["training"])
    # Appendix A.5/A.6 sweeps become ordinary variants too, <variant>_vocab<V> / _cand<N> (config appendix:)
    SWEEP_VARIANTS = sweep_variants(config["training"], config["appendix"])
    config["training"]["variants"] = with_sweep_variants(config["training"], config["appendix"])
except ConfigError as error:
    sys.exit(str(error))

RESOURCES = config["paths"]["resources"]
RESULTS = config["paths"]["results"]
LOGS = config["paths"]["logs"]  # per dataset run, like RESULTS (config/imagenet.yaml: logs/imagenet)
DATASETS = f"{RESOURCES}/datasets"
PYTHON = sys.executable  # the interpreter running snakemake: the project's venv
VARIANTS = list(config["training"]["variants"])
SWEPT = [sweep.name for sweep in SWEEP_VARIANTS]  # the appendix sweeps' variants (not in Table 3)


wildcard_constraints:
    variant="|".join(VARIANTS),
    dataset="[a-z_]+",


def variant_kind(variant):
    """'game' or 'simclr': the variant's model.kind, else training.defaults', else emcom's default (game)."""
    defaults = config["training"].get("defaults", {}).get("model", {})
    return config["training"]["variants"][variant].get("model", {}).get("kind", defaults.get("kind", "game"))


def gpu_resources(gpus):
    """A job's GPU request (the SLURM plugin turns it into --gpus): none when `gpus` is 0."""
    return {"gpu": gpus} if gpus else {}


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
        *appendix_outputs(),  # rules/appendix.smk: Tables A.4-A.6, each only when config appendix: asks
        *expand(f"{RESULTS}/tables/table3.{{ext}}", ext=("md", "csv", "tex")),
    ]
