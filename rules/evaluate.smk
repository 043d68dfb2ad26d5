# Evaluation and protocol analysis (Tables 1 and 2; emcom/evaluation/, emcom/analysis/):
#   evaluate   one model x one test set   -> <results>/evaluation/<variant>/<test_set>.{items.tsv.gz,json}
#              (evaluation.test_sets; with appendix.test_time_augmentation also val_aug, ood_aug)
#   kmeans     one SimCLR model x one k    -> <results>/kmeans/<variant>_k<k>/{fit.json,<test_set>.items.tsv.gz}
#   class_similarity  once per dataset     -> <results>/analysis/class_similarity.tsv.gz (WordNet, cached)
#   analyse    one protocol x one test set -> <results>/analysis/<protocol>/<test_set>.json
# File formats: INTERFACES.md. Protocols: each game variant (its symbols), <simclr>_disc (SimCLR's
# argmax of h, the symbol_h column) and <simclr>_kmeans_k<k> for each k of analysis.kmeans_k.


include: "functions/evaluate.smk"


from emcom.appendix import evaluation_test_sets

EVALUATION = config["evaluation"]
ANALYSIS = config["analysis"]
EVAL_DIR = f"{RESULTS}/evaluation"
KMEANS_DIR = f"{RESULTS}/kmeans"
ANALYSIS_DIR = f"{RESULTS}/analysis"
# evaluation.test_sets, plus what config appendix: switches on (val_aug, ood_aug; val and ood for its tables)
EV_TEST_SETS = evaluation_test_sets(EVALUATION["test_sets"], config["appendix"])


EV_GAMES = [v for v in VARIANTS if variant_kind(v) == "game"]
EV_SIMCLR = [v for v in VARIANTS if variant_kind(v) == "simclr"]
EV_PROTOCOLS = {  # protocol -> (per-item file pattern with {test_set}, symbol column)
    **{v: (f"{EVAL_DIR}/{v}/{{test_set}}.items.tsv.gz", "symbol") for v in EV_GAMES},
    **{f"{v}_disc": (f"{EVAL_DIR}/{v}/{{test_set}}.items.tsv.gz", "symbol_h") for v in EV_SIMCLR},
    **{f"{v}_kmeans_k{k}": (f"{KMEANS_DIR}/{v}_k{k}/{{test_set}}.items.tsv.gz", "symbol") for v in EV_SIMCLR for k in ANALYSIS["kmeans_k"]},
}


rule evaluate:
    """One model plays the game on one test set (eval mode, one-hot messages, seeded batches, drop_last)."""
    input:
        model=f"{RESULTS}/models/{{variant}}/model.pt",
        dataset=dataset_manifest(config["dataset"]),
    output:
        per_item=f"{EVAL_DIR}/{{variant}}/{{test_set}}.items.tsv.gz",
        summary=f"{EVAL_DIR}/{{variant}}/{{test_set}}.json",
    log:
        f"{LOGS}/evaluate/{{variant}}.{{test_set}}.log",
    wildcard_constraints:
        test_set="|".join(EV_TEST_SETS),
    conda:
        "../envs/emcom.yaml"
    threads: EVALUATION["threads"]
    resources:
        **gpu_resources(EVALUATION["gpus"]),
    params:
        dataset_root=lambda wildcards, input: os.path.dirname(input.dataset),  # = <datasets>/<name>
        evaluation=EVALUATION,
        noise=config["noise"],
    script:
        "../workflow/scripts/evaluate.py"


rule kmeans:
    """SimCLR_kmeans: k-means on h of a seeded share of train; every val/ood image gets its centroid."""
    input:
        model=f"{RESULTS}/models/{{variant}}/model.pt",
        dataset=dataset_manifest(config["dataset"]),
    output:
        fit=f"{KMEANS_DIR}/{{variant}}_k{{k}}/fit.json",
        per_item=expand(f"{KMEANS_DIR}/{{{{variant}}}}_k{{{{k}}}}/{{test_set}}.items.tsv.gz", test_set=ANALYSIS["test_sets"]),
    log:
        f"{LOGS}/kmeans/{{variant}}_k{{k}}.log",
    benchmark:
        f"{LOGS}/kmeans/{{variant}}_k{{k}}.benchmark.tsv"
    wildcard_constraints:
        variant="|".join(EV_SIMCLR) or "(?!)",
        k=r"\d+",
    conda:
        "../envs/emcom.yaml"
    threads: EVALUATION["threads"]
    resources:
        **gpu_resources(EVALUATION["gpus"]),
    params:
        dataset_root=lambda wildcards, input: os.path.dirname(input.dataset),  # = <datasets>/<name>
        analysis=ANALYSIS,
        evaluation=EVALUATION,
        out_dir=lambda wildcards, output: os.path.dirname(output.fit),
    script:
        "../workflow/scripts/kmeans.py"


rule class_similarity:
    """WordNet path similarity of every pair of the dataset's classes, computed once (WNSim's cache)."""
    input:
        dataset=dataset_manifest(config["dataset"]),
        wordnet=rules.wordnet.output.corpus,
    output:
        table=f"{ANALYSIS_DIR}/class_similarity.tsv.gz",
    log:
        f"{LOGS}/class_similarity/class_similarity.log",
    conda:
        "../envs/emcom.yaml"
    params:
        dataset_root=lambda wildcards, input: os.path.dirname(input.dataset),  # = <datasets>/<name>
        nltk_data=lambda wildcards, input: os.path.dirname(os.path.dirname(input.wordnet)),  # wordnet.nltk_data
    script:
        "../workflow/scripts/class_similarity.py"


rule analyse:
    """|P|, nMI and WNSim of one protocol on one test set, each with its permutation test."""
    input:
        per_item=lambda wildcards: EV_PROTOCOLS[wildcards.protocol][0].format(test_set=wildcards.test_set),
        similarity=rules.class_similarity.output.table,
    output:
        summary=f"{ANALYSIS_DIR}/{{protocol}}/{{test_set}}.json",
    log:
        f"{LOGS}/analyse/{{protocol}}.{{test_set}}.log",
    wildcard_constraints:
        protocol="|".join(EV_PROTOCOLS),
        test_set="|".join(ANALYSIS["test_sets"]),
    conda:
        "../envs/emcom.yaml"
    threads: ANALYSIS["threads"]
    params:
        column=lambda wildcards: EV_PROTOCOLS[wildcards.protocol][1],
        analysis=ANALYSIS,
    script:
        "../workflow/scripts/analyse.py"
