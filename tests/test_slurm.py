"""The workflow through a real SLURM (scripts/local-slurm.sh up; .ci/run starts it): profiles/slurm-ci
(same executor settings as profiles/slurm) on the CI config, every model one job of 2 srun tasks with
2 fake GPUs; a rule that fails makes its run fail; an impossible request stops at submission.

Opt-in (each model trains as 2 processes: minutes): EMCOM_SLURM_TESTS=1, as .ci/run sets it after
`scripts/local-slurm.sh up`; then a SLURM that does not answer is a failure, not a skip.
"""

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from test_workflow import REPO, check_ci_dag_outputs, scratch_workdir

SNAKEMAKE = [sys.executable, "-m", "snakemake"]
CI_CONFIGS = ["config/ci.yaml", "config/ci-slurm.yaml"]
# CI runs the whole DAG; on a busy machine `EMCOM_SLURM_TARGET=results/training/training.md` stops
# after the data, the five trainings and the training report.
TARGET = os.environ.get("EMCOM_SLURM_TARGET", "all")

if os.environ.get("EMCOM_SLURM_TESTS") != "1":
    pytest.skip("SLURM tests are opt-in: scripts/local-slurm.sh up && EMCOM_SLURM_TESTS=1 pytest tests/test_slurm.py",
                allow_module_level=True)
ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True)
if ping.returncode != 0 or "UP" not in ping.stdout:
    raise RuntimeError(f"EMCOM_SLURM_TESTS=1 but no SLURM controller answers: {ping.stdout}{ping.stderr}")

pytestmark = [pytest.mark.slow, pytest.mark.slurm]


def run(workdir: Path, *args: str, limit: int = 2400) -> subprocess.CompletedProcess:
    """snakemake under `timeout -s INT`: on a hang SIGINT makes the plugin scancel its jobs, and the test fails."""
    return subprocess.run(["timeout", "-s", "INT", str(limit), *SNAKEMAKE, *args], cwd=workdir, capture_output=True,
                          text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def cancel_jobs_from(workdir: Path) -> None:
    """scancel what is left of this test's jobs (those submitted from `workdir`), e.g. after a timeout."""
    queue = subprocess.run(["squeue", "-h", "-o", "%i %Z"], capture_output=True, text=True).stdout.split("\n")
    ids = [line.split()[0] for line in queue if line.strip() and line.split()[1] == str(workdir)]
    if ids:
        subprocess.run(["scancel", *ids], check=False)


def slurm_job(job_id: str) -> dict[str, str]:
    """`scontrol show job` as a dict (finished jobs stay visible for MinJobAge = 3600 s)."""
    text = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True, check=True).stdout
    return dict(re.findall(r"(\w+)=(\S*)", text))


