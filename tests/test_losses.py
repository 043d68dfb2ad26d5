"""The losses against plain reference computations and analytic values."""

import math

import pytest
import torch
import torch.nn.functional as F

from emcom.losses import GameLoss, NTXentLoss, cosine_scores


def reference_game_loss(messages, receivers, temperature):
    """Loop over targets: -log softmax_j(cos(m_i, r_j)/τ)[i], averaged; and accuracy."""
    losses, hits = [], 0
    for i in range(len(messages)):
        scores = torch.stack([F.cosine_similarity(messages[i], r, dim=0) / temperature for r in receivers])
        losses.append(-torch.log_softmax(scores, dim=0)[i])
        hits += int(scores.argmax() == i)
    return torch.stack(losses).mean(), hits / len(messages)


def reference_ntxent(z_a, z_b, temperature, duplicate_positive=False):
    """SimCLR's NT-Xent written out row by row; optionally the authors' duplicated positive, halved."""
    views = torch.cat([z_a, z_b])
    n, batch = len(views), len(z_a)
    losses = []
    for i in range(n):
        positive = (i + batch) % n
        sims = [F.cosine_similarity(views[i], views[j], dim=0) / temperature for j in range(n) if j != i]
        logits = torch.stack(sims)
        pos = F.cosine_similarity(views[i], views[positive], dim=0) / temperature
        if duplicate_positive:
            logits = torch.cat([pos.view(1), logits])
        losses.append(torch.logsumexp(logits, dim=0) - pos)
    loss = torch.stack(losses).mean()
    return loss / 2 if duplicate_positive else loss


def test_game_loss_matches_reference():
    torch.manual_seed(0)
    messages, receivers = torch.randn(12, 7), torch.randn(12, 7)
    result = GameLoss(temperature=0.1)(messages, receivers)
    expected_loss, expected_accuracy = reference_game_loss(messages, receivers, 0.1)
    assert torch.allclose(result.loss, expected_loss, atol=1e-5)
    assert result.accuracy.item() == pytest.approx(expected_accuracy)


def test_game_loss_of_uniform_scores_is_log_n():
    # every candidate identical: all cosines equal, the Receiver's softmax is uniform over n
    receivers = torch.ones(16, 5)
    result = GameLoss(0.1)(torch.randn(16, 5), receivers)
    assert result.loss.item() == pytest.approx(math.log(16), rel=1e-6)


def test_game_loss_rewards_the_matching_candidate():
    vectors = torch.eye(8)
    assert GameLoss(0.1)(vectors, vectors).accuracy.item() == 1.0
    assert GameLoss(0.1)(vectors, vectors).loss.item() < GameLoss(0.1)(vectors, vectors.roll(1, 0)).loss.item()


def test_cosine_scores_are_scaled_cosines():
    a, b = torch.randn(3, 4), torch.randn(5, 4)
    expected = F.cosine_similarity(a[:, None], b[None], dim=-1) / 0.5
    assert torch.allclose(cosine_scores(a, b, 0.5), expected, atol=1e-6)


def test_ntxent_standard_matches_reference():
    torch.manual_seed(1)
    z_a, z_b = torch.randn(6, 5), torch.randn(6, 5)
    result = NTXentLoss(0.1, "standard")(z_a, z_b)
    assert torch.allclose(result.loss, reference_ntxent(z_a, z_b, 0.1), atol=1e-5)


def test_ntxent_egg_variant_duplicates_the_positive_and_halves():
    torch.manual_seed(2)
    z_a, z_b = torch.randn(6, 5), torch.randn(6, 5)
    egg = NTXentLoss(0.1, "egg")(z_a, z_b).loss
    standard = NTXentLoss(0.1, "standard")(z_a, z_b).loss
    assert torch.allclose(egg, reference_ntxent(z_a, z_b, 0.1, duplicate_positive=True), atol=1e-5)
    # the duplicated positive adds to every row's denominator (at most log 2), then the loss is halved
    assert standard.item() / 2 < egg.item() < standard.item() / 2 + math.log(2) / 2


