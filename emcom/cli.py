"""The ``emcom`` command line. Subcommands call one library function each."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from emcom.config import ConfigError
from emcom.data.folder import DatasetError
from emcom.evaluation.commands import add_evaluation_commands
from emcom.evaluation.errors import EVALUATION_ERRORS

# Errors whose message says all a user needs (file, key, value): printed without a traceback.
USER_ERRORS = (ConfigError, DatasetError, FileNotFoundError, FloatingPointError, *EVALUATION_ERRORS)


def _train(args: argparse.Namespace) -> int:
    from emcom.config import load_config
    from emcom.training import train

    path = train(load_config(args.config), args.out)
    logging.getLogger("emcom").info("wrote %s", path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="emcom", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train a game variant or SimCLR from a run config (YAML)")
    train.add_argument("config", help="run config YAML (sections model, data, optim, run)")
    train.add_argument("--out", required=True, help="output folder: model.pt, checkpoint.pt, metrics.jsonl")
    train.set_defaults(handler=_train)
    add_evaluation_commands(commands)  # evaluate, analyse, kmeans
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Under torchrun/srun every rank runs this: only rank 0 speaks at INFO, the others warn and fail.
    rank = int(os.environ.get("RANK", os.environ.get("SLURM_PROCID", "0")))
    logging.basicConfig(level=logging.INFO if rank == 0 else logging.WARNING, format="%(asctime)s %(name)s %(levelname)s: %(message)s",
                        stream=sys.stderr)
    try:
        return args.handler(args)
    except USER_ERRORS as error:
        print(f"emcom {args.command}: error: {error}", file=sys.stderr)
        return 2
