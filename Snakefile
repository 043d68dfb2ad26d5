# emcom: the whole paper as one DAG. `snakemake --cores all` runs the embedded default;
# `snakemake --profile profiles/slurm all` on a cluster. Targets: see README ("Targets").
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/train.smk"
include: "rules/evaluate.smk"
include: "rules/linear_eval.smk"
include: "rules/tables.smk"
include: "rules/appendix.smk"


rule all:
    default_target: True
    input:
        get_final_output(),
