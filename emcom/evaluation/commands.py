"""``emcom evaluate``, ``emcom analyse`` and ``emcom kmeans``: argument parsing for the CLI (emcom/cli.py).

Each handler calls one library function; the heavy imports happen inside the handler.
"""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger("emcom")


def _evaluate(args: argparse.Namespace) -> int:
    from emcom.evaluation.evaluate import evaluate_model

    noise = {"batches": args.noise_batches, "batch_size": args.noise_batch_size, "seed": args.noise_seed}
    summary = evaluate_model(args.model, args.test_set, args.out, args.dataset, args.batch_size, args.seed, noise,
                             args.num_workers, args.device, args.variant)
    log.info("wrote %s/%s.json: accuracy %.4f", args.out, args.test_set, summary["accuracy"])
    return 0


def _analyse(args: argparse.Namespace) -> int:
    from emcom.analysis import analyse_protocol

    analyse_protocol(args.items, args.similarity, args.out, args.column, args.protocol, args.test_set,
                     args.permutations, args.alpha, args.seed)
    log.info("wrote %s", args.out)
    return 0


def _kmeans(args: argparse.Namespace) -> int:
    from emcom.evaluation.kmeans import run_kmeans

    run_kmeans(args.model, args.k, args.out, args.dataset, args.fraction, args.seed, args.test_sets,
               args.batch_size, args.num_workers, args.device)
    log.info("wrote %s/fit.json", args.out)
    return 0


def add_evaluation_commands(commands) -> None:
    """Register the three subcommands on ``commands`` (an argparse subparsers object)."""
    evaluate = commands.add_parser("evaluate", help="play the game with a trained model on one test set (Table 1)")
    evaluate.add_argument("model", help="model.pt written by `emcom train`")
    evaluate.add_argument("test_set", help="a dataset split (val, ood) or noise (normalised) or noise_raw")
    evaluate.add_argument("--out", required=True, help="folder for <test_set>.items.tsv.gz and <test_set>.json")
    evaluate.add_argument("--dataset", help="dataset root (default: the one the model was trained on)")
    evaluate.add_argument("--batch-size", type=int, help="candidates per game (default: the model's training batch)")
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the random play order")
    evaluate.add_argument("--noise-batches", type=int, default=384, help="noise test sets: batches of items")
    evaluate.add_argument("--noise-batch-size", type=int, default=128, help="noise test sets: items per batch")
    evaluate.add_argument("--noise-seed", type=int, default=0, help="noise item i is generated from (seed, i)")
    evaluate.add_argument("--num-workers", type=int, default=0, help="image-loading processes")
    evaluate.add_argument("--device", help="cpu, cuda, ... (default: cuda when available)")
    evaluate.add_argument("--variant", help="name written in the summary (default: the model's folder name)")
    evaluate.set_defaults(handler=_evaluate)

    analyse = commands.add_parser("analyse", help="|P|, nMI and WNSim of a per-item file with permutation tests (Table 2)")
    analyse.add_argument("items", help="per-item file (<test_set>.items.tsv.gz)")
    analyse.add_argument("--similarity", required=True, help="class similarity table (class_similarity.tsv.gz)")
    analyse.add_argument("--out", required=True, help="output JSON")
    analyse.add_argument("--column", default="symbol", help="symbol column (symbol_h: SimCLR's argmax of h)")
    analyse.add_argument("--protocol", help="protocol name written in the JSON (default: the file's folder)")
    analyse.add_argument("--test-set", help="test set name written in the JSON (default: from the file name)")
    analyse.add_argument("--permutations", type=int, default=1000)
    analyse.add_argument("--alpha", type=float, default=0.01)
    analyse.add_argument("--seed", type=int, default=0)
    analyse.set_defaults(handler=_analyse)

    kmeans = commands.add_parser("kmeans", help="k-means on SimCLR's h, test images assigned to centroids (Table 2)")
    kmeans.add_argument("model", help="a SimCLR model.pt")
    kmeans.add_argument("--k", type=int, required=True, help="number of centroids")
    kmeans.add_argument("--out", required=True, help="folder for fit.json and <test_set>.items.tsv.gz")
    kmeans.add_argument("--dataset", help="dataset root (default: the one the model was trained on)")
    kmeans.add_argument("--fraction", type=float, default=0.1, help="share of the train split the centroids are fitted on")
    kmeans.add_argument("--seed", type=int, default=0)
    kmeans.add_argument("--test-sets", nargs="+", default=["val", "ood"])
    kmeans.add_argument("--batch-size", type=int, default=256, help="images per forward pass")
    kmeans.add_argument("--num-workers", type=int, default=0)
    kmeans.add_argument("--device")
    kmeans.set_defaults(handler=_kmeans)
