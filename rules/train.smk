# Training: one resolved run config and one model per variant (game ±augmentations ±shared, SimCLR).
include: "functions/train.smk"


rule run_config:
    """The run config of one variant: training.defaults + its overrides + the dataset root."""
    output:
        config=f"{RESULTS}/models/{{variant}}/config.yaml",
    log:
        f"{LOGS}/run_config/{{variant}}.log",
    conda:
        "../envs/emcom.yaml"
    params:
        # Only this variant's inputs: editing another variant leaves this one (and its model) alone.
        defaults=config["training"].get("defaults", {}),
        overrides=lambda wildcards: config["training"]["variants"][wildcards.variant],
        dataset_root=f"{DATASETS}/{config['dataset']}",
        on_bad_image=config["on_bad_image"],
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
    log:
        f"{LOGS}/train/{{variant}}.log",
    benchmark:
        f"{LOGS}/train/{{variant}}.benchmark.tsv"
    conda:
        "../envs/emcom.yaml"
    # The CPUs of one node of the job (on the 2-core default: the whole machine, one training at a time).
    threads: TRAIN_RESOURCES["cpus_per_task"] * TRAIN_RESOURCES["tasks"] // TRAIN_RESOURCES["nodes"]
    resources:
        **train_resources(),
    params:
        command=train_command,
        out_dir=lambda wildcards, output: os.path.dirname(output.model),
    # Snakemake empties {log} before every attempt: each attempt is also appended, after a dated
    # header, to <out_dir>/train.log, which keeps the log of a killed or failed attempt. On an error the
    # last line is the one-line message, after the traceback (--traceback).
    shell:
        '( echo "=== attempt started $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -n) ===";'
        " {params.command} {input.config} --out {params.out_dir} --traceback ) 2>&1"
        " | tee -a {params.out_dir}/train.log > {log}"


rule training_report:
    """One row per variant (CSV, Markdown) and the loss/accuracy curves of every run (PNG)."""
    input:
        summaries=expand(rules.train.output.summary, variant=VARIANTS),
    output:
        csv=report(
            f"{RESULTS}/training/training.csv",
            caption="../workflow/report/training_table.rst",
            category="Training",
            labels={"what": "per-model summary"},
        ),
        markdown=f"{RESULTS}/training/training.md",
        figure=report(
            f"{RESULTS}/training/training_curves.png",
            caption="../workflow/report/training_curves.rst",
            category="Training",
            labels={"what": "loss and accuracy curves"},
        ),
    log:
        f"{LOGS}/training_report/training_report.log",
    conda:
        "../envs/emcom.yaml"
    script:
        "../workflow/scripts/training_report.py"
