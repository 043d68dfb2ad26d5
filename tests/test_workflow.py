"""The whole DAG, as CI runs it: `snakemake --cores 2 --configfile config/ci.yaml` in a scratch folder."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOW_FILES = ("Snakefile", "rules", "workflow", "config.yaml", "config", "data")


def scratch_workdir(tmp_path: Path) -> Path:
    """A working folder that sees the repo's workflow files and shares its .deb download cache."""
    for name in WORKFLOW_FILES:
        (tmp_path / name).symlink_to(REPO / name)
    debs = REPO / "resources" / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    (tmp_path / "resources").mkdir()
    (tmp_path / "resources" / "debs").symlink_to(debs)
    return tmp_path


def check_stamps_manifest(root: Path) -> None:
    """The built stamps dataset has the counts config/ci.yaml asks for, on disk and in its manifest:
    per-stamp composites × the stamps of data/stamps.tsv on each side of the OOD split."""
    ci = yaml.safe_load((REPO / "config" / "ci.yaml").read_text())["stamps"]
    manifest = json.loads((root / "manifest.json").read_text())
    for key in ("train_per_stamp", "val_per_stamp", "ood_per_stamp"):
        assert manifest["config"][key] == ci[key], key
    table = pd.read_csv(REPO / manifest["config"]["table"], sep="\t", dtype=str)
    ood = set(manifest["ood_wnids"])
    stamps_in = table["wnid"].isin(ood)
    in_distribution = set(table["wnid"]) - ood
    assert 0 < len(ood) <= round(manifest["config"]["ood_fraction"] * table["wnid"].nunique())
    expected = {
        "train": {"classes": len(in_distribution), "images": ci["train_per_stamp"] * int((~stamps_in).sum())},
        "val": {"classes": len(in_distribution), "images": ci["val_per_stamp"] * int((~stamps_in).sum())},
        "ood": {"classes": len(ood), "images": ci["ood_per_stamp"] * int(stamps_in.sum())},
    }
    assert manifest["splits"] == expected
    for split, counts in expected.items():  # the files agree with the manifest
        folders = sorted(p.name for p in (root / split).iterdir())
        assert folders == sorted(ood if split == "ood" else in_distribution), split
        assert sum(1 for _ in (root / split).glob("*/*.png")) == counts["images"], split


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", "config/ci.yaml", *args]
    return subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=1500,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})


def test_workflow_lints_and_plans(tmp_path):
    workdir = scratch_workdir(tmp_path)
    plan = snakemake(workdir, "--dry-run", "--quiet", "rules")
    assert plan.returncode == 0, plan.stderr[-3000:]
    for rule in ("train", "run_config", "stamps_dataset", "wordnet"):
        assert rule in plan.stdout, plan.stdout


def check_ci_dag_outputs(workdir: Path, configs: tuple[str, ...] = ("config/ci.yaml",)) -> None:
    """What the CI DAG (config/ci.yaml) must have made in `workdir`, whichever executor ran it: the five
    models (2 epochs of 3 steps), their logs, the training table and curves, the stamps dataset; and a
    dry run with the same `configs` finds nothing left to do."""
    models = workdir / "results" / "models"
    variants = sorted(p.name for p in models.iterdir() if (p / "model.pt").is_file())
    assert variants == ["game_aug_noshared", "game_aug_shared", "game_noaug_noshared", "game_noaug_shared", "simclr"]
    for variant in variants:
        summary = json.loads((models / variant / "summary.json").read_text())
        assert summary["epochs"] == 2 and summary["final"]["steps"] == 3
        assert (workdir / "logs" / "train" / f"{variant}.log").is_file()
    table = (workdir / "results" / "training" / "training.csv").read_text().splitlines()
    assert len(table) == 1 + len(variants) and table[0].startswith("variant,kind,shared,augment")
    assert (workdir / "results" / "training" / "training_curves.png").stat().st_size > 10_000
    check_stamps_manifest(workdir / "resources" / "datasets" / "stamps")
    # a second run has nothing left to do
    again = snakemake(workdir, "--dry-run", "--quiet", "--configfile", *configs)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr, again.stdout


@pytest.mark.slow
@pytest.mark.debian
@pytest.mark.skipif(os.environ.get("EMCOM_SLURM_TESTS") == "1",
                    reason="the same DAG runs through SLURM in tests/test_slurm.py, with the same checks")
def test_embedded_default_dag_runs_end_to_end(tmp_path):
    workdir = scratch_workdir(tmp_path)
    run = snakemake(workdir)
    assert run.returncode == 0, run.stderr[-5000:]
    check_ci_dag_outputs(workdir)
