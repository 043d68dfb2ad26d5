# emcom: the whole paper as one DAG. `snakemake --cores all` runs the embedded default;
# `snakemake --profile profiles/slurm all` on a cluster. Targets: see README ("Targets").
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


# Jobs that only read small result files and write a config, a table or a figure, and the .deb
# download (it needs the Debian archive, which compute nodes often cannot reach), run where snakemake
# runs: on a cluster each would otherwise be a SLURM job whose start-up (two snakemake processes)
# takes longer than its work.
localrules:
    data,
    debian_package,
    run_config,
    training_report,
    table1,
    table2,
    table3,
    figure3,
    figure4,
    figure_a7,
    claims,
    table_a4,
    table_a5,
    table_a6,


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
