"""FusedLars against timm's Lars (the reference): same update, same state, no host synchronisation."""

import copy

import pytest
import torch
from timm.optim import Lars
from torch import nn

from emcom.training.lars import FusedLars
from emcom.training.optim import build_lars, parameter_groups

# The equality tests also run on CUDA where there is one (the device call of benchmarks/gpu_all.sh runs them):
# the fused kernels take other code paths there (foreach CUDA kernels, the GradScaler's found_inf on device).
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])

HYPER = dict(lr=2.4, momentum=0.9, trust_coeff=1e-3, eps=1e-8, trust_clip=False, always_adapt=True)


def small_game(device: str = "cpu") -> torch.nn.Module:
    """A tiny CNN with the parameter kinds of the real ones: conv/linear weights (decayed), BN and biases."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 3, bias=False),
                         nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(8, 5)).to(device)


def twin(optimizer_class, model, weight_decay=1e-2, **overrides):
    """A deep copy of ``model`` and an optimiser over its two groups (wd on ndim ≥ 2, none on the rest)."""
    clone = copy.deepcopy(model)
    return clone, optimizer_class(parameter_groups(clone, weight_decay), **{**HYPER, **overrides})


def batch_of(step: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Batch number ``step``, the same for every twin: images (16, 3, 12, 12) and labels (16,) in [0, 5)."""
    generator = torch.Generator().manual_seed(step)
    return torch.randn(16, 3, 12, 12, generator=generator), torch.randint(5, (16,), generator=generator)


def loss_of(model, step: int) -> torch.Tensor:
    """A classification loss on batch number ``step``."""
    images, labels = batch_of(step)
    device = next(model.parameters()).device
    return nn.functional.cross_entropy(model(images.to(device)), labels.to(device))


def backward(loss, scaler=None):
    """Gradients of ``loss``, multiplied by the scaler's scale when there is one."""
    (loss if scaler is None else scaler.scale(loss)).backward()


def step(optimizer, scaler=None):
    """An optimizer step, through ``scaler`` when given (FusedLars then gets the scaled gradients with
    the scaler's grad_scale and found_inf; timm's Lars gets them unscaled)."""
    if scaler is None:
        optimizer.step()
    else:
        scaler.step(optimizer)
        scaler.update()


def backward_and_step(loss, optimizer, scaler=None):
    backward(loss, scaler)
    step(optimizer, scaler)


def scalers(scaled: bool) -> list:
    """One GradScaler per twin (CPU), or none."""
    return [torch.amp.GradScaler("cpu", init_scale=2.0**10) if scaled else None for _ in range(2)]


def run_steps(model, optimizer, steps, scaler=None, first_step=0, poison=()):
    for step in range(first_step, first_step + steps):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_of(model, step)
        if step in poison:  # an overflowing step: the scaler must skip it in both implementations
            loss = loss * float("inf")
        backward_and_step(loss, optimizer, scaler)


@pytest.fixture(autouse=True)
def deterministic_cudnn():
    """Twin models must get bit-identical gradients on CUDA too: cuDNN's default algorithms may not."""
    saved = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    yield
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved


