"""The command line: bad input is one clear line and exit code 2; a good config trains."""

import yaml

from emcom.cli import main


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
    assert (tmp_path / "out" / "model.pt").is_file()
