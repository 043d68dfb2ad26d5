"""ILSVRC-2012 (user-supplied) and the paper's out-of-ILSVRC OOD set, in the one dataset layout.

Output::

    <root>/train -> imagenet.train     symlink to the user's 1000 <wnid>/ folders
    <root>/val   -> imagenet.val       symlink to the 50k val images in <wnid>/ folders
    <root>/ood/<wnid>/<file>.JPEG      the 10,240 images of OOD_set.txt, linked (or copied) from
                                       imagenet.full (the full ImageNet, 21k synsets)
    <root>/classes.tsv                 wnid, name (WordNet lemma), source (ilsvrc2012 | imagenet-full)
    <root>/manifest.json               per-split counts and config (written last)

Checks, each a clear error: a folder missing (naming its config key), a train/val folder without
exactly the 1000 ILSVRC-2012 wnids, an OOD list line that is not ``nXXXXXXXX/nXXXXXXXX_N.JPEG``,
and OOD images missing from ``imagenet.full`` (listed in a file; nothing partial is built).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any, Mapping, Optional

from emcom.data.manifest import write_classes, write_manifest
from emcom.data.staging import staged_folder
from emcom.io import atomic_write_text

log = logging.getLogger(__name__)

ILSVRC_CLASSES = 1000
_OOD_LINE = re.compile(r"^(n\d{8})/\1_\d+\.JPEG$")


class ImageNetError(ValueError):
    """The user's ImageNet copy or the OOD list is unusable; the message names key, path or line."""


def ilsvrc_wnids() -> list[str]:
    """The 1000 ILSVRC-2012 wnids in the standard (sorted) order, from the list timm ships."""
    from importlib.resources import files

    text = files("timm").joinpath("data/_info/imagenet_synsets.txt").read_text()
    wnids = [line.strip() for line in text.splitlines() if line.strip()]
    if len(wnids) != ILSVRC_CLASSES or wnids != sorted(wnids):
        raise RuntimeError(f"timm's imagenet_synsets.txt holds {len(wnids)} wnids, expected the sorted {ILSVRC_CLASSES}")
    return wnids


