# Table 3: the CNNs as general visual features (SPEC.md, Linear evaluation; emcom/linear_eval/).
# One features job per model × dataset × split (cached: the trunk is frozen), one linear-head or
# SVM job per model × dataset, one table. Models: every variant but the appendix sweeps' (games:
# the Sender's CNN) and random_init (the same architecture, untrained: the floor). A dataset is a
# column only when the paths of its config entry are set, so `snakemake results/tables/table3.md`
# on the embedded default needs no ImageNet.


include: "functions/linear_eval.smk"


from emcom.linear_eval.kinds import paths_set, protocol as le_protocol

LINEAR_EVAL = config["linear_eval"]
LE_DIR = f"{RESULTS}/linear_eval"
LE_RANDOM = "random_init"
# The appendix sweeps' variants (<variant>_vocab<V>, _cand<N>) are left out: at full scale each probe is a long GPU job.
LE_MODELS = [*(v for v in VARIANTS if v not in SWEPT), LE_RANDOM]


wildcard_constraints:
    model="|".join(LE_MODELS),
    split="train|test",
    le_dataset="[a-z0-9_]+",


rule linear_features:
    """Frozen-trunk features of one split (no augmentation), cached as .npy + a JSON of its speed."""
    input:
        trunk=le_trunk,
        dataset=le_dataset_input,
    output:
        features=f"{LE_DIR}/features/{{model}}/{{le_dataset}}/{{split}}.features.npy",
        labels=f"{LE_DIR}/features/{{model}}/{{le_dataset}}/{{split}}.labels.npy",
        meta=f"{LE_DIR}/features/{{model}}/{{le_dataset}}/{{split}}.json",
    log:
        f"{LOGS}/linear_features/{{model}}.{{le_dataset}}.{{split}}.log",
    benchmark:
        f"{LOGS}/linear_features/{{model}}.{{le_dataset}}.{{split}}.benchmark.tsv"
    conda:
        "../envs/emcom.yaml"
    threads: LINEAR_EVAL["threads"]  # capped at --cores by local runs
    resources:
        **gpu_resources(LINEAR_EVAL["gpus"]),
    params:
        spec=lambda wildcards: le_spec(wildcards.le_dataset),
        random_init_seed=lambda wildcards: LINEAR_EVAL["random_init_seed"] if wildcards.model == LE_RANDOM else None,
        settings=LINEAR_EVAL,
    script:
        "../workflow/scripts/linear_features.py"


rule linear_eval:
    """One model × dataset: a linear head (top-1/top-5) or VOC07's SVMs (mAP), as JSON."""
    input:
        unpack(le_eval_input),
    output:
        result=f"{LE_DIR}/{{model}}/{{le_dataset}}.json",
    log:
        f"{LOGS}/linear_eval/{{model}}.{{le_dataset}}.log",
    benchmark:
        f"{LOGS}/linear_eval/{{model}}.{{le_dataset}}.benchmark.tsv"
    conda:
        "../envs/emcom.yaml"
    threads: LINEAR_EVAL["threads"]  # capped at --cores by local runs
    resources:
        **gpu_resources(LINEAR_EVAL["gpus"]),
    params:
        spec=lambda wildcards: le_spec(wildcards.le_dataset),
        random_init_seed=lambda wildcards: LINEAR_EVAL["random_init_seed"] if wildcards.model == LE_RANDOM else None,
        settings=LINEAR_EVAL,
    script:
        "../workflow/scripts/linear_eval.py"


rule table3:
    """Table 3: linear-evaluation scores per model × dataset beside the paper's (Markdown, CSV, LaTeX)."""
    input:
        results=expand(f"{LE_DIR}/{{model}}/{{le_dataset}}.json", model=LE_MODELS, le_dataset=le_columns()),
        paper="data/paper_results.yaml",
    output:
        markdown=f"{RESULTS}/tables/table3.md",
        csv=report(
            f"{RESULTS}/tables/table3.csv",
            caption="../workflow/report/table3.rst",
            category="Tables",
            labels={"what": "Table 3: linear evaluation"},
        ),
        tex=f"{RESULTS}/tables/table3.tex",
    log:
        f"{LOGS}/table3/table3.log",
    conda:
        "../envs/emcom.yaml"
    params:
        columns=le_columns(),
        settings=LINEAR_EVAL,
    script:
        "../workflow/scripts/table3.py"
