"""Model structure: messages, sharing, SimCLR layers, rebuilding from a file."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

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


@pytest.mark.parametrize("tau", [5.0, 0.5])
def test_training_message_is_the_gumbel_softmax_sample_at_the_configured_temperature(images, tau):
    """softmax((v + g) / τ) with the paper's τ = 5: the same noise through F.gumbel_softmax matches,
    and the same noise at τ/5 or 5τ does not (the CNNs draw no random numbers)."""
    game = build_model(small(gumbel_temperature=tau)).train()
    torch.manual_seed(3)
    out = game(images, images)
    logits = out.logits.detach()

    def reference(temperature):
        torch.manual_seed(3)
        return F.gumbel_softmax(logits, tau=temperature, hard=False)

    assert torch.allclose(out.message, reference(tau), atol=1e-6)
    for wrong in (tau / 5, tau * 5):
        assert not torch.allclose(out.message, reference(wrong), atol=1e-3), wrong
    # by hand: the noise g recovered from the message is the same whatever τ produced it
    torch.manual_seed(3)
    g = -torch.empty_like(logits).exponential_().log()
    assert torch.allclose(out.message, torch.softmax((logits + g) / tau, dim=1), atol=1e-6)


def test_default_temperature_is_five():
    assert build_model(small()).gumbel_temperature == 5.0


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


def layer_types(sequential):
    return [type(m) for m in sequential]


def test_heads_are_the_papers_layers():
    """SPEC.md: Sender Linear→BatchNorm1d (no ReLU); symbol embedding Linear(V→H, no bias);
    Receiver and SimCLR heads Linear→BatchNorm1d→ReLU→Linear(no bias)."""
    game = build_model(small())
    assert layer_types(game.sender.head) == [nn.Linear, nn.BatchNorm1d]
    assert game.sender.head[0].out_features == 40 and game.sender.head[1].num_features == 40
    embedding = game.symbol_embedding
    assert isinstance(embedding, nn.Linear) and embedding.bias is None
    assert (embedding.in_features, embedding.out_features) == (40, 24)
    simclr = build_model(small(kind="simclr"))
    for head in (game.receiver.head, simclr.head):
        assert layer_types(head) == [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear]
        assert head[0].bias is not None and head[3].bias is None
        assert head[0].out_features == head[1].num_features == 24 and head[3].out_features == 24


def test_sender_logits_are_batch_normalised_in_training(images):
    """The Sender's BatchNorm1d (weight 1, bias 0 at init) makes each symbol's logit zero-mean, unit-variance
    over the batch: without it the logits keep the Linear's scale and offset."""
    game = build_model(small()).train()
    torch.manual_seed(0)
    batch = torch.randn(16, 3, 32, 32)
    logits = game.sender(batch)
    assert torch.allclose(logits.mean(dim=0), torch.zeros(40), atol=1e-5)
    assert torch.allclose(logits.var(dim=0, unbiased=False), torch.ones(40), atol=1e-2)
    # and only the messages, never the Receiver, see the symbol: the Receiver's output ignores it
    receiver_a = game.receiver(batch)
    game.sender.head[0].weight.data.mul_(3)
    assert torch.equal(receiver_a, game.receiver(batch))


def test_simclr_exposes_h_s_z(images):
    model = build_model(small(kind="simclr")).eval()
    assert isinstance(model, SimCLR)
    layers = model.layers(images)
    assert layers.h.shape == (6, 128) and layers.s.shape == (6, 24) and layers.z.shape == (6, 24)
    assert (layers.s >= 0).all()  # s is post-ReLU
    # by hand, from the head's weights: s = ReLU(BN_eval(W1 h + b1)), z = W2 s (no bias)
    linear1, bn, _, linear2 = model.head
    pre = F.batch_norm(layers.h @ linear1.weight.T + linear1.bias, bn.running_mean, bn.running_var,
                       bn.weight, bn.bias, training=False, eps=bn.eps)
    assert torch.allclose(layers.h, model.cnn(images), atol=1e-6)
    assert torch.allclose(layers.s, pre.clamp(min=0), atol=1e-5)
    assert torch.allclose(layers.z, layers.s @ linear2.weight.T, atol=1e-5)
    # z_from_s is the last Linear alone: a one-hot s (SimCLR_disc) picks one column of W2
    assert torch.allclose(model.z_from_s(layers.s), layers.s @ linear2.weight.T, atol=1e-5)
    one_hot = F.one_hot(torch.tensor([3, 0]), 24).float()
    assert torch.allclose(model.z_from_s(one_hot), linear2.weight[:, [3, 0]].T, atol=1e-6)


