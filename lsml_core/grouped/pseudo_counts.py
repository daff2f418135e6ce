"""How many unlabeled images passed the pseudo-label threshold and how many of them were exactly right, per arm
with pseudo-labels (mean and range over its seeds), and how an arm changed those counts against the arm it is
compared with (per seed paired, mean and range): smoothing lowers the confidences the threshold is chosen on,
so it changes which images pass. The counts come from each run's pseudo-label record (`grouped.pseudo`),
scored against the withheld labels.
"""

import pandas as pd

from lsml_core.grouped.runs import FACTORS

COUNTS = {"pseudo_kept": "passed", "pseudo_kept_right": "exactly right"}


def arm_name(key: tuple, control_factors: dict) -> str:
    """An arm named by the factors it changes against the control (`control` for the control itself)."""
    changed = [f"{f} {v}" for f, v in zip(FACTORS, key) if v != control_factors.get(f)]
    return ", ".join(changed) or "control"


def per_arm(runs: pd.DataFrame, control_factors: dict) -> pd.DataFrame:
    """Per arm with pseudo-labels on: its seeds, how many of its runs recorded their pseudo-labels, the mean,
    lowest and highest count of unlabeled images kept and of those exactly right, the share right of all kept
    (pooled over seeds; NaN where none was kept) and the mean threshold (over the runs that set one)."""
    test = runs[(runs.split == "test") & (runs.pseudo == "on")] if not runs.empty else runs
    rows = []
    for key, arm in test.groupby(list(FACTORS), sort=False) if not test.empty else []:
        recorded = arm.dropna(subset=list(COUNTS))
        kept, right = recorded.pseudo_kept.astype(float), recorded.pseudo_kept_right.astype(float)
        rows.append(
            {
                "arm": arm_name(key, control_factors),
                "seeds": len(arm),
                "recorded": len(recorded),
                **{f"kept {stat}": getattr(kept, stat)() for stat in ("mean", "min", "max")},
                **{f"right {stat}": getattr(right, stat)() for stat in ("mean", "min", "max")},
                "share right": right.sum() / kept.sum() if kept.sum() > 0 else float("nan"),
                "threshold mean": pd.to_numeric(recorded.pseudo_threshold, errors="coerce").mean(),
            }
        )
    columns = ["arm", "seeds", "recorded", "kept mean", "kept min", "kept max", "right mean", "right min"]
    return pd.DataFrame(rows, columns=[*columns, "right max", "share right", "threshold mean"])


def paired_changes(runs: pd.DataFrame, base: tuple, other: tuple) -> dict | None:
    """`other` minus `base` in images kept and kept exactly right, per seed both recorded: the seeds, and the mean,
    lowest and highest change of each; None without such a seed."""
    test = runs[runs.split == "test"]
    arms = [test[test[list(FACTORS)].apply(tuple, axis=1) == arm].set_index("seed") for arm in (base, other)]
    a, b = (arm.dropna(subset=list(COUNTS)) for arm in arms)
    seeds = sorted(set(a.index) & set(b.index))
    if not seeds:
        return None
    found = {"seeds": len(seeds)}
    for column, name in COUNTS.items():
        change = b.loc[seeds, column].astype(float) - a.loc[seeds, column].astype(float)
        found |= {f"{name} mean": change.mean(), f"{name} min": change.min(), f"{name} max": change.max()}
    return found


def count_range(row: dict, name: str) -> str:
    """`291 on average (range 176-447)`, or `176` where every seed kept as many."""
    low, high = row[f"{name} min"], row[f"{name} max"]
    if low == high:
        return f"{low:,.0f}"
    return f"{row[f'{name} mean']:,.0f} on average (range {low:,.0f}-{high:,.0f})"


def arm_sentence(row: dict, n_unlabeled: int) -> str:
    """One arm's pseudo-labels: how many of the unlabeled images passed the threshold and how many were right."""
    seeds = "one seed" if row["seeds"] == 1 else f"{row['seeds']} seeds"
    if row["recorded"] == 0:
        return f"{row['arm']}: its pseudo-labels are not recorded (finished by an older revision)."
    missing = "" if row["recorded"] == row["seeds"] else f" ({row['seeds'] - row['recorded']} not recorded)"
    if row["kept max"] == 0:
        return (
            f"{row['arm']}: no unlabeled image passed the threshold ({seeds}{missing}): no precision the selection "
            "part could support was reached."
        )
    return (
        f"{row['arm']}: {count_range(row, 'kept')} of the {n_unlabeled:,} unlabeled images passed the threshold, "
        f"{count_range(row, 'right')} of them exactly right ({row['share right']:.0%} of all kept; {seeds}{missing})."
    )


def change_text(change: dict, name: str, verb: str) -> str:
    """`41 fewer passed (per seed -80 to +10)`: the mean paired change of a count, `verb` after it, and its range."""
    mean, low, high = change[f"{name} mean"], change[f"{name} min"], change[f"{name} max"]
    size = "as many" if mean == 0 else f"{abs(mean):,.0f} {'more' if mean > 0 else 'fewer'}"
    spread = f"{low:+,.0f}" if low == high else f"{low:+,.0f} to {high:+,.0f}"
    return f"{size} {verb} ({'the seed' if change['seeds'] == 1 else 'per seed'} {spread})"


def change_sentence(label: str, change: dict | None) -> str:
    """How an arm changed the pseudo-labels against its control, per seed paired."""
    if change is None:
        return f"{label}: no seed recorded the pseudo-labels of both arms."
    seeds = "one seed" if change["seeds"] == 1 else f"mean over {change['seeds']} seeds paired"
    return (
        f"{label}: {change_text(change, 'passed', 'passed the threshold')}, "
        f"{change_text(change, 'exactly right', 'were exactly right')}; {seeds}."
    )
