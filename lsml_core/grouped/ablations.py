"""The grouped profile's ablations against its control, the table of them, its summary and the conclusions
generated from it.

An ablation compares a run with its control: the run that differs from it in exactly one factor and holds the
profile's control value of that factor; the difference in test exact match carries an interval over seeds and
test images (`lsml_core.bootstrap`; over test images only with one seed, which its sentence says).
An ablation whose arms give the same test outputs to the bit is called identical, not compared; one
drawn from an arm at chance level (`lsml_core.regime.near_chance` of its selection scores) is flagged.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from lsml_core import bootstrap, layout
from lsml_core.grouped.evaluate import read_predictions
from lsml_core.grouped.metrics import correct, group_probabilities
from lsml_core.grouped.runs import FACTORS, arm_regime, groups_of
from lsml_core.records import read_json

N_BOOT = 1000


LEVEL = 0.95  # of the interval over seeds and images


def correct_on_test(run_dir: Path, head: str) -> np.ndarray:
    """[N test images, groups] booleans of a run's test predictions."""
    labels, logits = read_predictions(Path(run_dir) / layout.predictions("test"))
    sizes = [len(c) for c in read_json(Path(run_dir) / layout.METRICS)["classes"]]
    return correct(labels, group_probabilities(logits, tuple(sizes), head))


def same_outputs(run_a: Path, run_b: Path) -> bool:
    """Whether two runs' test outputs (labels and logits) are equal to the bit."""
    (labels_a, logits_a), (labels_b, logits_b) = (
        read_predictions(Path(r) / layout.predictions("test")) for r in (run_a, run_b)
    )
    return np.array_equal(labels_a, labels_b) and np.array_equal(logits_a, logits_b)


def identical_reason(factor: str, arms: list[pd.DataFrame]) -> str:
    """Why two arms with equal outputs are equal: for pseudo-labels, when the run with them kept none."""
    if factor == "pseudo":
        with_pseudo = next(frame for frame in arms if (frame.pseudo == "on").all())
        if (with_pseudo.pseudo_kept.fillna(0) == 0).all():
            return "no pseudo-label was kept"
    return "their test outputs are equal to the bit"


def chance_flag(arms: dict[str, pd.DataFrame]) -> str:
    """Which arms of an ablation are at chance level on the selection part (`regime.near_chance`), as text:
    e.g. `control: accuracy_digit 0.124 (chance 0.115)`; empty when none is, or none recorded its regime."""
    flagged = []
    for name, frame in arms.items():
        summary = arm_regime(frame.regime.tolist())
        if summary and summary["near_chance"]:
            scores = summary["scores"]
            named = ", ".join(
                f"{k} {scores[k]['value']:.3f} (chance {scores[k]['chance']:.3f})" for k in summary["near_chance"]
            )
            flagged.append(f"{name}: {named}")
    return "; ".join(flagged)


def ablation_pairs(runs: pd.DataFrame, control_factors: dict) -> list[tuple[str, tuple, tuple]]:
    """(factor, control's factors, run's factors) for every pair of arms that differ in exactly one factor,
    the first holding the control's value of it; in the order of FACTORS, then of the runs."""
    arms = runs[list(FACTORS)].drop_duplicates().itertuples(index=False, name=None)
    arms = list(arms)
    pairs = []
    for base in arms:
        for other in arms:
            differ = [f for f, a, b in zip(FACTORS, base, other) if a != b]
            if len(differ) == 1 and base[FACTORS.index(differ[0])] == control_factors[differ[0]]:
                pairs.append((differ[0], base, other))
    return sorted(pairs, key=lambda pair: FACTORS.index(pair[0]))


