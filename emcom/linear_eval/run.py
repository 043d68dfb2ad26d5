"""One Table 3 cell: a model's features on one dataset, by the protocol the dataset calls for.

``settings`` is the workflow's ``linear_eval`` config section (config.yaml, rules/schema.yaml);
a dataset's entry may override ``epochs`` and ``milestones`` (VISSL's schedule per dataset).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping

from emcom.linear_eval.kinds import protocol
from emcom.linear_eval.linear import LinearSettings, train_linear_on_cache, train_linear_online
from emcom.linear_eval.svm import COSTS, svm_on_cache

log = logging.getLogger(__name__)


def linear_settings(settings: Mapping[str, Any], spec: Mapping[str, Any]) -> LinearSettings:
    """The head's hyperparameters: the section's, with the dataset's epochs/milestones if given."""
    return LinearSettings(epochs=int(spec.get("epochs", settings.get("epochs", 28))),
                          milestones=list(spec.get("milestones", settings.get("milestones", [8, 16, 24]))),
                          batch_size=int(settings.get("batch_size", 256)), base_lr=float(settings.get("base_lr", 0.01)),
                          weight_decay=float(settings.get("weight_decay", 5e-4)), seed=int(settings.get("seed", 0))).validate()


def evaluate_model_on_dataset(model: str, dataset: str, spec: Mapping[str, Any], settings: Mapping[str, Any],
                              test_stem: str | Path, out_json: str | Path, train_stem: str | Path | None = None,
                              trunk: str | Path | None = None, random_init_seed: int | None = None,
                              threads: int = 1) -> dict[str, Any]:
    """Write ``out_json`` for one model × dataset and return it.

    VOC07 (``svm``): SVMs on the cached trainval/test features. Otherwise a linear head, on cached
    train features when ``train_stem`` is given, else on augmented images through ``trunk``.
    """
    if protocol(spec) == "svm":
        if train_stem is None:
            raise ValueError(f"{dataset}: the SVM protocol needs cached trainval features")
        result = svm_on_cache(train_stem, test_stem, out_json, costs=tuple(settings.get("svm_costs", COSTS)),
                              folds=int(settings.get("svm_folds", 3)), n_jobs=threads)
    elif train_stem is not None:
        result = train_linear_on_cache(train_stem, test_stem, linear_settings(settings, spec), out_json)
    else:
        if trunk is None:
            raise ValueError(f"{model} on {dataset}: training on images needs the trunk (model.pt)")
        result = train_linear_online(trunk, dict(spec), dataset, test_stem, linear_settings(settings, spec), out_json,
                                     pool=settings.get("pool", "res5"), random_init_seed=random_init_seed,
                                     model_name=model, num_workers=int(settings.get("num_workers", 8)))
    log.info("%s on %s: %s %.2f", model, dataset, result["metric"], result["value"])
    return result


def dataset_spec(workflow_config: Mapping[str, Any], dataset: str) -> dict[str, Any]:
    """``linear_eval.datasets.<dataset>`` of a workflow config, a ``built`` one rooted in resources."""
    from emcom.config import ConfigError

    datasets = (workflow_config.get("linear_eval") or {}).get("datasets") or {}
    if dataset not in datasets:
        raise ConfigError(f"linear_eval.datasets has no entry {dataset!r} (it has {sorted(datasets)})")
    spec = dict(datasets[dataset])
    if spec.get("kind") == "built":
        resources = (workflow_config.get("paths") or {}).get("resources", "resources")
        spec.setdefault("root", f"{resources}/datasets/{dataset}")
    return spec


def evaluate_from_workflow_config(model_path: str | Path, config_path: str | Path, dataset: str,
                                  out_json: str | Path, random_init_seed: int | None = None,
                                  threads: int = 1) -> dict[str, Any]:
    """``emcom linear-eval``: what the workflow's two rules do for one model × dataset, in one call.

    Reads the ``linear_eval`` section of a workflow config (config.yaml), caches the features beside
    ``out_json`` (``<out>.features/{train,test}.*``) and writes ``out_json``.
    """
    import yaml

    from emcom.config import ConfigError
    from emcom.linear_eval.features import extract_split_features

    config_path = Path(config_path)
    if not config_path.is_file():
        raise ConfigError(f"config file not found: {config_path}")
    workflow_config = yaml.safe_load(config_path.read_text()) or {}
    settings = workflow_config.get("linear_eval") or {}
    spec = dataset_spec(workflow_config, dataset)
    name = "random_init" if random_init_seed is not None else Path(model_path).parent.name
    online = not settings.get("cache_features", True) and protocol(spec) == "linear"
    cache = Path(f"{out_json}.features")
    for split in (("test",) if online else ("train", "test")):
        extract_split_features(model_path, spec, dataset, split, cache / split, pool=settings.get("pool", "res5"),
                               random_init_seed=random_init_seed, model_name=name,
                               center_crop=settings.get("center_crop", False),
                               batch_size=int(settings.get("extract_batch_size", 256)),
                               num_workers=int(settings.get("num_workers", 0)))
    return evaluate_model_on_dataset(name, dataset, spec, settings, cache / "test", out_json,
                                     train_stem=None if online else cache / "train", trunk=model_path,
                                     random_init_seed=random_init_seed, threads=threads)
