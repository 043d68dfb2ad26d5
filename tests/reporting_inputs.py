"""Synthetic evaluation / analysis / summary files (INTERFACES.md) for the reporting tests."""

from __future__ import annotations

import json
from pathlib import Path

PAPER = Path(__file__).resolve().parents[1] / "data" / "paper_results.yaml"
GAMES = ("game_noaug_noshared", "game_noaug_shared", "game_aug_noshared", "game_aug_shared")
VARIANTS = ("simclr",) + GAMES


def evaluation(variant: str, test_set: str, accuracy: float, batch_size: int = 128, items: int = 1280) -> dict:
    noise = {"noise": "normalized", "noise_raw": "raw"}.get(test_set)
    return {"variant": variant, "kind": "simclr" if variant == "simclr" else "game",
            "protocol": "simclr_disc" if variant == "simclr" else "game", "test_set": test_set,
            "accuracy": accuracy, "chance": 1 / batch_size, "batch_size": batch_size, "batches": items // batch_size,
            "items": items, "seed": 0, "image_size": 32, "backbone": "small_resnet", "epochs": 4,
            "dataset": "stamps", "noise_definition": noise}


def score(value: float, significant: bool, null_mean: float = 0.1) -> dict:
    return {"value": value, "null_mean": null_mean, "null_sd": 0.01, "p_value": 0.001 if significant else 0.5,
            "significant": significant}


def analysis(protocol: str, test_set: str, symbols_used: int, nmi: float | None, wnsim: float | None,
             nmi_null: float = 0.1, wnsim_null: float = 0.05) -> dict:
    """None for a score = not significant (its value then equals its null mean)."""
    return {"protocol": protocol, "test_set": test_set, "items": 1280, "classes": 100, "symbols_used": symbols_used,
            "permutations": 1000, "alpha": 0.01, "seed": 0,
            "nmi": score(nmi_null if nmi is None else nmi, nmi is not None, nmi_null),
            "wnsim": score(wnsim_null if wnsim is None else wnsim, wnsim is not None, wnsim_null)}


def summary(variant: str, global_batch: int = 64, lr: float = 0.75) -> dict:
    return {"kind": "simclr" if variant == "simclr" else "game", "backbone": "small_resnet", "epochs": 4,
            "global_batch": global_batch, "lr": lr, "shared": "_shared" in variant, "augment": "_aug_" in variant}


def paper_like_run(kmeans_k: int = 2048) -> tuple[list[dict], list[dict]]:
    """Evaluation and analysis records carrying the paper's own numbers (chance 1/128)."""
    import yaml

    paper = yaml.safe_load(PAPER.read_text())
    evaluations = [evaluation(v, t, paper["table1"][v][{"noise_raw": "noise"}.get(t, t)] / 100)
                   for v in VARIANTS for t in ("val", "ood", "noise", "noise_raw")]
    protocols = {"simclr_disc": "simclr_disc", f"simclr_kmeans_k{kmeans_k}": "simclr_kmeans",
                 **{g: g for g in GAMES}}
    analyses = [analysis(p, t, **paper["table2"][row][t]) for p, row in protocols.items() for t in ("val", "ood")]
    return evaluations, analyses


def write_json(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path
