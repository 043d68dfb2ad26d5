"""The workflow's ``config.yaml``, checked before any job starts (``rules/common.smk``).

Two checks, each raising :class:`~emcom.config.ConfigError` with one line per problem naming the key:
the JSON schema of ``rules/schema.yaml`` (``additionalProperties: false`` at every level, so a typo
such as ``on_bad_imag`` is an unknown key, not a silently ignored one), then every run config the
``training`` section defines, built as its ``run_config`` job will build it. A bad key therefore
stops ``snakemake --dry-run`` instead of failing a job, which Snakemake would answer by deleting that
job's earlier, good output. Last, the output folders must be writable (:func:`check_writable`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import yaml

from emcom.config import ConfigError, ExperimentConfig
from emcom.variants import variant_config


def _schema_error_lines(error) -> list[str]:
    where = ".".join(str(part) for part in error.absolute_path)
    if error.validator == "additionalProperties" and error.validator_value is False:
        known = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(known))
        return [f"{where + '.' if where else ''}{key}: unknown key; known keys here: {', '.join(known)}"
                for key in unknown]
    return [f"{where or 'config'}: {error.message}"]


def schema_problems(config: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    """One line per violation of ``schema`` (JSON Schema 2020-12), in the order of the config's keys."""
    from jsonschema import Draft202012Validator  # installed with snakemake, the only caller

    errors = sorted(Draft202012Validator(schema).iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path])
    return [line for error in errors for line in _schema_error_lines(error)]


def check_workflow_config(config: Mapping[str, Any], schema_path: str | Path) -> None:
    """Raise ConfigError (one line per problem) if ``config`` breaks ``rules/schema.yaml``."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    problems = schema_problems(config, schema)
    if problems:
        raise ConfigError("\n".join(f"config: {line}" for line in problems))


def check_run_configs(config: Mapping[str, Any], dataset_root: str) -> None:
    """Build ``training.defaults`` alone, then each variant's run config, as ``run_config`` will.

    ``config`` has the schema's defaults filled in (``snakemake.utils.validate``). The first bad
    key raises ConfigError naming it (``training.defaults:optim: unknown key(s) ['epoch'] ...``).
    """
    training = config["training"]
    ExperimentConfig.from_dict(training.get("defaults") or {}, source="config: training.defaults")
    for variant in training["variants"]:
        variant_config(training, variant, dataset_root, config["on_bad_image"])


def check_writable(config: Mapping[str, Any]) -> None:
    """Raise ConfigError naming the first existing output folder this user cannot write.

    Snakemake would otherwise fail inside its own code (creating or deleting a job's outputs) with
    an internal traceback. Checked: ``paths.results`` and ``paths.logs`` with every folder inside,
    and ``paths.resources`` with the folders the data rules write into (datasets are replaced whole).
    """
    paths = config["paths"]
    resources = Path(paths["resources"])
    folders = [("paths.resources", p) for p in (resources, resources / "datasets", resources / "debs")]
    for key in ("results", "logs"):
        root = Path(paths[key])
        folders.append((f"paths.{key}", root))
        if root.is_dir():
            folders += [(f"paths.{key}", Path(d) / sub) for d, subs, _ in os.walk(root) for sub in subs]
    for key, folder in folders:
        if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
            raise ConfigError(f"config: {key}: cannot write {folder}: permission denied (a read-only folder?)")
