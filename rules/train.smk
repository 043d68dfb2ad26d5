# Training: one resolved run config and one model per variant (game ±augmentations ±shared, SimCLR).
TRAIN_RESOURCES = config["training"]["resources"]


def train_command(wildcards, resources):
    """The program that trains one model: `training.launcher` + emcom.train if set, else emcom.launch
    with the job's resources (a profile's set-resources win over training.resources): `tasks` ranks
    under srun inside a SLURM job, under torchrun elsewhere."""
    if config["training"]["launcher"]:
        return f"{config['training']['launcher']} {PYTHON} -m emcom.train"
    gpus = resources.get("gpu", 0)
    return (
        f"{PYTHON} -m emcom.launch --tasks {resources.tasks} --cpus-per-task {resources.cpus_per_task}"
        f" --gpus {gpus} emcom.train"
    )


def train_resources():
    """One SLURM job per model: `nodes` nodes, `tasks` tasks started by srun (mpi), one task per GPU."""
    r = TRAIN_RESOURCES
    resources = {key: r[key] for key in ("nodes", "tasks", "cpus_per_task", "mem_mb", "runtime")}
    if r["gpus"]:
        resources.update(gpu=r["gpus"], tasks_per_gpu=1)
    if r["tasks"] > 1:
        # The plugin then runs the job script as is (no `srun -n1` wrapper) and emcom.launch calls srun.
        resources["mpi"] = "srun"
    return resources



rule run_config:
    """The run config of one variant: training.defaults + its overrides + the dataset root."""
    output:
        config=f"{RESULTS}/models/{{variant}}/config.yaml",
    params:
        # Only this variant's inputs: editing another variant leaves this one (and its model) alone.
        defaults=config["training"].get("defaults", {}),
        overrides=lambda wildcards: config["training"]["variants"][wildcards.variant],
        dataset_root=f"{DATASETS}/{config['dataset']}",
        on_bad_image=config["on_bad_image"],
    log:
        LOGS + "/run_config/{variant}.log",
    script:
        "../workflow/scripts/write_run_config.py"


rule train:
    """Train one variant; resumes by itself from the undeclared rolling checkpoint.pt beside model.pt."""
    input:
        config=rules.run_config.output.config,
        dataset=dataset_manifest(config["dataset"]),
    output:
        model=f"{RESULTS}/models/{{variant}}/model.pt",
        summary=f"{RESULTS}/models/{{variant}}/summary.json",
    params:
        command=train_command,
        out_dir=lambda wildcards, output: os.path.dirname(output.model),
    log:
        LOGS + "/train/{variant}.log",
    benchmark:
        LOGS + "/train/{variant}.benchmark.tsv"
    # The CPUs of one node of the job (on the 2-core default: the whole machine, one training at a time).
    threads: TRAIN_RESOURCES["cpus_per_task"] * TRAIN_RESOURCES["tasks"] // TRAIN_RESOURCES["nodes"]
    resources:
        **train_resources(),
    # Snakemake empties {log} before every attempt: each attempt is also appended, after a dated
    # header, to <out_dir>/train.log, which keeps the log of a killed or failed attempt. On an error the
    # last line is the one-line message, after the traceback (--traceback).
    shell:
        "( echo \"=== attempt started $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -n) ===\";"
        " {params.command} {input.config} --out {params.out_dir} --traceback ) 2>&1"
        " | tee -a {params.out_dir}/train.log > {log}"


rule training_report:
    """One row per variant (CSV, Markdown) and the loss/accuracy curves of every run (PNG)."""
    input:
        summaries=expand(rules.train.output.summary, variant=VARIANTS),
    output:
        csv=f"{RESULTS}/training/training.csv",
        markdown=f"{RESULTS}/training/training.md",
        figure=f"{RESULTS}/training/training_curves.png",
    log:
        LOGS + "/training_report/training_report.log",
    script:
        "../workflow/scripts/training_report.py"