def assert_same(model_a, opt_a, model_b, opt_b):
    for (name, p), q in zip(model_a.named_parameters(), model_b.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-7, msg=lambda detail, name=name: f"{name}: {detail}")
    for p, q in zip(model_a.parameters(), model_b.parameters()):
        buf_a, buf_b = opt_a.state[p].get("momentum_buffer"), opt_b.state[q].get("momentum_buffer")
        assert (buf_a is None) == (buf_b is None)
        if buf_a is not None:
            torch.testing.assert_close(buf_a, buf_b, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("device", DEVICES)
def test_several_steps_equal_timm_lars_with_two_groups(device):
    model = small_game(device)
    fused_model, fused = twin(FusedLars, model)
    timm_model, reference = twin(Lars, model)
    assert [len(g["params"]) for g in fused.param_groups] == [len(g["params"]) for g in reference.param_groups]
    assert all(len(g["params"]) > 0 for g in fused.param_groups)
    run_steps(fused_model, fused, 5)
    run_steps(timm_model, reference, 5)
    moved = sum((p - q).abs().sum() for p, q in zip(fused_model.parameters(), model.parameters()))
    assert moved > 0
    assert_same(fused_model, fused, timm_model, reference)


@pytest.mark.parametrize("weight_decay,overrides", [
    (0.0, {}), (1e-2, {"trust_clip": True}), (1e-2, {"nesterov": True}), (0.0, {"always_adapt": False}),
    (1e-2, {"dampening": 0.3}), (1e-2, {"momentum": 0.0}),
    (1e-2, {"trust_clip": True, "lr": 1e-4}),  # lr below the trust ratio: the clip bites
])
@pytest.mark.parametrize("scaled", [False, True], ids=["fp32", "grad_scaler"])
def test_the_other_timm_options_match_too(weight_decay, overrides, scaled):
    """Every option, on both of FusedLars's paths (under a GradScaler: torch._fused_sgd_ applies it)."""
    model = small_game()
    fused_model, fused = twin(FusedLars, model, weight_decay, **overrides)
    timm_model, reference = twin(Lars, model, weight_decay, **overrides)
    fused_scaler, timm_scaler = scalers(scaled)
    run_steps(fused_model, fused, 3, fused_scaler)
    run_steps(timm_model, reference, 3, timm_scaler)
    assert_same(fused_model, fused, timm_model, reference)


@pytest.mark.parametrize("scaled", [False, True], ids=["fp32", "grad_scaler"])
def test_parameters_without_gradient_or_with_a_zero_one_match_too(scaled):
    """A parameter that gets its first gradient late (its momentum buffer starts then) and one whose
    gradient is all zeros (trust ratio 1 in timm) take the same path in both implementations."""
    model = small_game()
    twins = [twin(FusedLars, model), twin(Lars, model)]
    twin_scalers = scalers(scaled)
    for number in range(4):
        for (clone, optimizer), scaler in zip(twins, twin_scalers):
            optimizer.zero_grad(set_to_none=True)
            backward(loss_of(clone, number), scaler)
            if number < 2:
                clone[-1].weight.grad = None  # no gradient yet: no momentum buffer either
            clone[3].weight.grad.zero_()  # a decayed conv weight: its update is then the weight decay alone
            step(optimizer, scaler)
    (fused_model, fused), (timm_model, reference) = twins
    assert_same(fused_model, fused, timm_model, reference)


@pytest.mark.parametrize("device", DEVICES)
def test_equal_under_grad_scaler_including_a_skipped_overflow_step(device):
    model = small_game(device)
    fused_model, fused = twin(FusedLars, model)
    timm_model, reference = twin(Lars, model)
    scalers = [torch.amp.GradScaler(device, init_scale=2.0**10) for _ in range(2)]
    run_steps(fused_model, fused, 5, scalers[0], poison={0, 3})
    run_steps(timm_model, reference, 5, scalers[1], poison={0, 3})
    assert scalers[0].get_scale() == scalers[1].get_scale() == 2.0**8  # two overflows halved it twice
    assert_same(fused_model, fused, timm_model, reference)


@pytest.mark.parametrize("first,second", [(FusedLars, Lars), (Lars, FusedLars), (FusedLars, FusedLars)])
def test_state_dict_resumes_across_implementations(first, second):
    """A checkpoint's optimizer.state_dict() from one implementation resumes in the other."""
    model = small_game()
    straight_model, straight = twin(Lars, model)
    run_steps(straight_model, straight, 5)

    interrupted_model, interrupted = twin(first, model)
    run_steps(interrupted_model, interrupted, 3)
    saved_state, saved_weights = copy.deepcopy(interrupted.state_dict()), copy.deepcopy(interrupted_model.state_dict())
    resumed_model, resumed = twin(second, model)
    resumed_model.load_state_dict(saved_weights)
    resumed.load_state_dict(saved_state)
    assert resumed.param_groups[0]["trust_coeff"] == 1e-3
    run_steps(resumed_model, resumed, 2, first_step=3)
    assert_same(resumed_model, resumed, straight_model, straight)


def test_param_groups_read_like_timms():
    """Tests and tools that inspect LARS flags on the built optimiser see timm's keys and values."""
    model = small_game()
    fused = build_lars(model, lr=2.4, momentum=0.9, weight_decay=1e-5, trust_coefficient=1e-3)
    reference = build_lars(model, lr=2.4, momentum=0.9, weight_decay=1e-5, trust_coefficient=1e-3, impl="timm")
    assert isinstance(fused, FusedLars) and isinstance(reference, Lars)
    assert fused.defaults == reference.defaults
    strip = [{k: v for k, v in g.items() if k != "params"} for g in fused.param_groups]
    assert strip == [{k: v for k, v in g.items() if k != "params"} for g in reference.param_groups]
    with pytest.raises(ValueError, match="optim.lars_impl"):
        build_lars(model, lr=1.0, momentum=0.9, weight_decay=0.0, trust_coefficient=1e-3, impl="apex")


def test_defaults_and_argument_checks_are_timms():
    """FusedLars(params) alone means what Lars(params) means; bad arguments fail with timm's messages."""
    params = list(small_game().parameters())
    assert FusedLars(params).defaults == {**Lars(params).defaults, "foreach": None}
    assert FusedLars(params, lr=0.0).defaults["lr"] == 0.0  # zero is allowed, as in timm
    assert FusedLars(params, foreach=True).defaults["foreach"] is True  # kept for timm's state dicts
    bad = [{"lr": -0.1}, {"momentum": -0.5}, {"weight_decay": -1e-4}, {"nesterov": True, "momentum": 0.0},
           {"nesterov": True, "momentum": 0.9, "dampening": 0.1}]
    for kwargs in bad:
        with pytest.raises(ValueError) as reference:
            Lars(params, **kwargs)
        with pytest.raises(ValueError, match=f"^{reference.value}$"):
            FusedLars(params, **kwargs)


@pytest.mark.parametrize("scaled", [False, True], ids=["fp32", "grad_scaler"])
def test_parameters_of_two_dtypes_match_timm(scaled):
    """Norms of several dtypes cannot be stacked in one tensor, and torch._fused_sgd_ takes one dtype
    per call: those paths are checked against timm too."""
    model = small_game()
    model[-1].double()  # the head in float64, the rest in float32
    twins = [twin(FusedLars, model), twin(Lars, model)]
    twin_scalers = scalers(scaled)
    for step in range(3):
        for (clone, optimizer), scaler in zip(twins, twin_scalers):
            optimizer.zero_grad(set_to_none=True)
            images, labels = batch_of(step)
            features = clone[:-1](images)
            backward_and_step(nn.functional.cross_entropy(clone[-1](features.double()), labels), optimizer, scaler)
    (fused_model, fused), (timm_model, reference) = twins
    assert {p.dtype for p in fused_model.parameters()} == {torch.float32, torch.float64}
    assert_same(fused_model, fused, timm_model, reference)


def test_step_never_reads_a_tensor_back_to_the_host(monkeypatch):
    """No .item()/bool()/float() on a tensor inside step(): on CUDA each would stall the stream."""
    model = small_game()
    fused_model, fused = twin(FusedLars, model)
    run_steps(fused_model, fused, 1)  # momentum buffers exist: the steady-state path is checked next
    loss_of(fused_model, 1).backward()

    forbid_host_reads(monkeypatch, "FusedLars.step")
    fused.step()


def forbid_host_reads(patch, where: str) -> None:
    """Make every way of reading a tensor's value back to the host raise, naming ``where``."""
    def forbidden(*_args, **_kwargs):
        raise AssertionError(f"host synchronisation in {where}")

    for name in ("item", "__bool__", "__float__", "__int__", "tolist", "cpu", "numpy"):
        patch.setattr(torch.Tensor, name, forbidden)


@pytest.mark.parametrize("poisoned", [False, True], ids=["finite", "overflow"])
def test_a_grad_scaler_steps_fused_lars_without_reading_found_inf(monkeypatch, poisoned):
    """GradScaler reads its found_inf on the host before stepping an optimizer (to skip the call),
    unless the optimizer takes grad_scale and found_inf itself: FusedLars does, so scaler.step and
    scaler.update read nothing back, and an overflowing step still leaves weights and buffers alone."""
    model = small_game()
    fused_model, fused = twin(FusedLars, model)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
    run_steps(fused_model, fused, 1, scaler)  # momentum buffers exist
    fused.zero_grad(set_to_none=True)
    loss = loss_of(fused_model, 1) * (float("inf") if poisoned else 1.0)
    scaler.scale(loss).backward()
    before = copy.deepcopy((fused_model.state_dict(), fused.state_dict()["state"]))
    with monkeypatch.context() as patch:
        forbid_host_reads(patch, "GradScaler.step/update with FusedLars")
        scaler.step(fused)
        scaler.update()
    assert scaler.get_scale() == (2.0**9 if poisoned else 2.0**10)
    weights_kept = all(torch.equal(value, before[0][key]) for key, value in fused_model.state_dict().items())
    buffers_kept = all(torch.equal(state["momentum_buffer"], before[1][index]["momentum_buffer"])
                       for index, state in fused.state_dict()["state"].items())
    assert weights_kept == buffers_kept == poisoned


def test_config_key_chooses_the_implementation():
    from emcom.config import ConfigError, ExperimentConfig

    assert ExperimentConfig.from_dict({}).optim.lars_impl == "fused"
    assert ExperimentConfig.from_dict({"optim": {"lars_impl": "timm"}}).optim.lars_impl == "timm"
    with pytest.raises(ConfigError, match="optim.lars_impl"):
        ExperimentConfig.from_dict({"optim": {"lars_impl": "apex"}})


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA: the sync debug mode is CUDA's")
def test_a_grad_scaler_step_on_cuda_never_synchronises():
    """On a GPU, CUDA's own check: GradScaler.step/update with FusedLars make no synchronising call."""
    model = small_game("cuda")
    fused_model, fused = twin(FusedLars, model)
    scaler = torch.amp.GradScaler("cuda", init_scale=2.0**10)
    run_steps(fused_model, fused, 1, scaler)
    fused.zero_grad(set_to_none=True)
    scaler.scale(loss_of(fused_model, 1)).backward()
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        scaler.step(fused)
        scaler.update()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert scaler.get_scale() == 2.0**10
