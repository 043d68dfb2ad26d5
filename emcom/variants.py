"""Turn the workflow's ``training`` section into one resolved run config per variant."""

from __future__ import annotations

from typing import Any, Mapping

from emcom.config import ConfigError, ExperimentConfig, deep_merge


def variant_config(training: Mapping[str, Any], variant: str, dataset_root: str,
                   on_bad_image: str = "error") -> ExperimentConfig:
    """The workflow-wide ``on_bad_image``, then ``training.defaults``, then
    ``training.variants[variant]``, then the dataset root; validated.

    Errors name the config path (``training.variants.<name>...``) so a typo in config.yaml is found.
    """
    variants = training.get("variants") or {}
    if variant not in variants:
        raise ConfigError(f"training.variants: no variant {variant!r}; defined: {sorted(variants)}")
    raw = deep_merge({"data": {"on_bad_image": on_bad_image}}, training.get("defaults") or {})
    raw = deep_merge(raw, variants[variant] or {})
    raw = deep_merge(raw, {"data": {"root": dataset_root}})
    return ExperimentConfig.from_dict(raw, source=f"config.yaml training.defaults + training.variants.{variant}")
