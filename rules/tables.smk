# Tables 1-2, Figures 3, 4 and A.7 and the claims check. They read only the evaluation and analysis
# files (INTERFACES.md) and data/paper_results.yaml: `snakemake results/tables/table1.md` rebuilds
# that table from what it needs.


include: "functions/tables.smk"


PAPER_RESULTS = "data/paper_results.yaml"
# Test sets of the evaluation and analysis rules (config evaluation.test_sets, analysis.test_sets).
# noise: randn then Normalize (the authors' code); noise_raw: N(0,1) pixels (the paper's text).
TABLE1_TEST_SETS = config.get("evaluation", {}).get("test_sets", ["val", "ood", "noise", "noise_raw"])
TABLE2_TEST_SETS = config.get("analysis", {}).get("test_sets", ["val", "ood"])
REPORT = config["report"]
CLAIMS = config["claims"]


rule table1:
    """Table 1: game accuracy on val / OOD / both noises, beside the paper's values."""
    input:
        evaluations=evaluation_files(TABLE1_TEST_SETS),
        summaries=expand(rules.train.output.summary, variant=VARIANTS),
        paper=PAPER_RESULTS,
    output:
        markdown=f"{RESULTS}/tables/table1.md",
        csv=report(
            f"{RESULTS}/tables/table1.csv",
            caption="../workflow/report/table1.rst",
            category="Tables",
            labels={"what": "Table 1: game accuracy"},
        ),
        tex=f"{RESULTS}/tables/table1.tex",
    log:
        f"{LOGS}/table1/table1.log",
    conda:
        "../envs/emcom.yaml"
    script:
        "../workflow/scripts/table1.py"


rule table2:
    """Table 2: |P|, nMI and WNSim (with permutation nulls, NS) per protocol, beside the paper's values."""
    input:
        analyses=analysis_files(),
        evaluations=evaluation_files(["val"]),
        summaries=expand(rules.train.output.summary, variant=VARIANTS),
        paper=PAPER_RESULTS,
    output:
        markdown=f"{RESULTS}/tables/table2.md",
        csv=report(
            f"{RESULTS}/tables/table2.csv",
            caption="../workflow/report/table2.rst",
            category="Tables",
            labels={"what": "Table 2: protocol analysis"},
        ),
        tex=f"{RESULTS}/tables/table2.tex",
    log:
        f"{LOGS}/table2/table2.log",
    conda:
        "../envs/emcom.yaml"
    params:
        kmeans_paper_k=vocab_size(),
    script:
        "../workflow/scripts/table2.py"


rule figure3:
    """Figure 3: random val images of the figure model's 9 most frequent val symbols."""
    input:
        # functions, so that a config without the figure model fails only when a figure is asked for
        val_items=lambda wildcards: items_file(figure_model(), "val"),
        dataset=dataset_manifest(config["dataset"]),
    output:
        png=report(
            f"{RESULTS}/figures/figure3.png",
            caption="../workflow/report/figure3.rst",
            category="Figures",
            labels={"what": "Figure 3: val images per symbol"},
        ),
        pdf=f"{RESULTS}/figures/figure3.pdf",
    log:
        f"{LOGS}/figure3/figure3.log",
    conda:
        "../envs/emcom.yaml"
    params:
        model=lambda wildcards: figure_model(),
        report=REPORT,
    script:
        "../workflow/scripts/figure3.py"


rule figure4:
    """Figure 4: random OOD images that got the figure model's 3 most frequent val symbols."""
    input:
        val_items=lambda wildcards: items_file(figure_model(), "val"),
        ood_items=lambda wildcards: items_file(figure_model(), "ood"),
        dataset=dataset_manifest(config["dataset"]),
    output:
        png=report(
            f"{RESULTS}/figures/figure4.png",
            caption="../workflow/report/figure4.rst",
            category="Figures",
            labels={"what": "Figure 4: OOD images per symbol"},
        ),
        pdf=f"{RESULTS}/figures/figure4.pdf",
    log:
        f"{LOGS}/figure4/figure4.log",
    conda:
        "../envs/emcom.yaml"
    params:
        model=lambda wildcards: figure_model(),
        report=REPORT,
    script:
        "../workflow/scripts/figure4.py"


rule figure_a7:
    """Appendix A.7: symbol frequency against rank, one line per model (SimCLR_disc: argmax of h)."""
    input:
        item_files=evaluation_files(TABLE2_TEST_SETS, suffix="items.tsv.gz"),
    output:
        png=report(
            f"{RESULTS}/figures/figure_a7.png",
            caption="../workflow/report/figure_a7.rst",
            category="Figures",
            labels={"what": "Figure A.7: symbol frequency"},
        ),
        pdf=f"{RESULTS}/figures/figure_a7.pdf",
        csv=f"{RESULTS}/figures/symbol_frequency.csv",
    log:
        f"{LOGS}/figure_a7/figure_a7.log",
    conda:
        "../envs/emcom.yaml"
    params:
        kinds={v: variant_kind(v) for v in VARIANTS},
    script:
        "../workflow/scripts/figure_a7.py"


rule claims:
    """The paper's qualitative claims checked on this run: numbers, thresholds, verdicts."""
    input:
        evaluations=evaluation_files(TABLE1_TEST_SETS),
        analyses=analysis_files(),
        summaries=expand(rules.train.output.summary, variant=VARIANTS),
        paper=PAPER_RESULTS,
        table3=[f"{RESULTS}/tables/table3.csv"] if CLAIMS["table3"] else [],
    output:
        json=f"{RESULTS}/claims.json",
        markdown=report(
            f"{RESULTS}/claims.md",
            caption="../workflow/report/claims.rst",
            category="Claims",
            labels={"what": "the paper's claims, checked"},
        ),
    log:
        f"{LOGS}/claims/claims.log",
    conda:
        "../envs/emcom.yaml"
    params:
        settings={k: v for k, v in CLAIMS.items() if k != "table3"},
        kmeans_paper_k=vocab_size(),
    script:
        "../workflow/scripts/claims.py"
