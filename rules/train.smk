# Training: one resolved run config and one model per variant (game ±augmentations ±shared, SimCLR).


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
        "logs/run_config/{variant}.log",
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
        launcher=config["training"]["launcher"],
        python=PYTHON,
        out_dir=lambda wildcards, output: os.path.dirname(output.model),
    log:
        "logs/train/{variant}.log",
    benchmark:
        "logs/train/{variant}.benchmark.tsv"
    threads: workflow.cores
    resources:
        runtime=24 * 60,
    shell:
        "{params.launcher} {params.python} -m emcom.train {input.config} --out {params.out_dir} > {log} 2>&1"


rule training_report:
    """One row per variant (CSV, Markdown) and the loss/accuracy curves of every run (PNG)."""
    input:
        summaries=expand(rules.train.output.summary, variant=VARIANTS),
    output:
        csv=f"{RESULTS}/training/training.csv",
        markdown=f"{RESULTS}/training/training.md",
        figure=f"{RESULTS}/training/training_curves.png",
    log:
        "logs/training_report/training_report.log",
    script:
        "../workflow/scripts/training_report.py"
