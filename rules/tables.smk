# Tables 1-2, Figures 3, 4 and A.7 and the claims check. They read only the evaluation and analysis
# files (INTERFACES.md) and data/paper_results.yaml: `snakemake results/tables/table1.md` rebuilds
# that table from what it needs.
PAPER_RESULTS = "data/paper_results.yaml"
# Test sets of the evaluation and analysis rules (config evaluation.test_sets, analysis.test_sets).
# noise: randn then Normalize (the authors' code); noise_raw: N(0,1) pixels (the paper's text).
TABLE1_TEST_SETS = config.get("evaluation", {}).get("test_sets", ["val", "ood", "noise", "noise_raw"])
TABLE2_TEST_SETS = config.get("analysis", {}).get("test_sets", ["val", "ood"])
REPORT = config["report"]
CLAIMS = config["claims"]


def variant_kind(variant):
    """'game' or 'simclr': the variant's model.kind, else the defaults', else emcom's default (game)."""
    overrides = config["training"]["variants"][variant].get("model", {})
    defaults = config["training"].get("defaults", {}).get("model", {})
    return overrides.get("kind", defaults.get("kind", "game"))


def vocab_size():
    """The games' vocabulary: SimCLR_kmeans with this k is the row compared with the paper's (k = |V|)."""
    return config["training"].get("defaults", {}).get("model", {}).get("vocab_size", 2048)


def report_protocols():
    """Table 2's rows, named as rules/evaluate.smk names them: every game variant, <simclr>_disc
    (argmax of h) and <simclr>_kmeans_k<k> for each k of analysis.kmeans_k."""
    games = [v for v in VARIANTS if variant_kind(v) == "game"]
    simclr = [v for v in VARIANTS if variant_kind(v) == "simclr"]
    ks = config.get("analysis", {}).get("kmeans_k", [])
    return [f"{v}_disc" for v in simclr] + [f"{v}_kmeans_k{k}" for v in simclr for k in ks] + games


def figure_model():
    """The Sender whose symbols Figures 3 and 4 show (config report.figure_model): a game variant."""
    model = REPORT["figure_model"]
    if model not in VARIANTS or variant_kind(model) != "game":
        raise ValueError(f"config report.figure_model = {model!r} is not a game variant of training.variants")
    return model


def evaluation_files(test_sets, suffix="json"):
    return expand(f"{RESULTS}/evaluation/{{variant}}/{{test_set}}.{suffix}", variant=VARIANTS, test_set=test_sets)


def analysis_files():
    return expand(f"{RESULTS}/analysis/{{protocol}}/{{test_set}}.json", protocol=report_protocols(),
                  test_set=TABLE2_TEST_SETS)


def items_file(variant, test_set):
    return f"{RESULTS}/evaluation/{variant}/{test_set}.items.tsv.gz"


def report_outputs():
    """Every table, figure and claims file (rule all)."""
    return [
        *expand(f"{RESULTS}/tables/table{{n}}.{{ext}}", n=(1, 2), ext=("md", "csv", "tex")),
        *expand(f"{RESULTS}/figures/{{name}}.{{ext}}", name=("figure3", "figure4", "figure_a7"), ext=("png", "pdf")),
        f"{RESULTS}/figures/symbol_frequency.csv",
        f"{RESULTS}/claims.md",
        f"{RESULTS}/claims.json",
    ]


rule table1:
    """Table 1: game accuracy on val / OOD / both noises, beside the paper's values."""
    input:
        evaluations=evaluation_files(TABLE1_TEST_SETS),
        summaries=expand(rules.train.output.summary, variant=VARIANTS),
        paper=PAPER_RESULTS,
    output:
        markdown=f"{RESULTS}/tables/table1.md",
        csv=f"{RESULTS}/tables/table1.csv",
        tex=f"{RESULTS}/tables/table1.tex",
    log:
        LOGS + "/table1/table1.log",
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
        csv=f"{RESULTS}/tables/table2.csv",
        tex=f"{RESULTS}/tables/table2.tex",
    params:
        kmeans_paper_k=vocab_size(),
    log:
        LOGS + "/table2/table2.log",
    script:
        "../workflow/scripts/table2.py"


rule figure3:
    """Figure 3: random val images of the figure model's 9 most frequent val symbols."""
    input:
        # functions, so that a config without the figure model fails only when a figure is asked for
        val_items=lambda wildcards: items_file(figure_model(), "val"),
        dataset=dataset_manifest(config["dataset"]),
    output:
        png=f"{RESULTS}/figures/figure3.png",
        pdf=f"{RESULTS}/figures/figure3.pdf",
    params:
        model=lambda wildcards: figure_model(),
        report=REPORT,
    log:
        LOGS + "/figure3/figure3.log",
    script:
        "../workflow/scripts/figure3.py"


rule figure4:
    """Figure 4: random OOD images that got the figure model's 3 most frequent val symbols."""
    input:
        val_items=lambda wildcards: items_file(figure_model(), "val"),
        ood_items=lambda wildcards: items_file(figure_model(), "ood"),
        dataset=dataset_manifest(config["dataset"]),
    output:
        png=f"{RESULTS}/figures/figure4.png",
        pdf=f"{RESULTS}/figures/figure4.pdf",
    params:
        model=lambda wildcards: figure_model(),
        report=REPORT,
    log:
        LOGS + "/figure4/figure4.log",
    script:
        "../workflow/scripts/figure4.py"


rule figure_a7:
    """Appendix A.7: symbol frequency against rank, one line per model (SimCLR_disc: argmax of h)."""
    input:
        item_files=evaluation_files(TABLE2_TEST_SETS, suffix="items.tsv.gz"),
    output:
        png=f"{RESULTS}/figures/figure_a7.png",
        pdf=f"{RESULTS}/figures/figure_a7.pdf",
        csv=f"{RESULTS}/figures/symbol_frequency.csv",
    params:
        kinds={v: variant_kind(v) for v in VARIANTS},
    log:
        LOGS + "/figure_a7/figure_a7.log",
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
        markdown=f"{RESULTS}/claims.md",
    params:
        settings={k: v for k, v in CLAIMS.items() if k != "table3"},
        kmeans_paper_k=vocab_size(),
    log:
        LOGS + "/claims/claims.log",
    script:
        "../workflow/scripts/claims.py"
