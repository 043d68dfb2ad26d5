"""rules/tables.smk on synthetic evaluation/analysis files: each target rebuilds exactly itself."""

import json

import numpy as np
import pandas as pd
import pytest

from reporting_inputs import VARIANTS, paper_like_run, summary, write_json
from test_reporting_figures import dataset, items_file
from test_workflow import scratch_workdir, snakemake

REPORT_RULES = ("table1", "table2", "figure3", "figure4", "figure_a7", "claims")


def synthetic_results(workdir):
    """The files the evaluation/analysis/training rules write (INTERFACES.md), with the paper's numbers."""
    results = workdir / "results"
    evaluations, analyses = paper_like_run(kmeans_k=1024)
    for e in evaluations:
        write_json(results / "evaluation" / e["variant"] / f"{e['test_set']}.json", e)
    for a in analyses:
        write_json(results / "analysis" / a["protocol"] / f"{a['test_set']}.json", a)
    for variant in VARIANTS:
        write_json(results / "models" / variant / "summary.json", summary(variant))
    root = workdir / "resources" / "datasets" / "stamps"
    splits = {"val": dataset(root, "val"), "ood": dataset(root, "ood", per_class=2)}
    for variant in VARIANTS:
        for test_set, rows in splits.items():
            path = items_file(results / "evaluation" / variant / f"{test_set}.items.tsv.gz", rows,
                              np.arange(len(rows)) % 3)
            if variant == "simclr":
                table = pd.read_csv(path, sep="\t")
                table["symbol_h"] = table["symbol"]
                table.to_csv(path, sep="\t", index=False, compression="gzip")
    (root / "manifest.json").write_text("{}")


def run(workdir, *targets):
    # --allowed-rules: the synthetic inputs stand in for the evaluation and training rules' outputs
    # ... and no Table 3 (its rules are not among the allowed ones): the claims skip it
    (workdir / "kmeans_k.yaml").write_text("analysis:\n  kmeans_k: [1024]\nclaims:\n  table3: false\n")
    return snakemake(workdir, "config/ci.yaml", "kmeans_k.yaml", "--rerun-triggers", "mtime",
                     "--allowed-rules", *REPORT_RULES, "--", *targets)


@pytest.mark.slow
def test_one_table_target_builds_that_table_only(tmp_path):
    workdir = scratch_workdir(tmp_path)
    synthetic_results(workdir)
    result = run(workdir, "results/tables/table1.md")
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in (workdir / "results" / "tables").iterdir()) == ["table1.csv", "table1.md", "table1.tex"]
    assert not (workdir / "results" / "figures").exists() and not (workdir / "results" / "claims.md").exists()
    assert (workdir / "logs" / "table1" / "table1.log").is_file()

    result = run(workdir, "results/tables/table2.md", "results/claims.json", "results/figures/figure_a7.png")
    assert result.returncode == 0, result.stderr[-3000:]
    table2 = pd.read_csv(workdir / "results" / "tables" / "table2.csv")
    assert "simclr_kmeans_k1024" in set(table2["protocol"])
    claims = json.loads((workdir / "results" / "claims.json").read_text())
    # the synthetic run carries the paper's numbers: every claim holds, none is left untested
    assert {c["verdict"] for c in claims["claims"]} == {"holds"}
