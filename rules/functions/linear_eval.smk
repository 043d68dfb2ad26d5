# Functions of rules/linear_eval.smk (snakemake --lint: rule files hold rules, functions live here).


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
    files = {
        f"{split}_{part}": f"{le_cache(wildcards.model, wildcards.le_dataset, split)}.{part}"
        for split in splits
        for part in ("features.npy", "labels.npy", "json")
    }
    return {**files, "trunk": le_trunk(wildcards)} if online else files


def table3_outputs():
    return expand(f"{RESULTS}/tables/table3.{{ext}}", ext=("md", "csv", "tex"))
