"""Nothing left behind by a killed build; files and folders honour the user's umask."""

import os
import signal
import stat
import subprocess
import sys
import textwrap

import pytest
import torch

from emcom import checkpoint
from emcom.data.staging import staged_folder
from emcom.io import atomic_write_json, atomic_write_text


def test_a_killed_build_leaves_nothing_after_the_next_build(tmp_path):
    final = tmp_path / "datasets" / "stamps"
    # A build killed with SIGKILL half-way: no handler runs, its staging folder stays behind.
    killed = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import os, signal
        from emcom.data.staging import staged_folder
        with staged_folder({str(final)!r}) as stage:
            (stage / "train").mkdir()
            (stage / "train" / "half.png").write_bytes(b"half")
            os.kill(os.getpid(), signal.SIGKILL)
        """)])
    assert killed.returncode == -signal.SIGKILL
    leftovers = [p.name for p in final.parent.iterdir()]
    assert len(leftovers) == 1 and leftovers[0].startswith(".stamps.building.")

    with staged_folder(final) as stage:
        (stage / "manifest.json").write_text("{}")
    assert sorted(p.name for p in final.parent.iterdir()) == ["stamps"]
    assert sorted(p.name for p in final.iterdir()) == ["manifest.json"]


def test_leftovers_of_other_folders_are_not_touched(tmp_path):
    other = tmp_path / ".stamps_big.building.abc"
    other.mkdir()
    with staged_folder(tmp_path / "stamps") as stage:
        (stage / "x").write_text("x")
    assert other.is_dir()


@pytest.fixture(params=[0o022, 0o002])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_written_files_and_folders_honour_the_umask(tmp_path, umask):
    atomic_write_text(tmp_path / "a.txt", "a")
    atomic_write_json(tmp_path / "deep" / "b.json", {"b": 1})
    checkpoint.save({"format": checkpoint.MODEL_FORMAT, "w": torch.zeros(2)}, tmp_path / "model.pt")
    with staged_folder(tmp_path / "dataset") as stage:
        (stage / "c.txt").write_text("c")
    files, folders = 0o666 & ~umask, 0o777 & ~umask
    if umask == 0o022:
        assert (files, folders) == (0o644, 0o755)
    for name in ("a.txt", "deep/b.json", "model.pt", "dataset/c.txt"):
        assert _mode(tmp_path / name) == files, name
    for name in ("deep", "dataset"):
        assert _mode(tmp_path / name) == folders, name
