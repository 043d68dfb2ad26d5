# Functions of rules/appendix.smk (snakemake --lint: rule files hold rules, functions live here).
import dataclasses

from emcom.appendix import appendix_tables


def appendix_outputs():
    """Tables A.4-A.6, each only when config appendix: switches it on (rule all)."""
    return expand(f"{RESULTS}/tables/{{table}}.{{ext}}", table=appendix_tables(config["appendix"]), ext=("md", "csv"))


def analysis_protocol(variant):
    """The protocol Table 2 analyses for a variant: a game's symbols, or SimCLR_disc (argmax of h)."""
    return variant if variant_kind(variant) == "game" else f"{variant}_disc"


def swept_models():
    """Every model of Table A.6: each sweep's base and its swept variants."""
    return list(dict.fromkeys(name for sweep in SWEEP_VARIANTS for name in (sweep.base, sweep.name)))


def sweep_records():
    return [dataclasses.asdict(sweep) for sweep in SWEEP_VARIANTS]
