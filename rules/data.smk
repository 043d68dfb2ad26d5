# Data: Debian packages -> WordNet and datasets in the one layout (emcom/data/folder.py):
#   <resources>/datasets/<name>/{<split>/<wnid>/<images>, classes.tsv, manifest.json}
# manifest.json is written last and is each dataset rule's declared output (dataset_manifest(name)).
# Builders stage the dataset beside its place and rename it there: a failed job leaves nothing half-built.
include: "functions/data.smk"


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
        f"{LOGS}/debian_package/{{package}}.log",
    wildcard_constraints:
        package="[a-z0-9][a-z0-9.+-]+",
    conda:
        "../envs/emcom.yaml"
    script:
        "../workflow/scripts/debian_package.py"


rule wordnet:
    """NLTK's WordNet 3.0 corpus folder, from Debian's wordnet-base and wordnet-sense-index."""
    input:
        debs=expand(f"{DEBS}/{{package}}.deb", package=WORDNET_PACKAGES),
    output:
        corpus=directory(WORDNET_CORPUS),
    log:
        f"{LOGS}/wordnet/wordnet.log",
    conda:
        "../envs/emcom.yaml"
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
    log:
        f"{LOGS}/stamps_dataset/stamps.log",
    benchmark:
        f"{LOGS}/stamps_dataset/stamps.benchmark.tsv"
    conda:
        "../envs/emcom.yaml"
    threads: 2
    params:
        config=config["stamps"],
    script:
        "../workflow/scripts/stamps_dataset.py"


rule fashion_mnist_dataset:
    """Fashion-MNIST (train 60k, val = the 10k test set) as PNGs, for linear evaluation."""
    input:
        deb=f"{DEBS}/dataset-fashion-mnist.deb",
    output:
        manifest=dataset_manifest("fashion_mnist"),
    log:
        f"{LOGS}/fashion_mnist_dataset/fashion_mnist.log",
    benchmark:
        f"{LOGS}/fashion_mnist_dataset/fashion_mnist.benchmark.tsv"
    conda:
        "../envs/emcom.yaml"
    threads: 2
    params:
        config=config["fashion_mnist"],
    script:
        "../workflow/scripts/fashion_mnist_dataset.py"


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
    log:
        f"{LOGS}/imagenet_dataset/imagenet.log",
    conda:
        "../envs/emcom.yaml"
    params:
        config=config["imagenet"],
        missing_report=f"{LOGS}/imagenet_dataset/missing_ood_images.txt",
    script:
        "../workflow/scripts/imagenet_dataset.py"
