"""``python -m emcom.launch --tasks N [--cpus-per-task C] [--gpus G] MODULE ARGS...``: run a training
module as N processes, one per GPU (or N CPU processes with gloo).

- inside a SLURM job (``SLURM_JOB_ID`` is set; the snakemake SLURM profile submits the train rule as
  one job of N tasks): ``srun`` starts one task per rank on every allocated node; ranks read
  SLURM_PROCID/NTASKS/LOCALID and meet at the step's first host (:mod:`emcom.distributed`).
- elsewhere: ``torch.distributed.run`` (torchrun) with N processes on this machine.
- N = 1: the module runs as one plain process.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping


def launch_command(module: str, args: list[str], tasks: int, cpus_per_task: int = 0, gpus: int = 0,
                   env: Mapping[str, str] | None = None, python: str = sys.executable) -> list[str]:
    """The command that runs ``python -m module args`` as ``tasks`` processes (see module doc)."""
    if tasks < 1:
        raise ValueError(f"tasks must be >= 1, got {tasks}")
    if gpus and gpus != tasks:
        raise ValueError(f"one process per GPU: tasks={tasks} but gpus={gpus}")
    env = os.environ if env is None else env
    program = [python, "-m", module, *args]
    if tasks == 1:
        return program
    if env.get("SLURM_JOB_ID"):
        # The job script's environment has lost the allocation's SLURM_CPUS_*/GPUS_* (the plugin strips
        # them), and srun does not inherit --cpus-per-task since SLURM 22.05: state the step fully.
        step = ["srun", f"--ntasks={tasks}", "--kill-on-bad-exit=1"]
        if cpus_per_task:
            step.append(f"--cpus-per-task={cpus_per_task}")
        if gpus:
            # Every task sees the node's GPUs and picks LOCALID's (NCCL's peer-to-peer needs them visible).
            step += ["--gpus-per-task=1", "--gpu-bind=none"]
        return [*step, *program]
    return [python, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={tasks}", "-m", module, *args]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emcom.launch", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=1, help="processes (ranks), one per GPU when --gpus > 0")
    parser.add_argument("--cpus-per-task", type=int, default=0, help="CPUs of each rank under SLURM (0: SLURM's default)")
    parser.add_argument("--gpus", type=int, default=0, help="GPUs in total (0: CPU processes with gloo)")
    parser.add_argument("module", help="the module to run, e.g. emcom.train")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="its arguments")
    options = parser.parse_args(argv)
    try:
        command = launch_command(options.module, options.args, options.tasks, options.cpus_per_task, options.gpus)
    except ValueError as error:
        parser.error(str(error))
    print("emcom.launch:", " ".join(command), file=sys.stderr, flush=True)
    os.execvp(command[0], command)
    return 0  # not reached: exec replaces this process


if __name__ == "__main__":
    raise SystemExit(main())
