"""Table 3's claim at the embedded default's scale, as checks the claims page can print.

The paper (Sec. 4.3): the +aug games' Sender features are "of comparable quality" to SimCLR's.
Here that reads, on one dataset (stamps by default): each +aug game's top-1 is at least
``simclr_ratio`` (0.9) × SimCLR's, and at least ``floor_margin`` (10) points above the randomly
initialised CNN's (calibration-probe.md: random features are a strong floor on stamps, so
"comparable to SimCLR" alone could hold with both at the floor).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

AUG_GAMES = ("game_aug_noshared", "game_aug_shared")


def table3_checks(table3: pd.DataFrame, dataset: str = "stamps", simclr_ratio: float = 0.9,
                  floor_margin: float = 10.0) -> tuple[list[dict[str, Any]], list[str]]:
    """(checks, missing) from table3.csv's frame: one check per +aug game, ``pass`` when both hold.

    ``missing`` names the rows (model/dataset) the check needs and the table lacks.
    """
    rows = table3[(table3["dataset"] == dataset) & (table3.get("source", "computed") != "quoted")]
    values = rows.set_index("model")["value"]
    missing = [f"{m}/{dataset}" for m in ("simclr", "random_init", *AUG_GAMES) if m not in values.index]
    checks = []
    if "simclr" in values.index and "random_init" in values.index:
        simclr, floor = float(values["simclr"]), float(values["random_init"])
        for game in AUG_GAMES:
            if game not in values.index:
                continue
            value = float(values[game])
            checks.append({"game": game, "dataset": dataset, "game_value": value, "simclr_value": simclr,
                           "random_init_value": floor, "ratio_to_simclr": round(value / simclr, 3) if simclr else None,
                           "points_above_random_init": round(value - floor, 2),
                           "pass": bool(value >= simclr_ratio * simclr and value - floor >= floor_margin)})
    return checks, missing


def verdict_line(checks: list[dict[str, Any]], missing: list[str], simclr_ratio: float = 0.9,
                 floor_margin: float = 10.0) -> str:
    """One Markdown sentence: the rule, the verdict and the numbers."""
    rule = f"each +aug game ≥ {simclr_ratio} × SimCLR and ≥ {floor_margin:g} points above random init"
    if missing or not checks:
        return f"Claim (Sec. 4.3, {rule}): not tested, missing {', '.join(missing) or 'rows'}."
    verdict = "holds" if all(c["pass"] for c in checks) else "does not hold"
    numbers = "; ".join(f"{c['game']} {c['game_value']:.1f} ({c['ratio_to_simclr']}× SimCLR {c['simclr_value']:.1f}, "
                        f"{c['points_above_random_init']:+.1f} vs random init {c['random_init_value']:.1f})"
                        for c in checks)
    return f"Claim (Sec. 4.3, on {checks[0]['dataset']}: {rule}): **{verdict}**: {numbers}."
