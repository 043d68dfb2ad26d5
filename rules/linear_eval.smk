# Table 3: the CNNs as general visual features (SPEC.md, Linear evaluation; emcom/linear_eval/).
# One features job per model × dataset × split (cached: the trunk is frozen), one linear-head or
# SVM job per model × dataset, one table. Models: every variant (games: the Sender's CNN) and
# random_init (the same architecture, untrained: the floor). A dataset is a column only when the
# paths of its config entry are set, so `snakemake results/tables/table3.md` on the embedded
# default needs no ImageNet.
from emcom.linear_eval.datasets import paths_set, protocol as le_protocol

LINEAR_EVAL = config["linear_eval"]
LE_DIR = f"{RESULTS}/linear_eval"
LE_RANDOM = "random_init"
LE_MODELS = [*VARIANTS, LE_RANDOM]


def le_spec(name):
    """The dataset's config entry; a `built` dataset lives in <resources>/datasets/<name>."""
    if name not in LINEAR_EVAL["datasets"]:
        raise ValueError(f"config linear_eval.columns names {name!r}, which linear_eval.datasets does not define")
    spec = dict(LINEAR_EVAL["datasets"][name])
    if spec.get("kind") == "built":
        spec["root"] = f"{DATASETS}/{name}"
    return spec


def le_columns():
    """Table 3's datasets: linear_eval.columns whose paths are set, in that order."""
    return [name for name in LINEAR_EVAL["columns"] if paths_set(le_spec(name))]


def le_trunk(wildcards):
    """A variant's model.pt, or for random_init a run config (the architecture, no weights)."""
    if wildcards.model == LE_RANDOM:
        return f"{RESULTS}/models/{VARIANTS[0]}/config.yaml"
    return f"{RESULTS}/models/{wildcards.model}/model.pt"


def le_dataset_input(wildcards):
    return [dataset_manifest(wildcards.le_dataset)] if le_spec(wildcards.le_dataset)["kind"] == "built" else []


def le_cache(model, dataset, split):
    return f"{LE_DIR}/features/{model}/{dataset}/{split}"


def le_eval_input(wildcards):
    """Cached test features always; cached train features unless the head trains on augmented images."""
    online = not LINEAR_EVAL["cache_features"] and le_protocol(le_spec(wildcards.le_dataset)) == "linear"
    splits = ["test"] if online else ["train", "test"]
    files = {f"{split}_{part}": f"{le_cache(wildcards.model, wildcards.le_dataset, split)}.{part}"
             for split in splits for part in ("features.npy", "labels.npy", "json")}
    return {**files, "trunk": le_trunk(wildcards)} if online else files


def table3_outputs():
    return expand(f"{RESULTS}/tables/table3.{{ext}}", ext=("md", "csv", "tex"))


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
    params:
        spec=lambda wildcards: le_spec(wildcards.le_dataset),
        random_init_seed=lambda wildcards: LINEAR_EVAL["random_init_seed"] if wildcards.model == LE_RANDOM else None,
        settings=LINEAR_EVAL,
    log:
        LOGS + "/linear_features/{model}.{le_dataset}.{split}.log",
    benchmark:
        LOGS + "/linear_features/{model}.{le_dataset}.{split}.benchmark.tsv"
    threads: 2  # capped at --cores by local runs; no workflow.cores: SLURM and --report runs have none
    script:
        "../workflow/scripts/linear_features.py"


rule linear_eval:
    """One model × dataset: a linear head (top-1/top-5) or VOC07's SVMs (mAP), as JSON."""
    input:
        unpack(le_eval_input),
    output:
        result=f"{LE_DIR}/{{model}}/{{le_dataset}}.json",
    params:
        spec=lambda wildcards: le_spec(wildcards.le_dataset),
        random_init_seed=lambda wildcards: LINEAR_EVAL["random_init_seed"] if wildcards.model == LE_RANDOM else None,
        settings=LINEAR_EVAL,
    log:
        LOGS + "/linear_eval/{model}.{le_dataset}.log",
    benchmark:
        LOGS + "/linear_eval/{model}.{le_dataset}.benchmark.tsv"
    threads: 2  # capped at --cores by local runs; no workflow.cores: SLURM and --report runs have none
    script:
        "../workflow/scripts/linear_eval.py"


rule table3:
    """Table 3: linear-evaluation scores per model × dataset beside the paper's (Markdown, CSV, LaTeX)."""
    input:
        results=expand(f"{LE_DIR}/{{model}}/{{le_dataset}}.json", model=LE_MODELS, le_dataset=le_columns()),
        paper="data/paper_results.yaml",
    output:
        markdown=f"{RESULTS}/tables/table3.md",
        csv=f"{RESULTS}/tables/table3.csv",
        tex=f"{RESULTS}/tables/table3.tex",
    params:
        columns=le_columns(),
        settings=LINEAR_EVAL,
    log:
        LOGS + "/table3/table3.log",
    script:
        "../workflow/scripts/table3.py"
