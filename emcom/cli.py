"""The ``emcom`` command line. Subcommands call one library function each."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback

from emcom.config import ConfigError
from emcom.data.folder import DatasetError
from emcom.errors import is_machine_error, user_message
from emcom.evaluation.commands import add_evaluation_commands
from emcom.evaluation.errors import EVALUATION_ERRORS
from emcom.io import OutputError

# Errors whose message says all a user needs (file, key, value): printed as one line, exit code 2
# (the traceback too with --traceback, as the workflow's jobs do, so that their log holds both).
# OSErrors about the machine (full disk, permissions, read-only) are user errors too (emcom.errors).
USER_ERRORS = (ConfigError, DatasetError, FileNotFoundError, FloatingPointError, OutputError, *EVALUATION_ERRORS)


def _train(args: argparse.Namespace) -> int:
    from emcom.config import load_config
    from emcom.training import train

    path = train(load_config(args.config), args.out)
    logging.getLogger("emcom").info("wrote %s", path)
    return 0


def _linear_eval(args: argparse.Namespace) -> int:
    from emcom.linear_eval.run import evaluate_from_workflow_config

    result = evaluate_from_workflow_config(args.model, args.config, args.dataset, args.out, args.random_init)
    print(f"{result['model']} on {result['dataset']}: {result['metric']} {result['value']:.2f}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="emcom", description=__doc__)
    parser.add_argument("--traceback", action="store_true",
                        help="on an error, print the full traceback before the one-line message (any position)")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train a game variant or SimCLR from a run config (YAML)")
    train.add_argument("config", help="run config YAML (sections model, data, optim, run)")
    train.add_argument("--out", required=True, help="output folder: model.pt, checkpoint.pt, metrics.jsonl")
    train.set_defaults(handler=_train)
    linear = commands.add_parser("linear-eval", help="Table 3 for one model × dataset: cache frozen features, train the "
                                 "linear head (or VOC07's SVMs), write a JSON")
    linear.add_argument("model", help="model.pt (games: the Sender's CNN); with --random-init only its architecture")
    linear.add_argument("--dataset", required=True, help="a key of linear_eval.datasets in --config")
    linear.add_argument("--config", default="config.yaml", help="workflow config holding linear_eval (default: config.yaml)")
    linear.add_argument("--out", required=True, help="result JSON; features are cached in <out>.features/")
    linear.add_argument("--random-init", type=int, metavar="SEED", help="evaluate the untrained architecture, seeded")
    linear.set_defaults(handler=_linear_eval)
    add_evaluation_commands(commands)  # evaluate, analyse, kmeans
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Accepted anywhere, so that `python -m emcom.train ... --traceback` (the train rule) takes it too.
    show_traceback = "--traceback" in argv
    args = build_parser().parse_args([a for a in argv if a != "--traceback"])
    # Under torchrun/srun every rank runs this: only rank 0 speaks at INFO, the others warn and fail.
    rank = int(os.environ.get("RANK", os.environ.get("SLURM_PROCID", "0")))
    logging.basicConfig(level=logging.INFO if rank == 0 else logging.WARNING, format="%(asctime)s %(name)s %(levelname)s: %(message)s",
                        stream=sys.stderr)
    try:
        return args.handler(args)
    except (*USER_ERRORS, OSError) as error:
        if isinstance(error, OSError) and not isinstance(error, USER_ERRORS) and not is_machine_error(error):
            raise  # a bug, not the machine: the traceback is the message
        if show_traceback:
            traceback.print_exc(file=sys.stderr)
        print(f"emcom {args.command}: error: {user_message(error)}", file=sys.stderr)
        return 2
