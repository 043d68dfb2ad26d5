"""Start-up of a snakemake process on this workflow: the working tree against an earlier revision.

Every SLURM job starts snakemake twice (the job script and its srun step), and each parses the
Snakefile and everything it imports before the job's own work begins; `snakemake -n` is that
start-up plus planning. The revision is checked out with `git worktree` into a temporary folder and
run with its own code on PYTHONPATH; both sides are timed interleaved (AB AB ...), medians.

    python benchmarks/workflow_startup.py --against HEAD~1 --repeats 5

A SLURM client without a controller makes the SLURM plugin wait ~9 s at every start-up (it asks
`scontrol show config`): run with the controller up (scripts/local-slurm.sh up) or without slurm-client.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def _seconds(command: list[str], cwd: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed in {cwd}:\n{result.stderr[-2000:]}")
    return elapsed


def _imports_torch(tree: Path) -> bool:
    """Whether the emcom modules that the tree's Snakefile and rules import load torch."""
    sources = [tree / "Snakefile", *sorted((tree / "rules").rglob("*.smk"))]
    modules = sorted({m for path in sources for m in re.findall(r"^from (emcom[\w.]*) import", path.read_text(), re.M)})
    probe = f"import sys\nfor m in {modules!r}: __import__(m)\nprint('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)},
                            capture_output=True, text=True, check=True)
    return result.stdout.strip() == "True"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", default="HEAD", help="git revision to compare the working tree with")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--configfile", default="config/ci.yaml")
    args = parser.parse_args(argv)

    plan = [*SNAKEMAKE, "-n", "-q", "--forceall", "all", "--configfile", args.configfile]
    with tempfile.TemporaryDirectory(prefix="emcom-startup-") as scratch:
        old = Path(scratch) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(old), args.against], cwd=REPO, check=True)
        try:
            sides = {f"{args.against}": old, "working tree": REPO}
            times: dict[str, list[float]] = {name: [] for name in sides}
            for name, tree in sides.items():  # warm-up: bytecode caches, page cache
                _seconds(plan, tree)
            for _ in range(args.repeats):
                for name, tree in sides.items():
                    times[name].append(_seconds(plan, tree))
            torch_at_parse = {name: _imports_torch(tree) for name, tree in sides.items()}
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=REPO, check=False)
    base = statistics.median(times[args.against])
    print(f"snakemake -n --forceall all --configfile {args.configfile}: median of {args.repeats}, interleaved\n")
    print("| tree | seconds | ratio to " + args.against + " | torch imported at parse |")
    print("|---|---|---|---|")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"| {name} | {median:.2f} | {median / base:.2f} | {torch_at_parse[name]} |")


if __name__ == "__main__":
    main()
