"""emcom.launch picks the launcher of N ranks; emcom.distributed finds the rendezvous of srun's ranks."""

import os

import pytest

from emcom.distributed import slurm_rendezvous
from emcom.launch import launch_command


def test_one_task_is_a_plain_process():
    assert launch_command("emcom.train", ["run.yaml"], tasks=1, env={"SLURM_JOB_ID": "7"}, python="py") == [
        "py", "-m", "emcom.train", "run.yaml"]


def test_inside_a_slurm_job_ranks_are_srun_tasks_with_one_gpu_each():
    command = launch_command("emcom.train", ["run.yaml", "--out", "d"], tasks=16, cpus_per_task=8, gpus=16,
                             env={"SLURM_JOB_ID": "7"}, python="py")
    assert command[:3] == ["srun", "--ntasks=16", "--kill-on-bad-exit=1"]
    assert "--cpus-per-task=8" in command and "--gpus-per-task=1" in command
    assert command[-6:] == ["py", "-m", "emcom.train", "run.yaml", "--out", "d"]


def test_cpu_ranks_under_slurm_ask_for_no_gpu():
    command = launch_command("emcom.train", [], tasks=2, cpus_per_task=1, env={"SLURM_JOB_ID": "7"}, python="py")
    assert not any("gpu" in part for part in command)


def test_outside_slurm_ranks_are_torchrun_processes():
    command = launch_command("emcom.train", ["run.yaml"], tasks=8, gpus=8, env={}, python="py")
    assert command == ["py", "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=8",
                       "-m", "emcom.train", "run.yaml"]


@pytest.mark.parametrize(("tasks", "gpus"), [(0, 0), (4, 2)])
def test_bad_task_counts_are_refused(tasks, gpus):
    with pytest.raises(ValueError, match=f"tasks={tasks}|got {tasks}"):
        launch_command("emcom.train", [], tasks=tasks, gpus=gpus, env={})


def test_rendezvous_is_the_first_host_and_a_port_from_the_job_id(monkeypatch, tmp_path):
    monkeypatch.setenv("SLURM_JOB_ID", "123456")
    monkeypatch.setenv("SLURM_STEP_NODELIST", "gpu07,gpu08")
    monkeypatch.setenv("PATH", str(tmp_path))  # no scontrol: a plain comma list is split by hand
    assert slurm_rendezvous() == {"MASTER_ADDR": "gpu07", "MASTER_PORT": str(20000 + 123456 % 20000)}
    monkeypatch.setenv("SLURM_STEP_NODELIST", "gpu[07-08]")
    with pytest.raises(RuntimeError, match=r"gpu\[07-08\]"):  # a range needs scontrol
        slurm_rendezvous()


@pytest.mark.skipif(not any(os.access(os.path.join(d, "scontrol"), os.X_OK) for d in os.environ["PATH"].split(":")),
                    reason="scontrol (slurm-client) is not installed")
def test_rendezvous_expands_a_node_range_with_scontrol(monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "9")
    monkeypatch.setenv("SLURM_STEP_NODELIST", "gpu[07-08]")
    assert slurm_rendezvous()["MASTER_ADDR"] == "gpu07"


def test_no_slurm_no_rendezvous(monkeypatch):
    for name in ("SLURM_JOB_ID", "SLURM_STEP_NODELIST", "SLURM_JOB_NODELIST"):
        monkeypatch.delenv(name, raising=False)
    assert slurm_rendezvous() == {}
