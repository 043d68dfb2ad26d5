"""The command line: bad input is one clear line and exit code 2; a good config trains."""

import errno
import os
import shutil
import tempfile
from pathlib import Path

import pytest
import torch
import yaml

import emcom.io
from emcom.checkpoint import load_model
from emcom.cli import main
from emcom.models import ReferentialGame, SmallResNet, build_model


def test_unknown_key_is_named_without_traceback(tmp_path, capsys):
    (tmp_path / "run.yaml").write_text("model:\n  vocab: 3\n")
    assert main(["train", str(tmp_path / "run.yaml"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "unknown key(s) ['vocab']" in err and "Traceback" not in err


def test_missing_dataset_folder_is_named(tmp_path, capsys):
    (tmp_path / "run.yaml").write_text(f"data:\n  root: {tmp_path / 'nowhere'}\n")
    assert main(["train", str(tmp_path / "run.yaml"), "--out", str(tmp_path / "out")]) == 2
    assert f"{tmp_path / 'nowhere' / 'train'}" in capsys.readouterr().err


def test_train_command_writes_the_model(image_set, make_config, tmp_path):
    config = make_config(image_set, optim={"epochs": 1}, run={"max_steps_per_epoch": 1})
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config.to_dict()))
    assert main(["train", str(tmp_path / "run.yaml"), "--out", str(tmp_path / "out")]) == 0
    model, loaded = load_model(tmp_path / "out" / "model.pt")
    assert loaded == config and not model.training
    # the architecture the config names: two small ResNets, |V| = 64, H = 32
    assert isinstance(model, ReferentialGame) and not model.shared
    assert isinstance(model.sender.cnn, SmallResNet) and isinstance(model.receiver.cnn, SmallResNet)
    assert model.sender.head[0].out_features == 64 and model.symbol_embedding.weight.shape == (32, 64)
    assert model.receiver.head[3].out_features == 32
    # and trained weights, not a fresh initialisation
    torch.manual_seed(config.run.seed)
    fresh = build_model(config.model).state_dict()
    assert any(not torch.equal(value, fresh[name]) for name, value in model.state_dict().items())


# ---- one line, exit code 2, for what a user fixes: bad images, full disks, read-only folders ----

def _run_yaml(tmp_path, config) -> str:
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config.to_dict()))
    return str(path)


def _last_line(err: str) -> str:
    return err.strip().splitlines()[-1]


def test_undecodable_image_with_loader_workers_is_one_line(image_set, make_config, tmp_path, capsys):
    root = tmp_path / "images"
    shutil.copytree(image_set, root)
    bad = sorted((root / "train").rglob("*.png"))[5]
    bad.write_bytes(b"not a png at all")
    config = make_config(root, data={"num_workers": 2}, optim={"epochs": 1, "batch_size": 64})
    assert main(["train", _run_yaml(tmp_path, config), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "DataLoader worker" not in err, err
    line = _last_line(err)
    assert line.startswith("emcom train: error: cannot decode image ") and str(bad) in line, line


def test_traceback_flag_keeps_the_traceback_before_the_line(tmp_path, capsys):
    (tmp_path / "run.yaml").write_text("model:\n  vocab: 3\n")
    assert main(["train", str(tmp_path / "run.yaml"), "--out", str(tmp_path / "out"), "--traceback"]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert _last_line(err).startswith("emcom train: error: ") and "unknown key(s) ['vocab']" in _last_line(err)


def _full_disk_for(names, real_mkstemp):
    """mkstemp whose temporary file, for final names in ``names``, is a link to /dev/full (ENOSPC on write)."""
    def mkstemp(prefix="", suffix="", dir=None):
        handle, tmp = real_mkstemp(prefix=prefix, suffix=suffix, dir=dir)
        if any(prefix.startswith(f".{name}.") for name in names):
            os.close(handle)
            os.unlink(tmp)
            os.symlink("/dev/full", tmp)
            handle = os.open(tmp, os.O_WRONLY)
        return handle, tmp
    return mkstemp


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full to simulate a full disk")
def test_full_disk_on_torch_save_names_the_file_and_says_no_space(image_set, make_config, tmp_path, capsys,
                                                                 monkeypatch):
    monkeypatch.setattr(emcom.io.tempfile, "mkstemp", _full_disk_for(["model.pt"], tempfile.mkstemp))
    config = make_config(image_set, optim={"epochs": 1}, run={"max_steps_per_epoch": 1})
    out = tmp_path / "out"
    assert main(["train", _run_yaml(tmp_path, config), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert _last_line(err) == f"emcom train: error: cannot write {out / 'model.pt'}: no space left on device"
    assert not (out / "model.pt").exists() and not list(out.glob(".model.pt.*"))  # nothing half-written


def test_read_only_output_folder_is_one_line(image_set, make_config, tmp_path, capsys, monkeypatch):
    # The tests run as root, for whom chmod 0o555 does not stop writes: refuse them as a read-only folder would.
    def refuse(prefix="", suffix="", dir=None):
        raise PermissionError(errno.EACCES, "Permission denied", f"{dir}/{prefix}xyz{suffix}")

    monkeypatch.setattr(emcom.io.tempfile, "mkstemp", refuse)
    config = make_config(image_set, optim={"epochs": 1}, run={"max_steps_per_epoch": 1})
    out = tmp_path / "out"
    assert main(["train", _run_yaml(tmp_path, config), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    line = _last_line(err)
    assert line.startswith(f"emcom train: error: cannot write {out}/") and line.endswith(": permission denied"), line


def test_machine_errors_outside_atomic_writes_are_one_line_but_bugs_are_not(monkeypatch, tmp_path, capsys):
    import emcom.cli as cli

    def no_space(args):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x.csv"))

    def bug(args):
        raise OSError(errno.EBADF, "Bad file descriptor")

    (tmp_path / "run.yaml").write_text("{}\n")
    monkeypatch.setattr(cli, "_train", no_space)
    assert main(["train", str(tmp_path / "run.yaml"), "--out", str(tmp_path)]) == 2
    assert _last_line(capsys.readouterr().err) == f"emcom train: error: {tmp_path / 'x.csv'}: no space left on device"
    monkeypatch.setattr(cli, "_train", bug)
    with pytest.raises(OSError):
        main(["train", str(tmp_path / "run.yaml"), "--out", str(tmp_path)])
