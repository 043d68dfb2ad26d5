"""Model structure: messages, sharing, SimCLR layers, rebuilding from a file."""

import pytest
import torch

from emcom import checkpoint
from emcom.config import ExperimentConfig, ModelConfig
from emcom.models import ReferentialGame, SimCLR, build_backbone, build_model


def small(**overrides) -> ModelConfig:
    return ExperimentConfig.from_dict({"model": {"backbone": "small_resnet", "low_resolution_stem": True,
                                                 "vocab_size": 40, "hidden_size": 24, **overrides}}).model


@pytest.fixture
def images():
    torch.manual_seed(0)
    return torch.randn(6, 3, 32, 32)


def test_evaluation_messages_are_exact_one_hots_of_the_argmax(images):
    game = build_model(small()).eval()
    out = game(images, images)
    assert set(out.message.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(out.message.sum(dim=1), torch.ones(6))
    assert torch.equal(out.message.argmax(dim=1), out.logits.argmax(dim=1))


def test_training_messages_are_soft_distributions(images):
    game = build_model(small()).train()
    out = game(images, images)
    assert torch.allclose(out.message.sum(dim=1), torch.ones(6), atol=1e-5)
    assert (out.message > 0).all()  # a relaxed sample, not a one-hot
    assert out.message.max().item() < 1.0


def test_gumbel_temperature_controls_the_relaxation(images):
    torch.manual_seed(3)
    hot = build_model(small(gumbel_temperature=50.0)).train()(images, images).message
    torch.manual_seed(3)
    cold = build_model(small(gumbel_temperature=0.05)).train()(images, images).message
    assert hot.max().item() < cold.max().item()


def test_shared_game_has_one_cnn():
    shared, separate = build_model(small(shared=True)), build_model(small(shared=False))
    assert shared.sender.cnn is shared.receiver.cnn and shared.shared
    assert separate.sender.cnn is not separate.receiver.cnn and not separate.shared
    cnn_params = sum(p.numel() for p in shared.sender.cnn.parameters())
    total = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert total(separate) - total(shared) == cnn_params


def test_game_output_shapes(images):
    out = build_model(small()).train()(images, images)
    assert out.message_embedding.shape == (6, 24) and out.receiver_vectors.shape == (6, 24)
    assert out.logits.shape == (6, 40)


def test_simclr_exposes_h_s_z(images):
    model = build_model(small(kind="simclr")).eval()
    assert isinstance(model, SimCLR)
    layers = model.layers(images)
    assert layers.h.shape == (6, 128) and layers.s.shape == (6, 24) and layers.z.shape == (6, 24)
    assert (layers.s >= 0).all()  # s is post-ReLU
    assert torch.allclose(model.z_from_s(layers.s), layers.z, atol=1e-6)


@pytest.mark.parametrize("name,dim", [("resnet18", 512), ("resnet50", 2048), ("small_resnet", 128)])
def test_backbones_map_images_to_features(name, dim):
    model, feature_dim = build_backbone(name, low_resolution_stem=True)
    assert feature_dim == dim
    with torch.no_grad():
        assert model.eval()(torch.randn(2, 3, 32, 32)).shape == (2, dim)


def test_resnet50_is_the_torchvision_architecture():
    model, _ = build_backbone("resnet50")
    assert model.conv1.kernel_size == (7, 7) and isinstance(model.fc, torch.nn.Identity)
    assert sum(p.numel() for p in model.parameters()) == 23_508_032  # ResNet-50 without fc


def test_model_file_rebuilds_the_model_alone(tmp_path, images):
    config = ExperimentConfig.from_dict({"model": small(shared=True).__dict__})
    model = build_model(config.model).eval()
    checkpoint.save({"format": checkpoint.MODEL_FORMAT, "config": config.to_dict(),
                     "model": model.state_dict(), "history": []}, tmp_path / "model.pt")
    rebuilt, rebuilt_config = checkpoint.load_model(tmp_path / "model.pt")
    assert isinstance(rebuilt, ReferentialGame) and rebuilt.shared
    assert rebuilt_config == config
    with torch.no_grad():
        assert torch.equal(model(images, images).logits, rebuilt(images, images).logits)


def test_foreign_checkpoint_is_refused(tmp_path):
    torch.save({"weights": 1}, tmp_path / "x.pt")
    with pytest.raises(ValueError, match="x.pt"):
        checkpoint.load_model(tmp_path / "x.pt")
