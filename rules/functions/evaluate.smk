# Functions of rules/evaluate.smk (snakemake --lint: rule files hold rules, functions live here).


def evaluation_outputs():
    """Every evaluation summary and protocol analysis (rule all)."""
    return [
        *expand(f"{EVAL_DIR}/{{variant}}/{{test_set}}.json", variant=VARIANTS, test_set=EVALUATION["test_sets"]),
        *expand(f"{ANALYSIS_DIR}/{{protocol}}/{{test_set}}.json", protocol=list(EV_PROTOCOLS), test_set=ANALYSIS["test_sets"]),
    ]
