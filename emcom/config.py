"""One training run's configuration: dataclasses built from YAML, validated, written beside outputs.

A run config has four sections (``model``, ``data``, ``optim``, ``run``). Defaults are the paper's
full-scale values (SPEC.md); the embedded default overrides a few of them in ``config.yaml``.
Unknown keys and bad values raise :class:`ConfigError` naming the key, so a typo in a YAML file
never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

import yaml

from emcom.io import atomic_write_text

MODEL_KINDS = ("game", "simclr")
BACKBONES = ("resnet50", "resnet18", "small_resnet")
NTXENT_VARIANTS = ("standard", "egg")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
BAD_IMAGE_POLICIES = ("error", "skip")
LARS_IMPLEMENTATIONS = ("fused", "timm")
AUGMENT_PLACES = ("workers", "device")


class ConfigError(ValueError):
    """A configuration value or key is wrong; the message names it."""


# Keys that change how a run executes or reports, never what it computes. A checkpoint written under
# other values of these is still resumed (emcom.checkpoint.run_identity leaves them out); any other
# key, including one added later, binds the checkpoint to its value.
OPERATIONAL_KEYS = frozenset({
    "run.progress_bar",  # display only
    "run.checkpoint_every",  # how often the state is saved; each epoch reseeds from (seed, epoch, rank)
    "run.cpu_threads",  # intra-op threads: speed (and the order of float sums, last bits only)
    "run.channels_last",  # CUDA memory layout: speed, same arithmetic
    # Loader processes: speed. With augmentations it changes which random crop each image draws
    # (workers are seeded per worker), not their distribution: a resume on a machine with fewer
    # cores is the same experiment, though not bit-identical to an uninterrupted run.
    "data.num_workers",
    # Same LARS update either way (equal to float tolerance, tests/test_lars.py), different kernels.
    "optim.lars_impl",
    # Where the views are made (workers or device): same distribution, other draws, like num_workers.
    "data.augment_on",
    # Views made ahead in a thread or in the loop: the same views from the same draws.
    "data.views_ahead",
})


@dataclass
class ModelConfig:
    """What network to build. The paper: ResNet-50, 2048 everywhere, τ_gumbel 5, cosine τ 0.1."""

    kind: str = "game"  # "game" (Sender/Receiver) or "simclr" (the baseline)
    backbone: str = "resnet50"
    shared: bool = False  # game only: one CNN for both agents (+shared)
    vocab_size: int = 2048
    hidden_size: int = 2048
    gumbel_temperature: float = 5.0
    similarity_temperature: float = 0.1  # the game's cosine temperature and NT-Xent's τ
    ntxent_variant: str = "standard"  # SimCLR only: "standard" or the authors' "egg" quirk
    low_resolution_stem: bool = False  # 3x3 stride-1 stem without max-pool, for inputs ≤ 64 px

    def validate(self) -> None:
        _choice("model.kind", self.kind, MODEL_KINDS)
        _choice("model.backbone", self.backbone, BACKBONES)
        _choice("model.ntxent_variant", self.ntxent_variant, NTXENT_VARIANTS)
        _positive("model.vocab_size", self.vocab_size)
        _positive("model.hidden_size", self.hidden_size)
        _positive("model.gumbel_temperature", self.gumbel_temperature)
        _positive("model.similarity_temperature", self.similarity_temperature)
        if self.kind == "simclr" and self.shared is False:
            # SimCLR has one CNN by definition; record it so the config reads true.
            self.shared = True


@dataclass
class DataConfig:
    """Where the images are and how they are shown. ``root`` holds ``<split>/<wnid>/*``."""

    root: str = "resources/datasets/imagenet"
    split: str = "train"
    image_size: int = 224
    augment: bool = True  # SimCLR augmentations (two independent views) or the plain squash resize
    min_crop_scale: float = 0.08  # RandomResizedCrop's smallest area fraction (SimCLR: 0.08)
    # Gaussian blur σ range in pixels, drawn uniformly (SimCLR's and the authors': 0.1–2.0 at 224 px).
    # σ is in pixels of the trained image, so the same range blurs a 32 px image 7× more, relative to
    # its content, than a 224 px one; a small-image run may scale it (image_size / 224).
    blur_sigma: list = field(default_factory=lambda: [0.1, 2.0])
    # SimCLR's colour-distortion strength s: ColorJitter(0.8 s, 0.8 s, 0.8 s, 0.2 s) (the paper: s = 1;
    # SimCLR's CIFAR-10 runs: s = 0.5).
    color_jitter_strength: float = 1.0
    num_workers: int = 8
    on_bad_image: str = "error"  # "error": stop naming the file; "skip": drop it and count it
    # Where the views are made: "workers" (per image, PIL, in the loader processes) or "device" (workers
    # only decode and resize to load_size; the batch is augmented on the training device,
    # emcom.data.batch_augment). Same distribution of views, different random draws.
    augment_on: str = "workers"
    load_size: int = 0  # augment_on: device: side of the uint8 square workers resize to; 0 = image_size
    # augment_on: device only: "device" decodes JPEG files on the training device (nvJPEG on CUDA,
    # emcom.data.gpu_decode); other files (PNG) are still decoded by the workers.
    decode_on: str = "workers"
    # augment_on: device only: batches whose views a background thread makes ahead of the training loop
    # (emcom.data.ahead; same views, same draws). 0 = made in the loop, between steps.
    views_ahead: int = 0

    def validate(self) -> None:
        _positive("data.image_size", self.image_size)
        if self.num_workers < 0:
            raise ConfigError(f"data.num_workers must be >= 0, got {self.num_workers!r}")
        _choice("data.on_bad_image", self.on_bad_image, BAD_IMAGE_POLICIES)
        _choice("data.augment_on", self.augment_on, AUGMENT_PLACES)
        if self.load_size < 0:
            raise ConfigError(f"data.load_size must be >= 0 (0 = image_size), got {self.load_size!r}")
        _choice("data.decode_on", self.decode_on, AUGMENT_PLACES)
        if self.views_ahead < 0:
            raise ConfigError(f"data.views_ahead must be >= 0 (0 = views made in the training loop), got {self.views_ahead!r}")
        if self.decode_on == "device" and self.augment_on != "device":
            raise ConfigError("data.decode_on: device needs data.augment_on: device (views are made from the decoded batch)")
        if not 0 < self.min_crop_scale <= 1:
            raise ConfigError(f"data.min_crop_scale must be in (0, 1], got {self.min_crop_scale!r}")
        if not 0 <= self.color_jitter_strength <= 1.25:  # 0.8 s <= 1: brightness/contrast/saturation factors stay >= 0
            raise ConfigError(f"data.color_jitter_strength must be in [0, 1.25], got {self.color_jitter_strength!r}")
        sigma = self.blur_sigma
        if not (isinstance(sigma, (list, tuple)) and len(sigma) == 2
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in sigma)
                and 0 < sigma[0] <= sigma[1]):
            raise ConfigError(f"data.blur_sigma must be [low, high] with 0 < low <= high, got {sigma!r}")
        self.blur_sigma = [float(sigma[0]), float(sigma[1])]


@dataclass
class OptimConfig:
    """LARS-wrapped SGD with linear lr scaling and cosine decay (SPEC.md, Training)."""

    epochs: int = 100
    batch_size: int = 128  # per process: it is also the number of game candidates
    # Images per optimizer step over all processes; 0 = batch_size × processes (lr scaled to it).
    # A multiple of that reaches it by gradient accumulation (emcom/training/batching.py).
    global_batch: int = 0
    base_lr: float = 0.3  # lr = base_lr × global_batch / 256
    momentum: float = 0.9
    weight_decay: float = 1e-5  # on parameters with ndim ≥ 2 only
    trust_coefficient: float = 1e-3
    warmup_epochs: int = 0
    lars_impl: str = "fused"  # "fused": multi-tensor kernels (emcom.training.lars); "timm": timm's Lars (reference)

    def validate(self) -> None:
        _positive("optim.epochs", self.epochs)
        _positive("optim.batch_size", self.batch_size)
        if self.batch_size < 2:
            raise ConfigError(f"optim.batch_size must be >= 2 (target + distractors), got {self.batch_size}")
        _positive("optim.base_lr", self.base_lr)
        if self.global_batch < 0:
            raise ConfigError(f"optim.global_batch must be >= 0 (0: batch_size × processes), got {self.global_batch}")
        _choice("optim.lars_impl", self.lars_impl, LARS_IMPLEMENTATIONS)
        if not 0 <= self.warmup_epochs < self.epochs:
            raise ConfigError(f"optim.warmup_epochs must be in [0, epochs), got {self.warmup_epochs}")


@dataclass
class RunConfig:
    """How the run executes: seed, precision, checkpoints, negatives."""

    seed: int = 111
    precision: str = "auto"  # auto: fp16 + grad scaler on CUDA (the paper), fp32 on CPU
    channels_last: bool = True  # applied on CUDA only
    gather_negatives: bool = False  # the paper plays with per-GPU candidates only
    checkpoint_every: int = 1  # epochs
    max_steps_per_epoch: int = 0  # 0 = the whole epoch; >0 truncates (tests, smoke runs)
    # fp16 (grad scaler): non-finite steps are skipped; this many in a row stop the run (loop.py)
    max_consecutive_nonfinite: int = 100
    cpu_threads: int = 0  # torch intra-op threads of the training process; 0 = auto (leave cores to loader workers)
    progress_bar: bool = True

    def validate(self) -> None:
        _choice("run.precision", self.precision, PRECISIONS)
        _positive("run.checkpoint_every", self.checkpoint_every)
        _positive("run.max_consecutive_nonfinite", self.max_consecutive_nonfinite)
        if self.cpu_threads < 0:
            raise ConfigError(f"run.cpu_threads must be >= 0, got {self.cpu_threads}")
        if self.max_steps_per_epoch < 0:
            raise ConfigError(f"run.max_steps_per_epoch must be >= 0, got {self.max_steps_per_epoch}")


@dataclass
class ExperimentConfig:
    """Everything one training run needs; stored inside every checkpoint."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def validate(self) -> "ExperimentConfig":
        for section in (self.model, self.data, self.optim, self.run):
            section.validate()
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], source: str = "config") -> "ExperimentConfig":
        """Build and validate from nested mappings; unknown keys raise naming ``source``."""
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{source}: expected a mapping of sections, got {type(raw).__name__}")
        sections = {f.name: f.default_factory for f in fields(cls)}  # type: ignore[misc]
        unknown = set(raw) - set(sections)
        if unknown:
            raise ConfigError(f"{source}: unknown section(s) {sorted(unknown)}; expected {sorted(sections)}")
        built = {name: _section(factory, raw.get(name) or {}, f"{source}:{name}") for name, factory in sections.items()}
        return cls(**built).validate()


def _section(factory, raw: Mapping[str, Any], where: str):
    """Build one section dataclass, checking key names and value types against the defaults."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {raw!r}")
    default = factory()
    known = {f.name for f in fields(default)}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; known keys: {sorted(known)}")
    values = {}
    for key, value in raw.items():
        expected = type(getattr(default, key))
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ConfigError(f"{where}.{key}: expected {expected.__name__}, got {value!r}")
        values[key] = value
    return dataclasses.replace(default, **values)


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``base`` updated by ``override``, recursing into nested mappings."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_config(path: str | Path) -> ExperimentConfig:
    """Read a run config YAML file (sections model/data/optim/run)."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    return ExperimentConfig.from_dict(raw or {}, source=str(path))


def save_config(config: ExperimentConfig, path: str | Path) -> None:
    """Write the resolved config as YAML, atomically."""
    atomic_write_text(Path(path), yaml.safe_dump(config.to_dict(), sort_keys=False))


def _choice(key: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{key} must be one of {list(allowed)}, got {value!r}")


def _positive(key: str, value: float) -> None:
    if not value > 0:
        raise ConfigError(f"{key} must be > 0, got {value!r}")
