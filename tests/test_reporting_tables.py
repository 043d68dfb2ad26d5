"""Tables 1 and 2: every cell against values computed by hand from synthetic evaluation/analysis files."""

import math

import pandas as pd
import pytest
import yaml
from scipy.stats import beta

from emcom.reporting.inputs import ReportInputError, model_group
from emcom.reporting.paper import load_paper_results
from emcom.reporting.tables import table1_frame, table1_wide, table2_frame, table2_wide, write_table1, write_table2
from reporting_inputs import PAPER, VARIANTS, analysis, evaluation, paper_like_run, summary, write_json


@pytest.fixture(scope="module")
def paper():
    return load_paper_results(PAPER)


def cell(frame, key, name, test_set, column):
    row = frame[(frame[key] == name) & (frame["test_set"] == test_set)]
    assert len(row) == 1, (name, test_set)
    return row[column].iloc[0]


def test_paper_file_holds_the_papers_tables(paper):
    assert paper["table1"]["game_noaug_shared"] == {"val": 92.8, "ood": 92.7, "noise": 84.7}
    assert paper["table2"]["game_aug_noshared"]["ood"] == {"symbols_used": 1752, "nmi": 0.53, "wnsim": 0.32}
    assert paper["table2"]["game_noaug_shared"]["val"]["nmi"] is None  # printed NS
    assert paper["table3"]["simclr"]["voc07"] == 78.7


def test_table1_cells_paper_and_difference(paper):
    evaluations = [evaluation("game_aug_noshared", "val", 0.5), evaluation("game_aug_noshared", "noise_raw", 0.02),
                   evaluation("simclr", "ood", 0.25, batch_size=64)]
    table = table1_frame(evaluations, paper["table1"])
    assert cell(table, "model", "game_aug_noshared", "val", "accuracy") == pytest.approx(50.0)
    assert cell(table, "model", "game_aug_noshared", "val", "paper") == 81.5
    assert cell(table, "model", "game_aug_noshared", "val", "diff") == pytest.approx(50.0 - 81.5)
    # raw noise is compared with the paper's single blob column
    assert cell(table, "model", "game_aug_noshared", "noise_raw", "paper") == 0.8
    assert cell(table, "model", "game_aug_noshared", "noise_raw", "diff") == pytest.approx(2.0 - 0.8)
    assert cell(table, "model", "simclr", "ood", "chance") == pytest.approx(100 / 64)
    assert cell(table, "model", "simclr", "ood", "diff") == pytest.approx(25.0 - 47.4)
    # rows in the paper's order: SimCLR first
    assert list(table["model"]) == ["simclr", "game_aug_noshared", "game_aug_noshared"]
    wide = table1_wide(table)
    # 640 of 1,280 items: the exact (Clopper–Pearson) interval from beta quantiles
    low, high = beta.ppf(0.025, 640, 641), beta.ppf(0.975, 641, 640)
    assert cell(table, "model", "game_aug_noshared", "val", "ci95_low") == pytest.approx(100 * low)
    assert cell(table, "model", "game_aug_noshared", "val", "ci95_high") == pytest.approx(100 * high)
    assert f"{100 * low:.1f}, {100 * high:.1f}" == "47.2, 52.8"
    assert wide.loc["game +aug −shared", "val"] == "50.0 [47.2, 52.8]"
    assert wide.loc["game +aug −shared", "val: paper (Δ)"] == "81.5 (Δ -31.5)"
    assert wide.loc["SimCLR_disc", "val"] == "—"  # not evaluated: no number invented
    # columns in the paper's order although the first row (SimCLR_disc) has only OOD
    assert list(wide.columns) == ["val", "val: paper (Δ)", "OOD", "OOD: paper (Δ)", "noise (raw N(0,1))",
                                  "noise (raw N(0,1)): paper (Δ)"]


def test_table1_pools_seeds_as_mean_and_sd(paper):
    assert model_group("game_aug_noshared_seed222") == "game_aug_noshared"
    accuracies = {"game_aug_noshared": 0.70, "game_aug_noshared_seed222": 0.74, "game_aug_noshared_seed333": 0.78}
    table = table1_frame([evaluation(v, "val", a) for v, a in accuracies.items()], paper["table1"])
    assert len(table) == 1
    assert cell(table, "model", "game_aug_noshared", "val", "seeds") == 3
    assert cell(table, "model", "game_aug_noshared", "val", "accuracy") == pytest.approx(74.0)
    assert cell(table, "model", "game_aug_noshared", "val", "accuracy_sd") == pytest.approx(4.0)  # sample sd
    assert table1_wide(table).loc["game +aug −shared", "val"] == "74.0 ± 4.0 (3 seeds)"  # no interval: sd says more
    assert math.isnan(cell(table, "model", "game_aug_noshared", "val", "ci95_low"))


