# Data: Debian packages -> WordNet and datasets in the one layout (emcom/data/folder.py):
#   <resources>/datasets/<name>/{<split>/<wnid>/<images>, classes.tsv, manifest.json}
# manifest.json is written last and is each dataset rule's declared output (dataset_manifest(name)).
# Builders stage the dataset beside its place and rename it there: a failed job leaves nothing half-built.
from snakemake.exceptions import WorkflowError

DEBS = f"{RESOURCES}/debs"
WORDNET_CORPUS = f"{config['wordnet']['nltk_data']}/corpora/wordnet"
WORDNET_PACKAGES = ["wordnet-base", "wordnet-sense-index"]


rule data:
    """Every dataset the embedded default needs (ImageNet is built only when config names it)."""
    input:
        dataset_manifest("stamps"),
        dataset_manifest("fashion_mnist"),


rule debian_package:
    """Download one .deb with apt-get (never installed); needs apt lists (`apt-get update`)."""
    output:
        deb=f"{DEBS}/{{package}}.deb",
    log:
        LOGS + "/debian_package/{package}.log",
    wildcard_constraints:
        package="[a-z0-9][a-z0-9.+-]+",
    script:
        "../workflow/scripts/debian_package.py"


rule wordnet:
    """NLTK's WordNet 3.0 corpus folder, from Debian's wordnet-base and wordnet-sense-index."""
    input:
        debs=expand(f"{DEBS}/{{package}}.deb", package=WORDNET_PACKAGES),
    output:
        corpus=directory(WORDNET_CORPUS),
    log:
        LOGS + "/wordnet/wordnet.log",
    script:
        "../workflow/scripts/wordnet_corpus.py"


rule stamps_dataset:
    """The embedded default: stamp cut-outs composited onto procedural backgrounds; train/val/ood."""
    input:
        table=config["stamps"]["table"],
        deb=f"{DEBS}/tuxpaint-stamps-default.deb",
        wordnet=rules.wordnet.output.corpus,
    output:
        manifest=dataset_manifest("stamps"),
    params:
        config=config["stamps"],
    log:
        LOGS + "/stamps_dataset/stamps.log",
    benchmark:
        LOGS + "/stamps_dataset/stamps.benchmark.tsv"
    threads: 2
    script:
        "../workflow/scripts/stamps_dataset.py"


rule fashion_mnist_dataset:
    """Fashion-MNIST (train 60k, val = the 10k test set) as PNGs, for linear evaluation."""
    input:
        deb=f"{DEBS}/dataset-fashion-mnist.deb",
    output:
        manifest=dataset_manifest("fashion_mnist"),
    params:
        config=config["fashion_mnist"],
    log:
        LOGS + "/fashion_mnist_dataset/fashion_mnist.log",
    benchmark:
        LOGS + "/fashion_mnist_dataset/fashion_mnist.benchmark.tsv"
    threads: 2
    script:
        "../workflow/scripts/fashion_mnist_dataset.py"


def check_imagenet_folders():
    """Full scale: stop before any job runs when an ImageNet folder is unset or absent (the builder
    checks their content when it runs; docs/data.md)."""
    for key in ("train", "val", "full"):
        folder = config["imagenet"][key]
        if not folder:
            raise WorkflowError(f"config key imagenet.{key} is null: set it to your ImageNet folder (docs/data.md)")
        if not os.path.isdir(folder):
            raise WorkflowError(f"config key imagenet.{key}: folder not found: {folder}")


if config["dataset"] == "imagenet":
    check_imagenet_folders()


rule imagenet_dataset:
    """Your ILSVRC-2012 (train/val symlinked, checked) and the paper's OOD set from the full ImageNet.

    Needs imagenet.train, imagenet.val and imagenet.full (docs/data.md). Missing OOD images stop
    the job; their list is written to the `missing_report` file named in the error.
    """
    input:
        ood_list=config["imagenet"]["ood_list"],
        wordnet=rules.wordnet.output.corpus,
    output:
        manifest=dataset_manifest("imagenet"),
    params:
        config=config["imagenet"],
        missing_report=LOGS + "/imagenet_dataset/missing_ood_images.txt",
    log:
        LOGS + "/imagenet_dataset/imagenet.log",
    script:
        "../workflow/scripts/imagenet_dataset.py"
