"""The paper's full-scale DAG (config/imagenet.yaml) as the SLURM profile plans it, on a fake ImageNet tree."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from test_workflow import REPO, scratch_workdir


def plan(workdir: Path, *configfiles: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "snakemake", "all", "--dry-run", "--profile", "profiles/slurm",
               "--configfile", "config/imagenet.yaml", *map(str, configfiles)]
    return subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=600)


def fake_imagenet_paths(root: Path) -> dict:
    """Empty folders are enough to plan: the imagenet_dataset job checks their content when it runs."""
    paths = {name: root / name for name in ("train", "val", "full")}
    for path in paths.values():
        path.mkdir(parents=True)
    return {
        "imagenet": {name: str(path) for name, path in paths.items()},
        "linear_eval": {"datasets": {"imagenet": {"train": str(paths["train"]), "test": str(paths["val"])}}},
    }


def jobs(stdout: str) -> list[dict]:
    """The planned jobs: rule name, resources (key -> value) and shell command of each."""
    planned = []
    for block in re.split(r"\n\s*\n", stdout):
        rule = re.search(r"^(?:local)?rule (\w+):", block, re.MULTILINE)
        if not rule:
            continue
        resources = re.search(r"^\s+resources: (.*)$", block, re.MULTILINE)
        shell = re.search(r"^Shell command: (.*)$", block, re.MULTILINE)
        planned.append({
            "rule": rule.group(1),
            "resources": dict(item.split("=", 1) for item in resources.group(1).split(", ")) if resources else {},
            "shell": shell.group(1) if shell else "",
        })
    return planned


@pytest.mark.slow
def test_full_scale_plan_trains_five_models_as_16_task_jobs(tmp_path):
    (tmp_path / "work").mkdir()
    workdir = scratch_workdir(tmp_path / "work")
    (workdir / "profiles").symlink_to(REPO / "profiles")
    override = tmp_path / "paths.yaml"
    override.write_text(yaml.safe_dump(fake_imagenet_paths(tmp_path / "imagenet")))
    result = plan(workdir, override)
    assert result.returncode == 0, result.stderr[-4000:]
    planned = jobs(result.stdout)
    rules = {job["rule"] for job in planned}
    train = [job for job in planned if job["rule"] == "train"]
    assert len(train) == 5
    for job in train:  # 2 nodes × 8 GPUs: one SLURM job of 16 srun tasks, one per GPU
        resources = job["resources"]
        assert (resources["nodes"], resources["tasks"], resources["gpu"]) == ("2", "16", "16"), resources
        assert resources["mpi"] == "srun" and resources["tasks_per_gpu"] == "1"
        assert "emcom.launch --tasks 16" in job["shell"] and "--gpus 16" in job["shell"]
    # every stage downstream of training is planned, each job with a time limit and memory for sbatch
    for rule in ("imagenet_dataset", "run_config", "training_report", "evaluate", "analyse", "table1", "table2",
                 "table3", "figure3", "figure4", "claims"):
        assert rule in rules, sorted(rules)
    for job in planned:
        if job["rule"] != "all":
            assert "runtime" in job["resources"] and "mem_mb" in job["resources"], job
    # evaluation, k-means and Table 3's jobs each get a GPU (config/imagenet.yaml: evaluation/linear_eval.gpus)
    gpu_rules = {"evaluate", "kmeans", "linear_features", "linear_eval"}
    assert gpu_rules <= rules
    for job in planned:
        if job["rule"] in gpu_rules:
            assert job["resources"].get("gpu") == "1", job
        elif job["rule"] != "train":
            assert "gpu" not in job["resources"], job


def test_missing_imagenet_folder_stops_before_any_job(tmp_path):
    (tmp_path / "work").mkdir()
    workdir = scratch_workdir(tmp_path / "work")
    (workdir / "profiles").symlink_to(REPO / "profiles")
    paths = fake_imagenet_paths(tmp_path / "imagenet")
    paths["imagenet"]["val"] = str(tmp_path / "no-such-folder")
    override = tmp_path / "paths.yaml"
    override.write_text(yaml.safe_dump(paths))
    result = plan(workdir, override)
    assert result.returncode != 0
    assert f"config key imagenet.val: folder not found: {tmp_path / 'no-such-folder'}" in result.stdout + result.stderr
    assert "Job stats" not in result.stdout + result.stderr