def test_table2_cells_ns_nulls_and_paper(paper):
    analyses = [analysis("game_aug_noshared", "val", 900, nmi=0.40, wnsim=0.20, nmi_null=0.30),
                analysis("game_noaug_shared", "ood", 1000, nmi=None, wnsim=None, nmi_null=0.35),
                analysis("simclr_kmeans_k1024", "val", 1000, nmi=0.61, wnsim=0.19),
                analysis("simclr_kmeans_k100", "val", 100, nmi=0.50, wnsim=0.10)]
    table = table2_frame(analyses, paper["table2"], kmeans_paper_k=1024)
    assert cell(table, "protocol", "game_aug_noshared", "val", "nmi_diff") == pytest.approx(0.40 - 0.58)
    assert cell(table, "protocol", "game_aug_noshared", "val", "wnsim_diff") == pytest.approx(0.20 - 0.18)
    assert cell(table, "protocol", "game_aug_noshared", "val", "symbols_used_paper") == 2042
    assert cell(table, "protocol", "game_aug_noshared", "val", "nmi_null_mean") == pytest.approx(0.30)
    # not significant: no difference with the paper is computed, and the paper's NS is recognised
    assert not cell(table, "protocol", "game_noaug_shared", "ood", "nmi_significant")
    assert math.isnan(cell(table, "protocol", "game_noaug_shared", "ood", "nmi_diff"))
    assert cell(table, "protocol", "game_noaug_shared", "ood", "nmi_paper_ns")
    # only the k-means run with the paper's k is compared with the paper's SimCLR_kmeans row
    assert cell(table, "protocol", "simclr_kmeans_k1024", "val", "nmi_paper") == 0.59
    assert math.isnan(cell(table, "protocol", "simclr_kmeans_k100", "val", "nmi_paper"))
    wide = table2_wide(table)
    assert wide.loc["game +aug −shared", "val nMI"] == "0.40 (null 0.30)"
    assert wide.loc["game +aug −shared", "val nMI: paper (Δ)"] == "0.58 (Δ -0.18)"
    assert wide.loc["game −aug +shared", "OOD nMI"] == "NS (0.35; null 0.35)"
    assert wide.loc["game −aug +shared", "OOD nMI: paper (Δ)"] == "NS"
    assert wide.loc["SimCLR_kmeans (k=100)", "val nMI: paper (Δ)"] == "—"


def test_table2_seed_group_is_significant_only_if_every_seed_is(paper):
    analyses = [analysis("game_aug_noshared", "val", 900, nmi=0.40, wnsim=0.2),
                analysis("game_aug_noshared_seed222", "val", 920, nmi=None, wnsim=0.3, nmi_null=0.30)]
    table = table2_frame(analyses, paper["table2"], kmeans_paper_k=2048)
    assert cell(table, "protocol", "game_aug_noshared", "val", "symbols_used") == pytest.approx(910)
    assert cell(table, "protocol", "game_aug_noshared", "val", "nmi") == pytest.approx(0.35)
    assert not cell(table, "protocol", "game_aug_noshared", "val", "nmi_significant")
    assert cell(table, "protocol", "game_aug_noshared", "val", "nmi_significant_seeds") == 1
    assert cell(table, "protocol", "game_aug_noshared", "val", "wnsim_significant")
    assert table2_wide(table).loc["game +aug −shared", "val nMI"].startswith("NS in 1/2 seeds")


def test_written_tables_name_the_run_in_their_caption(tmp_path):
    evaluations, analyses = paper_like_run(kmeans_k=1024)
    eval_paths = [write_json(tmp_path / "evaluation" / e["variant"] / f"{e['test_set']}.json", e) for e in evaluations]
    analysis_paths = [write_json(tmp_path / "analysis" / a["protocol"] / f"{a['test_set']}.json", a) for a in analyses]
    summary_paths = [write_json(tmp_path / "models" / v / "summary.json", summary(v)) for v in VARIANTS]
    out = {k: tmp_path / "tables" / f"table1.{k}" for k in ("md", "csv", "tex")}
    write_table1(eval_paths, summary_paths, PAPER, out["md"], out["csv"], out["tex"])
    markdown = out["md"].read_text()
    for fact in ("dataset stamps", "32 px", "backbone small_resnet", "4 epochs", "128 candidates per game",
                 "global batch 64", "lr 0.75", "ImageNet (ILSVRC-2012)", "noise_raw: raw"):
        assert fact in markdown, fact
    csv = pd.read_csv(out["csv"])
    assert len(csv) == 5 * 4 and (csv["diff"].abs() < 1e-9).all()  # the paper's numbers: differences 0
    assert "\\begin{tabular}" in out["tex"].read_text() and "game\\_aug" not in out["tex"].read_text()
    out2 = {k: tmp_path / "tables" / f"table2.{k}" for k in ("md", "csv", "tex")}
    write_table2(analysis_paths, eval_paths, summary_paths, PAPER, 1024, out2["md"], out2["csv"], out2["tex"])
    csv2 = pd.read_csv(out2["csv"])
    assert len(csv2) == 6 * 2
    assert (csv2["symbols_used"] == csv2["symbols_used_paper"]).all()
    assert "1000 permutations, alpha 0.01" in out2["md"].read_text()
    header = next(line for line in out2["md"].read_text().splitlines() if line.startswith("| protocol"))
    assert header.count(" | ") == 12 and "val \\|P\\|" in header  # 13 columns: |P| escaped in Markdown


def test_malformed_input_names_the_file(tmp_path):
    bad = write_json(tmp_path / "evaluation" / "simclr" / "val.json", {"variant": "simclr"})
    with pytest.raises(ReportInputError, match=r"val\.json.*accuracy"):
        write_table1([bad], [], PAPER, tmp_path / "a.md", tmp_path / "a.csv", tmp_path / "a.tex")
    paper = tmp_path / "paper.yaml"
    paper.write_text(yaml.safe_dump({"table1": {}}))
    with pytest.raises(ReportInputError, match="paper.yaml.*table2"):
        load_paper_results(paper)


def test_table2_reads_json_nulls_as_missing_values(paper):
    """WNSim has no value when no two items share a symbol: the analysis writes null, the cell shows —."""
    record = analysis("game_aug_shared", "val", 1280, nmi=0.9, wnsim=None)
    record["wnsim"].update(value=None, null_mean=None, p_value=None, significant=False)
    table = table2_frame([record], paper["table2"], kmeans_paper_k=2048)
    assert math.isnan(cell(table, "protocol", "game_aug_shared", "val", "wnsim"))
    assert table2_wide(table).loc["game +aug +shared", "val WNSim"] == "NS (—; null —)"
