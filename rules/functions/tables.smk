# Functions of rules/tables.smk (snakemake --lint: rule files hold rules, functions live here).


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
    return expand(f"{RESULTS}/analysis/{{protocol}}/{{test_set}}.json", protocol=report_protocols(), test_set=TABLE2_TEST_SETS)


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
