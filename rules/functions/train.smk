# Input functions and resources of rules/train.smk (lint: rule files hold rules only).
TRAIN_RESOURCES = config["training"]["resources"]


def train_command(wildcards, resources):
    """The program that trains one model: `training.launcher` + emcom.train if set, else emcom.launch
    with the job's resources (a profile's set-resources win over training.resources): `tasks` ranks
    under srun inside a SLURM job, under torchrun elsewhere."""
    if config["training"]["launcher"]:
        return f"{config['training']['launcher']} {PYTHON} -m emcom.train"
    gpus = resources.get("gpu", 0)
    return f"{PYTHON} -m emcom.launch --tasks {resources.tasks} --cpus-per-task {resources.cpus_per_task}" f" --gpus {gpus} emcom.train"


def train_resources():
    """One SLURM job per model: `nodes` nodes, `tasks` tasks started by srun (mpi), one task per GPU."""
    r = TRAIN_RESOURCES
    resources = {key: r[key] for key in ("nodes", "tasks", "cpus_per_task", "mem_mb", "runtime")}
    if r["gpus"]:
        resources.update(gpu=r["gpus"], tasks_per_gpu=1)
    if r["tasks"] > 1:
        # The plugin then runs the job script as is (no `srun -n1` wrapper) and emcom.launch calls srun.
        resources["mpi"] = "srun"
    return resources
