"""Turn the workflow's ``training`` section into one resolved run config per variant, and add the
Appendix A.2 seed reruns (``<variant>_seed<N>``) when ``training.extra_seeds.enabled`` and the
Appendix A.5/A.6 sweeps (``<variant>_vocab<V>``, ``<variant>_cand<N>``) that ``appendix`` lists."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from emcom.config import ConfigError, ExperimentConfig, ModelConfig, RunConfig, deep_merge


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


# ---- Appendix A.5 (training) and A.6: one setting swept over listed variants ---------------------
@dataclass(frozen=True)
class Sweep:
    """One ``appendix`` list that retrains variants with another value of one run-config key."""

    key: str  # the appendix key: ``vocab_sizes`` or ``train_candidates``
    section: str  # run-config section and field it sets
    field: str
    suffix: str  # ``<variant>_<suffix><value>``
    games_only: bool  # the value only means something for a Sender (a vocabulary)


SWEEPS = (
    Sweep("vocab_sizes", "model", "vocab_size", "vocab", games_only=True),  # A.6: |V|
    # A.5 at training time: the per-GPU batch is the game's candidate set (target + N - 1 distractors)
    Sweep("train_candidates", "optim", "batch_size", "cand", games_only=False),
)


@dataclass(frozen=True)
class SweepVariant:
    """One variant an appendix sweep adds: ``game_aug_noshared_vocab64`` from ``game_aug_noshared``."""

    name: str
    base: str
    sweep: str  # the appendix key that added it
    value: int  # its value of the swept setting
    base_value: int  # the base variant's value of it


def _default(section: str, field: str) -> Any:
    """emcom's code default of ``<section>.<field>`` (the paper's value)."""
    return getattr(getattr(ExperimentConfig(), section), field)


def sweep_variants(training: Mapping[str, Any], appendix: Mapping[str, Any]) -> list[SweepVariant]:
    """The variants ``appendix.vocab_sizes`` and ``appendix.train_candidates`` add, in config order.

    ``training.variants`` is the full list (Appendix A.2 seed reruns included, so a rerun can be
    swept too). Each listed variant is retrained once per value. ConfigError names the key for an
    unknown variant, a non-game variant in ``vocab_sizes``, a value equal to the variant's own, and a
    name that is already a variant.
    """
    variants = training.get("variants") or {}
    defaults = training.get("defaults") or {}
    added: list[SweepVariant] = []
    taken = set(variants)
    for sweep in SWEEPS:
        spec = appendix.get(sweep.key) or {}
        key = f"appendix.{sweep.key}"
        for base in spec.get("variants") or []:
            if base not in variants:
                raise ConfigError(f"{key}.variants: no variant {base!r}; defined: {sorted(variants)}")
            resolved = deep_merge(defaults, variants[base] or {})
            kind = (resolved.get("model") or {}).get("kind", ModelConfig().kind)
            if sweep.games_only and kind != "game":
                raise ConfigError(f"{key}.variants: {base!r} is a {kind} variant; a vocabulary size needs a game")
            own = (resolved.get(sweep.section) or {}).get(sweep.field, _default(sweep.section, sweep.field))
            for value in spec.get("values") or []:
                if value == own:
                    raise ConfigError(f"{key}.values: {value} is already the {sweep.section}.{sweep.field} of {base}")
                name = f"{base}_{sweep.suffix}{value}"
                if name in taken:
                    raise ConfigError(f"{key}: {name!r} is already a variant of training.variants")
                taken.add(name)
                added.append(SweepVariant(name, base, sweep.key, value, own))
    return added


def with_sweep_variants(training: Mapping[str, Any], appendix: Mapping[str, Any]) -> dict[str, Any]:
    """``training.variants`` plus each :func:`sweep_variants` one: the base's overrides with the
    swept setting replaced, checked as a run config (ConfigError naming the appendix key)."""
    variants = dict(training.get("variants") or {})
    sections = {sweep.key: sweep for sweep in SWEEPS}
    for added in sweep_variants(training, appendix):
        sweep = sections[added.sweep]
        overrides = deep_merge(variants[added.base] or {}, {sweep.section: {sweep.field: added.value}})
        ExperimentConfig.from_dict(deep_merge(training.get("defaults") or {}, overrides),
                                   source=f"config: appendix.{added.sweep} ({added.name})")
        variants[added.name] = overrides
    return variants
