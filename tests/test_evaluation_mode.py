"""Game evaluation plays a frozen model: BatchNorm running statistics, no autograd, one-hot symbols.

Evaluation in train mode silently raises game accuracy (issue #13: 0.35–0.48 against 0.27–0.32), so
these tests pin :func:`emcom.evaluation.play_game`'s public behaviour against a by-hand reference:
a target's symbol cannot depend on which other images share its batch, the Receiver ranks the
candidates of each target (argmax over a row of the scores), and playing changes nothing in the model.
"""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from emcom.config import ExperimentConfig
from emcom.evaluation import play_game
from emcom.models import build_model

N = 32


@pytest.fixture(scope="module")
def game():
    """A small game whose BN running statistics are not the initial (0, 1): a few train-mode passes."""
    torch.manual_seed(0)
    config = ExperimentConfig.from_dict({"model": {"backbone": "small_resnet", "low_resolution_stem": True,
                                                   "vocab_size": 32, "hidden_size": 16}})
    model = build_model(config.model).train()
    with torch.no_grad():
        for _ in range(3):
            images = torch.randn(16, 3, 16, 16) * 2 + 0.5
            model(images, images)
    return model


@pytest.fixture(scope="module")
def test_set():
    """N images whose label is their index, so ``GamePlay.labels`` tells the play order."""
    generator = torch.Generator().manual_seed(1)
    images = torch.randn(N, 3, 16, 16, generator=generator) + torch.linspace(-2, 2, N).view(N, 1, 1, 1)
    return TensorDataset(images, torch.arange(N))


def reference(model, dataset, order, batch_size):
    """By hand: per batch of the play order, eval-mode forward, row-wise argmax of cosine scores."""
    model.eval()
    correct, symbols = [], []
    with torch.no_grad():
        for start in range(0, len(order) - batch_size + 1, batch_size):
            images = torch.stack([dataset[i][0] for i in order[start:start + batch_size]])
            out = model(images, images)
            scores = F.normalize(out.message_embedding, dim=1) @ F.normalize(out.receiver_vectors, dim=1).T
            correct.append(scores.argmax(dim=1) == torch.arange(batch_size))  # row i: target i's candidates
            symbols.append(out.logits.argmax(dim=1))  # over the vocabulary
    return torch.cat(correct).numpy(), torch.cat(symbols).numpy()


def test_symbols_do_not_depend_on_the_batch_an_image_is_played_in(game, test_set):
    whole = play_game(game, test_set, batch_size=N, seed=3)
    split = play_game(game, test_set, batch_size=N // 4, seed=3)
    assert whole.batches == 1 and split.batches == 4
    assert (whole.labels == split.labels).all()  # the same seeded order, cut differently
    assert (whole.symbols == split.symbols).all()
    assert len(set(whole.symbols.tolist())) > 1  # the model does tell images apart


def test_play_equals_the_eval_mode_reference(game, test_set):
    for batch_size in (N, 8):
        played = play_game(game, test_set, batch_size=batch_size, seed=5)
        order = played.labels.tolist()
        assert sorted(order) == list(range(N))
        correct, symbols = reference(game, test_set, order, batch_size)
        assert (played.symbols == symbols).all(), batch_size
        assert (played.correct == correct).all(), batch_size
        assert played.accuracy == pytest.approx(correct.mean())


def test_the_reference_tells_rows_from_columns_and_eval_from_train(game, test_set):
    """Guards that the reference test above can fail: the wrong axis or train-mode BN would change it."""
    model = copy.deepcopy(game)
    correct, symbols = reference(model, test_set, list(range(N)), N)
    images = test_set.tensors[0]
    with torch.no_grad():
        out = model.eval()(images, images)
        scores = F.normalize(out.message_embedding, dim=1) @ F.normalize(out.receiver_vectors, dim=1).T
        by_column = (scores.argmax(dim=0) == torch.arange(N)).numpy()
        train_symbols = model.train()(images, images).logits.argmax(dim=1).numpy()
    assert (by_column != correct).any()
    assert (train_symbols != symbols).any()


def test_playing_builds_no_graph_and_leaves_the_model_unchanged(game, test_set):
    state = {k: v.clone() for k, v in game.state_dict().items()}
    calls = []

    def record(module, inputs, output):
        calls.append((module.training, torch.is_grad_enabled(), output.requires_grad))

    handles = [game.sender.register_forward_hook(record), game.receiver.register_forward_hook(record)]
    try:
        game.train()  # whatever mode the caller left it in
        play_game(game, test_set, batch_size=8, seed=0)
    finally:
        for handle in handles:
            handle.remove()
        game.eval()
    assert calls and all(c == (False, False, False) for c in calls), calls
    for name, value in game.state_dict().items():  # BN running statistics untouched
        assert torch.equal(value, state[name]), name


def test_messages_in_evaluation_are_one_hot(game, test_set):
    messages = []
    handle = game.symbol_embedding.register_forward_hook(lambda m, inputs, out: messages.append(inputs[0]))
    try:
        played = play_game(game, test_set, batch_size=8, seed=0)
    finally:
        handle.remove()
    message = torch.cat(messages)
    assert torch.equal(message.sum(dim=1), torch.ones(N)) and set(message.unique().tolist()) == {0.0, 1.0}
    assert (message.argmax(dim=1).numpy() == played.symbols).all()