def ablations(profile_dir: Path, runs: pd.DataFrame, control_factors: dict) -> pd.DataFrame:
    """Per ablation: test exact match of both arms, the difference with its interval (LEVEL) over seeds and test
    images (seeds paired), the per-group accuracy and ECE differences, the verdict (`identical to
    the control` when both arms' test outputs are equal to the bit), and which arms are at chance level."""
    test = runs[runs.split == "test"]
    groups = groups_of(test)
    rows = []
    for factor, base, other in ablation_pairs(test, control_factors):
        pick = [test[list(FACTORS)].apply(tuple, axis=1) == arm for arm in (base, other)]
        a, b = (test[p].set_index("seed") for p in pick)
        seeds = sorted(set(a.index) & set(b.index))
        if not seeds:
            continue
        head = dict(zip(FACTORS, base))["head"], dict(zip(FACTORS, other))["head"]
        dirs = [[Path(profile_dir) / layout.RUNS / frame.loc[s, "run"] for s in seeds] for frame in (a, b)]
        rights = [[correct_on_test(d, h).all(1) for d in arm_dirs] for arm_dirs, h in zip(dirs, head)]
        result = bootstrap.paired_mean_difference(*rights, n_boot=N_BOOT, seed=0, level=LEVEL)
        verdict = bootstrap.verdict(result)
        if all(same_outputs(x, y) for x, y in zip(*dirs)):
            verdict = f"identical to the control: {identical_reason(factor, [a.loc[seeds], b.loc[seeds]])}"
        context = ", ".join(f"{f} {v}" for f, v in zip(FACTORS, base) if f != factor and v != control_factors[f])
        rows.append(
            {
                "factor": factor,
                "control": dict(zip(FACTORS, base))[factor],
                "changed to": dict(zip(FACTORS, other))[factor],
                "where": context or "control",
                "seeds": len(seeds),
                "exact match, control": a.loc[seeds, "exact_match"].mean(),
                "exact match, changed": b.loc[seeds, "exact_match"].mean(),
                "difference": result["difference"],
                "interval low": result["ci_low"],
                "interval high": result["ci_high"],
                "verdict": verdict,
                "chance level": chance_flag({"control": a.loc[seeds], "changed arm": b.loc[seeds]}),
                **{
                    f"Δ accuracy {g}": b.loc[seeds, f"accuracy_{g}"].mean() - a.loc[seeds, f"accuracy_{g}"].mean()
                    for g in groups
                },
                **{
                    f"Δ {name} {g}": difference_of_means(a.loc[seeds], b.loc[seeds], f"{column}_{g}")
                    for name, column in (("ECE", "ece"), ("Brier", "brier"), ("log loss", "log_loss"))
                    for g in groups
                },
            }
        )
    return pd.DataFrame(rows)


def difference_of_means(control: pd.DataFrame, changed: pd.DataFrame, column: str) -> float:
    """changed - control of a metric's mean over seeds; NaN where a run lacks it (evaluated before it was recorded)."""
    if column not in control or column not in changed:
        return float("nan")
    return float(changed[column].mean(skipna=False) - control[column].mean(skipna=False))


def signed(table: pd.DataFrame) -> dict[str, str]:
    """Formats that show a table's differences (difference, its interval, the Δ columns) with their sign."""
    differences = [
        c for c in table.columns if c in ("difference", "interval low", "interval high") or c.startswith("Δ")
    ]
    return {column: "{:+.3f}" for column in differences}


def interval_text(low: float, high: float) -> str:
    """`[low, high]` of a difference's interval, signed."""
    return f"[{low:+.3f}, {high:+.3f}]"


def ablation_label(row: dict) -> str:
    """`factor control -> changed`, with the factors both arms hold away from the control."""
    where = "" if row["where"] == "control" else f" (with {row['where']})"
    return f"{row['factor']} {row['control']} -> {row['changed to']}{where}"


def chance_text(row: dict) -> str:
    """The flag of an ablation drawn from chance-level arms, or empty."""
    flagged = row.get("chance level") or ""
    return (
        f" Flagged: at chance level on the selection part: {flagged}; this comparison says nothing." if flagged else ""
    )


def conclusions(table: pd.DataFrame) -> list[str]:
    """One generated sentence per ablation, from its numbers; flagged when an arm is at chance level."""
    sentences = []
    for row in table.to_dict("records"):
        seeds = "one seed" if row["seeds"] == 1 else f"{row['seeds']} seeds"
        over = (
            f"over test images only, {bootstrap.ONE_SEED}"
            if row["seeds"] == 1
            else f"over seeds and test images, {seeds}"
        )
        if row["verdict"].startswith("identical"):
            sentences.append(
                f"{ablation_label(row)}: {row['verdict']} (test exact match {row['exact match, control']:.3f}, "
                f"{seeds}).{chance_text(row)}"
            )
            continue
        sentences.append(
            f"{ablation_label(row)}: test exact match "
            f"{row['exact match, control']:.3f} -> {row['exact match, changed']:.3f} ({row['difference']:+.3f}, "
            f"{LEVEL:.0%} interval {interval_text(row['interval low'], row['interval high'])} {over}): "
            f"{row['verdict']}.{chance_text(row)}"
        )
    return sentences


def summary_table(table: pd.DataFrame) -> pd.DataFrame:
    """The report's first table: per ablation, test exact match of control and changed arm, the difference
    and its interval over seeds and test images, the verdict (marked `(chance level)` when an arm is at chance)."""
    interval = f"{LEVEL:.0%} interval"
    columns = ["ablation", "seeds", "exact match, control", "exact match, changed", "difference", interval, "verdict"]
    if table.empty:
        return pd.DataFrame(columns=columns)
    records = table.to_dict("records")
    return table.assign(
        ablation=[ablation_label(r) for r in records],
        verdict=[r["verdict"] + (" (chance level)" if r.get("chance level") else "") for r in records],
        **{interval: [interval_text(r["interval low"], r["interval high"]) for r in records]},
    )[columns]


def interval_scope(table: pd.DataFrame) -> str:
    """What the ablations' intervals cover, for a title: seeds and test images, or test images only (one seed)."""
    seeds = table.seeds if len(table) else pd.Series([1])
    if (seeds > 1).all():
        return "seeds and test images"
    return "test images only (one seed)" if (seeds == 1).all() else "seeds and test images (images only at one seed)"