def read_ood_list(path: str | Path) -> list[tuple[str, str]]:
    """``(wnid, relative path)`` for each image of the OOD list; ``#`` lines are comments.

    The paper's ``OOD_set.txt``: a comment header, then 10,240 lines ``nXXXXXXXX/nXXXXXXXX_N.JPEG``
    relative to the folder holding the full-ImageNet synset archives, unpacked one folder each.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageNetError(f"OOD list not found: {path} (config key imagenet.ood_list)")
    entries = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _OOD_LINE.match(line)
        if not match:
            raise ImageNetError(f"{path}:{number}: {line!r} is not 'nXXXXXXXX/nXXXXXXXX_N.JPEG'")
        entries.append((match.group(1), line))
    if not entries:
        raise ImageNetError(f"{path}: lists no image")
    return entries


def check_split_folder(folder: Optional[str], key: str, known: set[str]) -> Path:
    """A train/val folder: it exists and holds exactly the 1000 ILSVRC wnid folders, none empty."""
    if folder is None:
        raise ImageNetError(f"config key {key} is null: set it to your ILSVRC-2012 folder (docs/data.md)")
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise ImageNetError(f"config key {key}: folder not found: {path}")
    wnids = sorted(entry.name for entry in os.scandir(path) if entry.is_dir())
    unknown = [w for w in wnids if w not in known]
    if unknown:
        raise ImageNetError(
            f"config key {key}: {path} has {len(unknown)} folder(s) that are not ILSVRC-2012 wnids: {unknown[:5]}"
        )
    if len(wnids) != ILSVRC_CLASSES:
        missing = sorted(known - set(wnids))
        raise ImageNetError(
            f"config key {key}: {path} has {len(wnids)} class folders, expected {ILSVRC_CLASSES} "
            f"(missing e.g. {missing[:5]})"
        )
    empty = [w for w in wnids if not any(True for _ in os.scandir(path / w))]
    if empty:
        raise ImageNetError(f"config key {key}: empty class folder(s) in {path}: {empty[:5]}")
    return path.resolve()


def link_ood_images(
    entries: list[tuple[str, str]], full: Path, ood_dir: Path, copy: bool, missing_report: Path
) -> int:
    """Link (or copy) every listed image into ``ood_dir/<wnid>/``; return the count.

    Every file is checked first: if any is missing, their list is written to ``missing_report``
    and :class:`ImageNetError` is raised before anything is linked.
    """
    missing = [relative for _, relative in entries if not (full / relative).is_file()]
    if missing:
        atomic_write_text(missing_report, "\n".join(missing) + "\n")
        raise ImageNetError(
            f"{len(missing)} of {len(entries)} OOD images are missing from {full} (config key imagenet.full), "
            f"e.g. {missing[0]}; the full list is in {missing_report}. Unpack those synsets' archives there."
        )
    for done, (wnid, relative) in enumerate(entries, start=1):
        target = ood_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if copy:
            shutil.copyfile(full / relative, target)
        else:
            target.symlink_to((full / relative).resolve())
        if done % 2048 == 0 or done == len(entries):
            log.info("ood: %d/%d images %s", done, len(entries), "copied" if copy else "linked")
    return len(entries)


def build_imagenet_dataset(
    out_root: str | Path,
    config: Mapping[str, Any],
    nltk_data: str | Path,
    missing_report: Optional[str | Path] = None,
) -> dict:
    """Build the imagenet dataset folder at ``out_root`` from the ``imagenet:`` config section.

    Keys: ``train``, ``val``, ``full`` (folders; all required), ``ood_list`` (the paper's list),
    ``ood_copy`` (copy OOD images instead of symlinking them). ``missing_report`` is where the list
    of missing OOD images goes (default: ``<out_root>.missing_ood.txt``).
    """
    from emcom.wordnet import WordNet

    nulls = [f"imagenet.{key}" for key in ("train", "val", "full") if config.get(key) is None]
    if nulls:
        raise ImageNetError(
            f"the imagenet dataset needs config key(s) {nulls}, which are null: point them at your "
            "ILSVRC-2012 train/val folders and the full ImageNet folder (docs/data.md)"
        )
    out_root = Path(out_root)
    known = set(ilsvrc_wnids())
    train = check_split_folder(config["train"], "imagenet.train", known)
    val = check_split_folder(config["val"], "imagenet.val", known)
    full = Path(config["full"]).expanduser()
    if not full.is_dir():
        raise ImageNetError(f"config key imagenet.full: folder not found: {full}")
    entries = read_ood_list(config.get("ood_list", "data/OOD_set.txt"))
    overlap = sorted({w for w, _ in entries} & known)
    if overlap:
        raise ImageNetError(f"OOD list names ILSVRC-2012 class(es) {overlap[:5]}: the OOD set must not")
    report = Path(missing_report) if missing_report else out_root.with_name(out_root.name + ".missing_ood.txt")
    wordnet = WordNet(nltk_data)

    with staged_folder(out_root) as root:
        (root / "train").symlink_to(train, target_is_directory=True)
        (root / "val").symlink_to(val, target_is_directory=True)
        link_ood_images(entries, full.resolve(), root / "ood", bool(config.get("ood_copy", False)), report)
        ood_wnids = sorted({w for w, _ in entries})
        write_classes(
            root,
            [{"wnid": w, "name": wordnet.name(w), "source": "ilsvrc2012"} for w in sorted(known)]
            + [{"wnid": w, "name": wordnet.name(w), "source": "imagenet-full:OOD_set.txt"} for w in ood_wnids],
        )
        log.info("counting images (train has ~1.28M files: this takes a while on a network disk)")
        manifest = write_manifest(root, "imagenet", ("train", "val", "ood"), dict(config))
    report.unlink(missing_ok=True)  # an old list of missing files no longer applies
    return manifest