@pytest.mark.parametrize("name,dim", [("resnet18", 512), ("resnet50", 2048), ("small_resnet", 128)])
def test_backbones_map_images_to_features(name, dim):
    model, feature_dim = build_backbone(name, low_resolution_stem=True)
    assert feature_dim == dim
    with torch.no_grad():
        assert model.eval()(torch.randn(2, 3, 32, 32)).shape == (2, dim)


@pytest.mark.parametrize("name", ["resnet18", "small_resnet"])
def test_the_stems_keep_or_quarter_the_resolution(name):
    """low_resolution_stem: a 3×3/1 convolution (no bias, BatchNorm follows) and no max-pool keep 32 px
    at 32 × 32 after the stem; the ImageNet stem (7×7/2 + max-pool 3/2) leaves 8 × 8."""
    for low, side in ((True, 32), (False, 8)):
        model, _ = build_backbone(name, low_resolution_stem=low)
        conv = model.conv1 if name == "resnet18" else model.stem[0]
        assert (conv.kernel_size, conv.stride, conv.bias) == (((3, 3), (1, 1), None) if low else ((7, 7), (2, 2), None))
        stem = torch.nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool) if name == "resnet18" \
            else model.stem
        with torch.no_grad():
            assert stem.eval()(torch.randn(1, 3, 32, 32)).shape[-2:] == (side, side), (name, low)
        if low:  # He initialisation for the ReLU that follows, over the output fan as torchvision does
            expected = (2.0 / (conv.out_channels * 9)) ** 0.5
            assert abs(conv.weight.std().item() / expected - 1) < 0.2


def small_resnet_parameters(widths=(16, 32, 64, 128), low_resolution_stem=True) -> int:
    """The weights a small ResNet of one BasicBlock per stage should have, counted from its design:
    stem conv (3×3 or 7×7, no bias) + BN; per stage two 3×3 convs + 2 BN, and a 1×1 conv + BN
    shortcut where the width or resolution changes (every stage but the first)."""
    kernel = 3 if low_resolution_stem else 7
    count = 3 * widths[0] * kernel * kernel + 2 * widths[0]
    in_width = widths[0]
    for index, width in enumerate(widths):
        count += in_width * width * 9 + width * width * 9 + 4 * width
        if index > 0 or in_width != width:
            count += in_width * width + 2 * width
        in_width = width
    return count


@pytest.mark.parametrize("low", [True, False])
def test_small_resnet_is_one_basic_block_per_stage_behind_a_relu_stem(low):
    """The CPU backbone's design (F = 128): stem of width 16 (conv, BN, ReLU), one BasicBlock per stage.
    Parameter counts catch a deeper or wider net or a lost BatchNorm; the stem's output being
    non-negative catches a lost ReLU. ``SmallResNet()`` alone is the CIFAR-style 32 px net."""
    from emcom.models.backbones import SmallResNet

    model, feature_dim = build_backbone("small_resnet", low_resolution_stem=low)
    assert feature_dim == 128
    assert sum(p.numel() for p in model.parameters()) == small_resnet_parameters(low_resolution_stem=low)
    assert [len(stage) for stage in model.stages] == [1, 1, 1, 1]
    assert model.stem[0].out_channels == 16 and isinstance(model.stem[1], nn.BatchNorm2d)
    stem_out = 3 if low else 4  # ImageNet stem: conv, BN, ReLU, max-pool 3/2 (padding 1)
    assert len(model.stem) == stem_out and isinstance(model.stem[2], nn.ReLU)
    if not low:
        pool = model.stem[3]
        assert (pool.kernel_size, pool.stride, pool.padding) == (3, 2, 1)
    with torch.no_grad():
        model.eval()
        assert model.stem(torch.randn(2, 3, 32, 32)).min() >= 0
        # stages 2-4 halve the resolution: 32 px -> 4 × 4 (low-resolution stem) or 8 -> 1 × 1
        assert model.stages(model.stem(torch.randn(2, 3, 32, 32))).shape[-2:] == ((4, 4) if low else (1, 1))
    default = SmallResNet()
    assert default.stem[0].kernel_size == (3, 3) and len(default.stem) == 3
    assert sum(p.numel() for p in default.parameters()) == small_resnet_parameters()
    # deeper stages: only each stage's first block strides and gets a shortcut
    deeper = SmallResNet(blocks_per_stage=2).eval()
    assert [[block.stride for block in stage] for stage in deeper.stages] == [[1, 1], [2, 1], [2, 1], [2, 1]]
    assert all(stage[1].downsample is None for stage in deeper.stages)
    with torch.no_grad():
        assert deeper.stages(deeper.stem(torch.randn(1, 3, 32, 32))).shape[-2:] == (4, 4)


def test_an_unknown_backbone_is_named_with_the_choices():
    with pytest.raises(ValueError, match=r"unknown backbone 'resnet51'; expected resnet50, resnet18 or small_resnet"):
        build_backbone("resnet51")


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
