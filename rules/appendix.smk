# The paper's appendix experiments, each switched on in config appendix: (emcom/appendix.py), all off
# by default; rule all asks for a table only when its switch is on.
#   evaluate_candidates  one model × N candidates × val/ood -> <results>/evaluation/<variant>/candidates<N>/<test_set>.{items.tsv.gz,json}
#   table_a4  A.4: val/OOD with and without test-time augmentation (val_aug, ood_aug: rule evaluate)
#   table_a5  A.5 at test time: accuracy against the number of candidates
#   table_a6  A.5 at training time and A.6: the sweeps' variants (<variant>_cand<N>, _vocab<V>, trained
#             and analysed as ordinary variants: rules/common.smk) beside their base


include: "functions/appendix.smk"


from emcom.appendix import CANDIDATE_TEST_SETS
from emcom.evaluation.test_sets import AUGMENTED_SPLITS, AUGMENTED_SUFFIX

APPENDIX = config["appendix"]
A4_TEST_SETS = [t for split in AUGMENTED_SPLITS for t in (split, f"{split}{AUGMENTED_SUFFIX}")]


rule evaluate_candidates:
    """One model plays val or ood with N candidates per game (chance 1/N): rule evaluate's job at batch N."""
    input:
        model=rules.train.output.model,
        dataset=dataset_manifest(config["dataset"]),
    output:
        per_item=f"{EVAL_DIR}/{{variant}}/candidates{{candidates}}/{{test_set}}.items.tsv.gz",
        summary=f"{EVAL_DIR}/{{variant}}/candidates{{candidates}}/{{test_set}}.json",
    log:
        f"{LOGS}/evaluate_candidates/{{variant}}.candidates{{candidates}}.{{test_set}}.log",
    wildcard_constraints:
        candidates=r"\d+",
        test_set="|".join(CANDIDATE_TEST_SETS),
    conda:
        "../envs/emcom.yaml"
    threads: EVALUATION["threads"]
    resources:
        **gpu_resources(EVALUATION["gpus"]),
    params:
        dataset_root=lambda wildcards, input: os.path.dirname(input.dataset),  # = <datasets>/<name>
        evaluation=lambda wildcards: {**EVALUATION, "batch_size": int(wildcards.candidates)},
        noise=config["noise"],
    script:
        "../workflow/scripts/evaluate.py"


rule table_a4:
    """Table A.4: accuracy on val and OOD, plain and with test-time augmentation (our numbers only)."""
    input:
        evaluations=expand(rules.evaluate.output.summary, variant=VARIANTS, test_set=A4_TEST_SETS),
    output:
        markdown=f"{RESULTS}/tables/table_a4.md",
        csv=report(
            f"{RESULTS}/tables/table_a4.csv",
            caption="../workflow/report/table_a4.rst",
            category="Appendix tables",
            labels={"what": "Table A.4: test-time augmentation"},
        ),
    log:
        f"{LOGS}/table_a4/table_a4.log",
    conda:
        "../envs/emcom.yaml"
    script:
        "../workflow/scripts/table_a4.py"


rule table_a5:
    """Table A.5: accuracy on val and OOD with each appendix.test_candidates count (our numbers only)."""
    input:
        candidates=expand(
            rules.evaluate_candidates.output.summary,
            variant=VARIANTS,
            candidates=APPENDIX["test_candidates"],
            test_set=CANDIDATE_TEST_SETS,
        ),
        evaluations=expand(rules.evaluate.output.summary, variant=VARIANTS, test_set=CANDIDATE_TEST_SETS),
    output:
        markdown=f"{RESULTS}/tables/table_a5.md",
        csv=report(
            f"{RESULTS}/tables/table_a5.csv",
            caption="../workflow/report/table_a5.rst",
            category="Appendix tables",
            labels={"what": "Table A.5: candidates at test time"},
        ),
    log:
        f"{LOGS}/table_a5/table_a5.log",
    conda:
        "../envs/emcom.yaml"
    script:
        "../workflow/scripts/table_a5.py"


rule table_a6:
    """Table A.6: the vocabulary-size and training-batch sweeps beside their base (our numbers only)."""
    input:
        evaluations=expand(rules.evaluate.output.summary, variant=swept_models(), test_set=("val", "ood")),
        analyses=[f"{ANALYSIS_DIR}/{analysis_protocol(v)}/val.json" for v in swept_models()],
    output:
        markdown=f"{RESULTS}/tables/table_a6.md",
        csv=report(
            f"{RESULTS}/tables/table_a6.csv",
            caption="../workflow/report/table_a6.rst",
            category="Appendix tables",
            labels={"what": "Table A.6: vocabulary size and training candidates"},
        ),
    log:
        f"{LOGS}/table_a6/table_a6.log",
    conda:
        "../envs/emcom.yaml"
    params:
        sweeps=sweep_records(),
        protocols={v: analysis_protocol(v) for v in swept_models()},
    script:
        "../workflow/scripts/table_a6.py"