def test_ntxent_variants_differ_at_perfect_separation():
    # positives infinitely more similar than negatives: standard -> 0, the authors' variant -> log(2)/2
    z = torch.eye(4) * 1.0
    standard = NTXentLoss(0.001, "standard")(z, z.clone()).loss.item()
    egg = NTXentLoss(0.001, "egg")(z, z.clone()).loss.item()
    assert standard == pytest.approx(0.0, abs=1e-6)
    assert egg == pytest.approx(math.log(2) / 2, abs=1e-6)


def test_ntxent_perfect_pairs_are_retrieved():
    z = torch.eye(4)
    result = NTXentLoss(0.1)(z, z.clone())
    assert result.accuracy.item() == 1.0


@pytest.mark.parametrize("bad,message", [({"temperature": 0}, "temperature must be > 0, got 0"),
                                         ({"variant": "other"}, "variant must be 'standard' or 'egg', got 'other'")])
def test_ntxent_rejects_bad_arguments(bad, message):
    with pytest.raises(ValueError, match=message):
        NTXentLoss(**bad)


def test_game_loss_rejects_a_zero_temperature():
    with pytest.raises(ValueError, match="temperature"):
        GameLoss(0.0)


def test_the_losses_default_to_the_papers_setting():
    """τ = 0.1 (SPEC.md), the standard NT-Xent, and no cross-process gathering unless asked."""
    for loss in (GameLoss(), NTXentLoss()):
        assert loss.temperature == 0.1 and loss.gather_distributed is False
    assert NTXentLoss().variant == "standard"


def test_ntxent_accuracy_counts_the_retrieved_positives():
    z_a = torch.eye(4)
    z_b = torch.eye(4)[[0, 1, 3, 2]]  # pairs 2 and 3 swapped: their positives are not the nearest keys
    assert NTXentLoss(0.1)(z_a, z_b).accuracy.item() == pytest.approx(0.5)


@pytest.mark.parametrize("variant", ["standard", "egg"])
def test_build_objective_applies_the_configured_loss_to_the_models_output(variant):
    from emcom.config import ModelConfig
    from emcom.losses.objective import build_objective
    from emcom.models import GameOutput, SimCLROutput

    torch.manual_seed(0)
    a, b = torch.randn(6, 5), torch.randn(6, 5)
    simclr = build_objective(ModelConfig(kind="simclr", similarity_temperature=0.3, ntxent_variant=variant))
    expected = NTXentLoss(0.3, variant)(a, b)
    got = simclr(SimCLROutput(a, b))
    assert torch.equal(got.loss, expected.loss) and torch.equal(got.accuracy, expected.accuracy)
    assert not torch.equal(simclr(SimCLROutput(b, a)).loss, NTXentLoss(0.1, variant)(b, a).loss)
    game = build_objective(ModelConfig(kind="game", similarity_temperature=0.3))
    output = GameOutput(message_embedding=a, receiver_vectors=b, logits=None, message=None)
    assert torch.equal(game(output).loss, GameLoss(0.3)(a, b).loss)


@pytest.mark.parametrize("kind", ["game", "simclr"])
def test_build_objective_gathers_across_processes_only_when_asked(monkeypatch, kind):
    """The trainer asks for the gather when world_size > 1: the flag must reach the loss."""
    from emcom.config import ModelConfig
    from emcom.losses import game_loss, ntxent_loss
    from emcom.losses.objective import build_objective
    from emcom.models import GameOutput, SimCLROutput

    gathered = []
    module = game_loss if kind == "game" else ntxent_loss
    monkeypatch.setattr(module, "gather_negatives", lambda t: gathered.append(t) or t)
    monkeypatch.setattr(module, "world_size", lambda: 2, raising=False)  # NT-Xent gathers only with > 1 process
    a, b = torch.randn(4, 5), torch.randn(4, 5)
    output = GameOutput(a, b, None, None) if kind == "game" else SimCLROutput(a, b)
    build_objective(ModelConfig(kind=kind))(output)
    assert gathered == []
    build_objective(ModelConfig(kind=kind), gather_distributed=True)(output)
    assert len(gathered) > 0
