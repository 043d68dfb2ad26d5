"""The command line: bad input is one clear line and exit code 2; a good config trains."""

import torch
import yaml

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
