"""Turn the workflow's ``training`` section into one resolved run config per variant, and add the
Appendix A.2 seed reruns (``<variant>_seed<N>``) when ``training.extra_seeds.enabled``."""

from __future__ import annotations

import re
from typing import Any, Mapping

from emcom.config import ConfigError, ExperimentConfig, RunConfig, deep_merge


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


SEED_VARIANT = re.compile(r"^(?P<base>.+)_seed(?P<seed>\d+)$")


def seed_variant_name(variant: str, seed: int) -> str:
    """``game_aug_noshared`` + 222 -> ``game_aug_noshared_seed222`` (the name of its model folder)."""
    return f"{variant}_seed{seed}"


def split_seed_variant(name: str, variants: Mapping[str, Any] | None = None) -> tuple[str, int | None]:
    """``game_aug_noshared_seed222`` -> (``game_aug_noshared``, 222); a plain variant -> (name, None).

    With ``variants`` (the defined names), a name is split only if its base is one of them.
    """
    match = SEED_VARIANT.match(name)
    if match is None or (variants is not None and match["base"] not in variants):
        return name, None
    return match["base"], int(match["seed"])


def with_extra_seeds(training: Mapping[str, Any]) -> dict[str, Any]:
    """``training.variants`` plus the Appendix A.2 reruns when ``training.extra_seeds.enabled``.

    Each variant listed in ``extra_seeds.variants`` is trained again with each seed of
    ``extra_seeds.seeds``, as ``<variant>_seed<seed>``: the variant's own overrides with ``run.seed``
    set (the base variant keeps its seed, the paper's 111). Names and seeds that would collide raise
    ConfigError naming the key.
    """
    variants = dict(training.get("variants") or {})
    extra = training.get("extra_seeds") or {}
    if not extra.get("enabled", False):
        return variants
    for name in extra.get("variants") or []:
        if name not in variants:
            raise ConfigError(f"training.extra_seeds.variants: no variant {name!r}; defined: {sorted(variants)}")
        resolved = deep_merge(training.get("defaults") or {}, variants[name] or {})
        own_seed = (resolved.get("run") or {}).get("seed", RunConfig().seed)
        for seed in extra.get("seeds") or []:
            new = seed_variant_name(name, seed)
            if seed == own_seed:
                raise ConfigError(f"training.extra_seeds.seeds: {seed} is already the seed of {name}")
            if new in variants:
                raise ConfigError(f"training.extra_seeds: {new!r} is already a variant of training.variants")
            variants[new] = deep_merge(variants[name] or {}, {"run": {"seed": seed}})
    return variants