def wait_for_end(job_id: str, limit: float = 900) -> str:
    """The job's final state (COMPLETED, FAILED, ...) once it has left the queue, waiting up to `limit` s."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        state = slurm_job(job_id)["JobState"]
        if state not in {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "REQUEUED", "SUSPENDED"}:
            return state
        time.sleep(1)
    return f"still {state} after {limit:.0f} s"


@pytest.fixture(scope="module")
def slurm_run(tmp_path_factory):
    """The CI DAG through SLURM to `all`, once for the module."""
    workdir = scratch_workdir(tmp_path_factory.mktemp("slurm"))
    (workdir / "profiles").symlink_to(REPO / "profiles")
    start = time.monotonic()
    result = run(workdir, TARGET, "--profile", "profiles/slurm-ci", "--configfile", *CI_CONFIGS)
    print(f"workflow through SLURM: {time.monotonic() - start:.0f} s")
    yield workdir, result
    cancel_jobs_from(workdir)


def test_workflow_reaches_every_final_output_through_slurm(slurm_run):
    workdir, result = slurm_run
    assert result.returncode == 0, result.stderr[-6000:]
    # Every job went through sbatch but the Snakefile's localrules and the target rule `all` (it runs nothing)
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+)", result.stderr)
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", result.stderr.split("Job stats:")[1].split("\n\n")[0], re.MULTILINE))
    local = {"all", *re.findall(r"^    (\w+),$", (REPO / "Snakefile").read_text().split("localrules:")[1].split("\n\n")[0],
                                 re.MULTILINE)}
    assert {"train", "evaluate", "analyse", "linear_features"} <= set(counts) - local  # the work goes to SLURM
    expected = sum(int(n) for rule, n in counts.items() if rule not in local and rule != "total")
    assert len(submitted) == expected > 0, result.stderr[-3000:]
    assert (workdir / "results" / "training" / "training.md").is_file()
    if TARGET == "all":  # the checks of tests/test_workflow.py's local run, which CI skips for this one
        check_ci_dag_outputs(workdir, tuple(CI_CONFIGS))


def test_each_model_is_one_job_of_two_srun_tasks_with_a_gpu_each(slurm_run):
    workdir, result = slurm_run
    assert result.returncode == 0
    logs = sorted((workdir / ".snakemake" / "slurm_logs" / "rule_train").glob("*/*.log"))
    assert len(logs) == 5, logs
    for log in logs:
        variant, job_id = log.parent.name, log.stem
        job = slurm_job(job_id)
        assert job["JobState"] == "COMPLETED" and job["NumTasks"] == "2", job
        assert "gpu:2" in job.get("TresPerJob", ""), job  # the fake gres was requested and granted
        summary = json.loads((workdir / "results" / "models" / variant / "summary.json").read_text())
        assert summary["world_size"] == 2 and summary["global_batch"] == 2 * summary["per_process_batch"]
        train_log = (workdir / "logs" / "train" / f"{variant}.log").read_text()
        assert "emcom.launch: srun --ntasks=2" in train_log
        assert "fp32 on cpu" in train_log  # CUDA_VISIBLE_DEVICES was set, no CUDA: gloo on CPU


def test_report_builds_from_the_slurm_run(slurm_run):
    workdir, result = slurm_run
    assert result.returncode == 0
    report = run(workdir, TARGET, "--report", "results/report.html", "--configfile", *CI_CONFIGS, limit=600)
    assert report.returncode == 0, report.stderr[-4000:]
    html = (workdir / "results" / "report.html").read_text(errors="replace")
    assert len(html) > 100_000 and "training_curves.png" in html


def test_impossible_request_stops_at_submission_with_slurms_message(slurm_run, tmp_path):
    workdir, _ = slurm_run
    # A new variant asking for 64 GPUs (the node has 2). EnforcePartLimits=ALL makes sbatch refuse it
    # instead of queueing it forever; the plugin stops the run with sbatch's message.
    override = tmp_path / "huge.yaml"
    override.write_text("training:\n  resources: {tasks: 64, gpus: 64, cpus_per_task: 1, mem_mb: 1000, runtime: 5}\n"
                        "  variants:\n    huge: {model: {kind: simclr}}\n")
    # its run config first, locally: the SLURM run then has only the training job to submit
    prepared = run(workdir, "results/models/huge/config.yaml", "--cores", "1", "--configfile", *CI_CONFIGS,
                   str(override), limit=300)
    assert prepared.returncode == 0, prepared.stderr[-3000:]
    start = time.monotonic()
    result = run(workdir, "results/models/huge/model.pt", "--profile", "profiles/slurm-ci",
                 "--configfile", *CI_CONFIGS, str(override), limit=300)
    assert result.returncode != 0
    # sbatch's own words, e.g. "More processors requested than permitted"
    assert "sbatch: error: Batch job submission failed" in result.stdout + result.stderr, result.stderr[-3000:]
    assert time.monotonic() - start < 120
    assert not (workdir / "results" / "models" / "huge" / "model.pt").exists()


def test_requeued_training_job_resumes_from_its_checkpoint(tmp_path):
    """Preemption, as SLURM does it: `scontrol requeue` kills the running job and queues it again.

    Its own folder (the stamps dataset built locally first, so SLURM runs only the run config and the
    training) and whole epochs (not CI's 3 steps): a finished run removes its checkpoint.pt, so the
    run must last long enough for the test to see one."""
    (tmp_path / "requeue").mkdir()
    workdir = scratch_workdir(tmp_path / "requeue")
    (workdir / "profiles").symlink_to(REPO / "profiles")
    override = tmp_path / "requeued.yaml"
    override.write_text("training:\n  variants:\n    requeued: {model: {kind: game, shared: false}, "
                        "data: {augment: false}, optim: {epochs: 3}, run: {max_steps_per_epoch: 0}}\n")
    configs = ["--configfile", *CI_CONFIGS, str(override)]
    data = run(workdir, "resources/datasets/stamps/manifest.json", "--cores", "2", *configs, limit=600)
    assert data.returncode == 0, data.stderr[-3000:]
    out = workdir / "results" / "models" / "requeued"
    # the target relative to the working folder, as the rules write it (an absolute path matches no rule)
    command = ["timeout", "-s", "INT", "1200", *SNAKEMAKE, "results/models/requeued/model.pt", "--profile", "profiles/slurm-ci",
               *configs]
    with subprocess.Popen(command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as run_:
        deadline = time.monotonic() + 900
        while not (out / "checkpoint.pt").exists():  # written after each epoch (run.checkpoint_every: 1)
            if run_.poll() is not None or time.monotonic() > deadline:
                run_.kill()
                pytest.fail(f"no checkpoint.pt while training (snakemake exit {run_.poll()}):\n"
                            f"{run_.stdout.read()[-4000:]}")
            time.sleep(0.5)
        (job_log,) = (workdir / ".snakemake" / "slurm_logs" / "rule_train" / "requeued").glob("*.log")
        subprocess.run(["scontrol", "requeue", job_log.stem], check=True)
        # SLURM holds a requeued job back for 2 minutes (reason BeginTime): once it is pending, release it.
        # Not within the second of the requeue: slurmd revoked the job's credential then and refuses a launch
        # of the same job id stamped with that second ("Job 60 already killed, do not launch batch job" in
        # slurmd.log, and the job ends FAILED: seen once, in CI's form with a whole-DAG run beside it).
        for _ in range(120):
            if slurm_job(job_log.stem)["JobState"] == "PENDING":
                time.sleep(2)
                subprocess.run(["scontrol", "update", f"JobId={job_log.stem}", "StartTime=now"], check=False)
                break
            time.sleep(0.25)
        output, _ = run_.communicate(timeout=1200)
    if run_.returncode != 0:
        # Seen once in ~10 runs: the SLURM plugin took the requeue for a failure and snakemake stopped,
        # while SLURM restarted the job anyway. The job itself must still resume and finish; a rerun of
        # snakemake (what a user would do) then finds its outputs.
        state = wait_for_end(job_log.stem)
        assert state == "COMPLETED", f"requeued job ended {state}; snakemake said:\n{output[-4000:]}"
        again = subprocess.run(command, cwd=workdir, capture_output=True, text=True)
        assert again.returncode == 0, f"{output[-3000:]}\n--- rerun ---\n{again.stderr[-3000:]}"
    assert slurm_job(job_log.stem)["Restarts"] == "1"
    train_log = (workdir / "logs" / "train" / "requeued.log").read_text()
    assert re.search(r"resuming .*checkpoint.pt after epoch [12]\b", train_log), train_log
    assert json.loads((out / "summary.json").read_text())["final"]["epoch"] == 3
    assert not (out / "checkpoint.pt").exists()


FAILING_WORKFLOW = """
rule all:
    input:
        "ranks.txt",
        "never.txt",


rule two_ranks:
    output:
        "ranks.txt",
    resources:
        tasks=2,
        mpi="srun",
        cpus_per_task=1,
        mem_mb=500,
        runtime=5,
    shell:
        "srun --ntasks={resources.tasks} sh -c 'echo $SLURM_PROCID/$SLURM_NTASKS' | sort > {output}"


rule fails_on_purpose:
    output:
        "never.txt",
    resources:
        mem_mb=500,
        runtime=5,
    shell:
        "echo 'this rule fails on purpose' >&2; exit 3"
"""


def test_a_failing_rule_fails_the_run(tmp_path):
    (tmp_path / "Snakefile").write_text(textwrap.dedent(FAILING_WORKFLOW))
    result = run(tmp_path, "--profile", str(REPO / "profiles" / "slurm-ci"), "--keep-going", limit=300)
    assert result.returncode != 0
    assert "Error in rule fails_on_purpose" in result.stderr, result.stderr[-3000:]
    assert not (tmp_path / "never.txt").exists()
    # the other job still ran, as 2 tasks of one SLURM job (CPU, no mpi wrapper)
    assert (tmp_path / "ranks.txt").read_text().split() == ["0/2", "1/2"]
