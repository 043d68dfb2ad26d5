"""Every key of config.yaml and of the run configs is checked before any job: one line naming the key."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from emcom.config import ConfigError, deep_merge
from emcom.workflow_config import check_run_configs, check_workflow_config, schema_problems
from test_workflow import scratch_workdir, snakemake

REPO = Path(__file__).resolve().parents[1]
SCHEMA_PATH = REPO / "rules" / "schema.yaml"


def _config(**changes):
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    for dotted, value in changes.items():
        *parents, key = dotted.split(".")
        node = config
        for parent in parents:
            node = node.setdefault(parent, {})
        node[key] = value
    return config


def test_the_shipped_configs_pass():
    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    for extra in ("config/ci.yaml", "config/imagenet.yaml"):
        config = deep_merge(_config(), yaml.safe_load((REPO / extra).read_text()))  # as --configfile does
        assert schema_problems(config, schema) == [], extra
        check_run_configs({"on_bad_image": "error", **config}, "resources/datasets/x")


def _objects(node, where="schema"):
    """Every object schema with named properties, with its location."""
    if isinstance(node, dict):
        if node.get("type") == "object" and "properties" in node:
            yield where, node
        for key, value in node.items():
            yield from _objects(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _objects(value, f"{where}[{index}]")


def test_every_section_of_the_schema_refuses_unknown_keys():
    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    open_maps = [where for where, node in _objects(schema) if "additionalProperties" not in node
                 # a map of user-named entries whose keys its own code checks (linear_eval datasets' kinds)
                 and not where.endswith(".additionalProperties")]
    assert open_maps == []


@pytest.mark.parametrize("changes,line", [
    ({"on_bad_imag": "skip"}, "config: on_bad_imag: unknown key; known keys here: "),
    ({"stamps.sed": 1}, "config: stamps.sed: unknown key; known keys here: "),
    ({"paths.result": "x"}, "config: paths.result: unknown key"),
    ({"training.default": {}}, "config: training.default: unknown key"),
    ({"training.defaults.optimizer": {}}, "config: training.defaults.optimizer: unknown key"),
    ({"training.variants.simclr": {"modle": {}}}, "config: training.variants.simclr.modle: unknown key"),
    ({"stamps.image_size": "big"}, "config: stamps.image_size: 'big' is not of type 'integer'"),
])
def test_schema_names_the_key(changes, line):
    with pytest.raises(ConfigError) as error:
        check_workflow_config(_config(**changes), SCHEMA_PATH)
    lines = str(error.value).splitlines()
    assert len(lines) == 1 and lines[0].startswith(line), lines


@pytest.mark.parametrize("changes,fragment", [
    ({"training.defaults.optim.epoch": 3}, "training.defaults:optim: unknown key(s) ['epoch']"),
    ({"training.defaults.optim.epochs": "3"}, "training.defaults:optim.epochs: expected int, got '3'"),
    ({"training.variants.simclr.run": {"precison": "fp32"}}, "training.variants.simclr:run: unknown key(s) ['precison']"),
    ({"training.variants.game_aug_shared.model": {"backbone": "vgg"}}, "model.backbone must be one of"),
])
def test_run_configs_name_the_key(changes, fragment):
    config = _config(**changes)
    config.setdefault("on_bad_image", "error")
    with pytest.raises(ConfigError, match=None) as error:
        check_run_configs(config, "resources/datasets/stamps")
    assert fragment in str(error.value) and "\n" not in str(error.value)


@pytest.mark.slow
@pytest.mark.parametrize("override,line", [
    ("on_bad_imag: skip\n", "config: on_bad_imag: unknown key"),
    ("stamps:\n  train_per_stamps: 3\n", "config: stamps.train_per_stamps: unknown key"),
    ("training:\n  defaults:\n    optim: {epoch: 3}\n", "training.defaults:optim: unknown key(s) ['epoch']"),
])
def test_dry_run_fails_with_one_line_naming_the_key(tmp_path, override, line):
    workdir = scratch_workdir(tmp_path)
    (workdir / "typo.yaml").write_text(override)
    plan = snakemake(workdir, "--dry-run", "--configfile", "config/ci.yaml", "typo.yaml")
    assert plan.returncode != 0
    out = plan.stdout + plan.stderr
    assert line in out and "Traceback" not in out, out[-2000:]
    assert not (workdir / "results").exists() and not (workdir / "resources" / "datasets").exists()


def test_a_read_only_output_folder_is_named_before_any_job(tmp_path, monkeypatch):
    import os

    from emcom.workflow_config import check_writable

    config = {"paths": {"resources": str(tmp_path / "resources"), "results": str(tmp_path / "results"),
                        "logs": str(tmp_path / "logs")}}
    locked = tmp_path / "results" / "models" / "simclr"
    locked.mkdir(parents=True)
    check_writable(config)
    # The tests run as root, whom permission bits do not stop: os.access answers as for another user.
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != locked and real_access(path, mode))
    with pytest.raises(ConfigError) as error:
        check_writable(config)
    assert str(error.value) == f"config: paths.results: cannot write {locked}: permission denied (a read-only folder?)"


def test_building_the_dag_imports_no_torch():
    """The modules the Snakefile and rules import are torch-free: every snakemake start-up (two per SLURM
    job) would otherwise pay torch's import, seconds each."""
    sources = [REPO / "Snakefile", *sorted((REPO / "rules").rglob("*.smk"))]
    modules = sorted({m for path in sources for m in re.findall(r"^from (emcom[\w.]*) import", path.read_text(), re.M)})
    assert {"emcom.appendix", "emcom.linear_eval.kinds", "emcom.workflow_config"} <= set(modules)
    probe = f"import sys\nfor m in {modules!r}: __import__(m)\nprint(sorted(m for m in sys.modules if m.split('.')[0] == 'torch'))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]", f"the workflow's imports load torch: {loaded[:300]}"
