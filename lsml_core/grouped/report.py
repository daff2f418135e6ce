"""Tables and generated conclusions of the grouped report, computed from the runs' metrics.json and
predictions files.

The source's Table 1 (COMP551 mini-project 3, seeds/004) is kept here, labelled THEIRS, only to be shown
beside this project's numbers; nothing of ours is typed in. An ablation compares a run with its
control: the run that differs from it in exactly one factor and holds the profile's control value of
that factor; the difference in test exact match carries a paired bootstrap interval over test images.
"""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from lsml_core import bootstrap, results
from lsml_core.grouped.config import TrainConfig, load_profile
from lsml_core.grouped.evaluate import read_predictions
from lsml_core.grouped.metrics import correct, group_probabilities
from lsml_core.profiles import PROFILE_FILE
from lsml_core.records import read_json
from lsml_core.results import finished_runs

# THEIR Table 1: accuracy % (train / validation) after 20 and 50 epochs, per backbone (their main one, MobileNetV2,
# and the other, ResNet-50), auxiliary task and letter weight.
THEIRS = pd.DataFrame(
    [
        ("main", "MobileNetV2", "labeled", 5.0, 96.19, 91.75, 98.83, 93.23),
        ("main", "MobileNetV2", "labeled", 1.0, 97.09, 92.77, np.nan, np.nan),
        ("other", "ResNet-50", "labeled", 5.0, 94.23, 89.27, 99.17, 90.92),
        ("main", "MobileNetV2", "none", 5.0, 92.50, 88.43, 98.81, 93.82),
        ("main", "MobileNetV2", "unlabeled", 5.0, 96.22, 91.68, np.nan, np.nan),
    ],
    columns=[
        "role",
        "THEIRS backbone",
        "sesemi",
        "harder_weight",
        "20 ep train",
        "20 ep val",
        "50 ep train",
        "50 ep val",
    ],
)
FACTORS = ("backbone", "head", "sesemi", "weights", "smoothing", "pseudo")
TABLE_ONE_FIXED = ("head", "smoothing", "pseudo")  # held at the control's values in Table 1
N_BOOT = 1000
LEVEL = 0.95  # of the bootstrap interval


def factors(train: dict, groups: tuple[str, ...]) -> dict:
    """The factors an ablation varies, as text, from a saved train config."""
    t = TrainConfig(**train)
    return {
        "backbone": t.backbone,
        "head": t.head,
        "sesemi": t.sesemi,
        "weights": ", ".join(f"{g} {t.weight(g):g}" for g in groups),
        "smoothing": t.smoothing_name(groups),
        "pseudo": "on" if t.pseudo else "off",
    }


def runs_frame(profile_dir: Path) -> pd.DataFrame:
    """One row per finished run x split: the run's factors, seed, best epoch, pseudo-labels and every metric."""
    rows = []
    for run_dir, config, metrics in finished_runs(profile_dir):
        groups = tuple(metrics["groups"])
        pseudo = metrics.get("pseudo_labels") or {}
        for split, values in metrics["splits"].items():
            rows.append(
                {
                    "run": run_dir.name,
                    **factors(config["train"], groups),
                    "harder_weight": TrainConfig(**config["train"]).weight(groups[-1]),
                    "seed": config["train"]["seed"],
                    "best_epoch": metrics["best_epoch"],
                    "pseudo_fraction_kept": pseudo.get("fraction_kept"),
                    "pseudo_accuracy": pseudo.get("accuracy_of_kept"),
                    "pseudo_threshold": pseudo.get("threshold"),
                    "split": split,
                    **values,
                }
            )
    return pd.DataFrame(rows)


def control(profile_dir: Path) -> dict:
    """The control's factors (the profile's `train` section)."""
    profile = load_profile(Path(profile_dir) / PROFILE_FILE)
    return factors(vars(profile.train), profile.data.groups)


def table_one(runs: pd.DataFrame, control_factors: dict) -> pd.DataFrame:
    """Exact match (%) on train and val per backbone x SESEMI images x the harder group's weight, the other
    factors at the control's values: ours as mean ± std over seeds, THEIRS beside it where they ran it.

    Backbones are matched by role: the control's backbone stands beside their main one (MobileNetV2), any
    other beside their other one (ResNet-50). Rows only one side ran read `not run` on the other side's text
    columns; THEIR missing numbers stay NaN.
    """
    keep = np.logical_and.reduce([runs[f] == control_factors[f] for f in TABLE_ONE_FIXED])
    rows = runs[keep & runs.split.isin(["train", "val"])].assign(exact=lambda f: 100 * f.exact_match)
    if rows.empty:
        return pd.DataFrame()
    rows = rows.assign(role=np.where(rows.backbone == control_factors["backbone"], "main", "other"))
    keys = ["role", "backbone", "sesemi", "harder_weight"]
    wide = rows.pivot_table(index=keys + ["seed"], columns="split", values="exact", aggfunc="first").reset_index()
    ours = results.mean_std(wide, keys, ["train", "val"], digits=2)
    ours.columns = ["ours train", "ours val"]
    table = ours.reset_index().merge(THEIRS, on=["role", "sesemi", "harder_weight"], how="outer")
    table = table.rename(columns={"backbone": "ours backbone", "harder_weight": "weight of the harder group"})
    table = table.fillna({"ours backbone": "not run", "ours train": "not run", "ours val": "not run"})
    table = table.fillna({"THEIRS backbone": "not run by the source"})
    return table.rename(columns={c: f"THEIRS {c}" for c in THEIRS.columns[4:]}).drop(columns="role")


def correct_on_test(run_dir: Path, head: str) -> np.ndarray:
    """[N test images, groups] booleans of a run's test predictions."""
    labels, logits = read_predictions(Path(run_dir) / "predictions_test.csv")
    sizes = [len(c) for c in read_json(Path(run_dir) / results.METRICS)["classes"]]
    return correct(labels, group_probabilities(logits, tuple(sizes), head))


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
    """Per ablation: test exact match of both arms, the difference with its paired bootstrap interval (LEVEL)
    over test images (seeds paired), and the per-group accuracy and ECE differences."""
    test = runs[runs.split == "test"]
    groups = [c.removeprefix("accuracy_") for c in test.columns if c.startswith("accuracy_")]
    rows = []
    for factor, base, other in ablation_pairs(test, control_factors):
        pick = [test[list(FACTORS)].apply(tuple, axis=1) == arm for arm in (base, other)]
        a, b = (test[p].set_index("seed") for p in pick)
        seeds = sorted(set(a.index) & set(b.index))
        if not seeds:
            continue
        head = dict(zip(FACTORS, base))["head"], dict(zip(FACTORS, other))["head"]
        rights = [
            [correct_on_test(Path(profile_dir) / "runs" / frame.loc[s, "run"], h).all(1) for s in seeds]
            for frame, h in zip((a, b), head)
        ]
        result = bootstrap.paired_mean_difference(*rights, n_boot=N_BOOT, seed=0, level=LEVEL)
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
                "verdict": bootstrap.verdict(result),
                **{
                    f"Δ accuracy {g}": b.loc[seeds, f"accuracy_{g}"].mean() - a.loc[seeds, f"accuracy_{g}"].mean()
                    for g in groups
                },
                **{f"Δ ECE {g}": b.loc[seeds, f"ece_{g}"].mean() - a.loc[seeds, f"ece_{g}"].mean() for g in groups},
            }
        )
    return pd.DataFrame(rows)


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


def conclusions(table: pd.DataFrame) -> list[str]:
    """One generated sentence per ablation, from its numbers."""
    sentences = []
    for row in table.to_dict("records"):
        seeds = "one seed" if row["seeds"] == 1 else f"{row['seeds']} seeds"
        sentences.append(
            f"{ablation_label(row)}: test exact match "
            f"{row['exact match, control']:.3f} -> {row['exact match, changed']:.3f} ({row['difference']:+.3f}, "
            f"{LEVEL:.0%} interval {interval_text(row['interval low'], row['interval high'])} over test images, "
            f"{seeds}): {row['verdict']}."
        )
    return sentences


def summary_table(table: pd.DataFrame) -> pd.DataFrame:
    """The report's first table: per ablation, test exact match of control and changed arm, the difference
    and its bootstrap interval, the verdict."""
    interval = f"{LEVEL:.0%} interval"
    columns = ["ablation", "seeds", "exact match, control", "exact match, changed", "difference", interval, "verdict"]
    if table.empty:
        return pd.DataFrame(columns=columns)
    records = table.to_dict("records")
    return table.assign(
        ablation=[ablation_label(r) for r in records],
        **{interval: [interval_text(r["interval low"], r["interval high"]) for r in records]},
    )[columns]


def ablations_figure(table: pd.DataFrame):
    """Each ablation's difference in test exact match (changed - control) with its bootstrap interval."""
    labels = [ablation_label(row) for row in table.to_dict("records")]
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.4 * max(len(labels), 1)))
    ax.axvline(0, color="grey", linewidth=1)
    y = np.arange(len(labels))[::-1]
    if len(labels):
        error = [
            (table.difference - table["interval low"]).clip(lower=0),
            (table["interval high"] - table.difference).clip(lower=0),
        ]
        ax.errorbar(table.difference, y, xerr=error, fmt="o", capsize=3)
    else:
        ax.text(0.5, 0.5, "no ablation has both of its runs finished", transform=ax.transAxes, ha="center")
    ax.set_yticks(y, labels)
    ax.set(
        xlabel="difference in test exact match (changed - control)",
        title=f"Ablations: difference with its {LEVEL:.0%} paired bootstrap interval over test images",
    )
    fig.tight_layout()
    return fig


def pseudo_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per run with pseudo-labels: the threshold chosen on validation, the fraction kept, their accuracy
    (NaN where none was kept)."""
    rows = runs[(runs.split == "test") & (runs.pseudo == "on")]
    return rows[["run", "pseudo_threshold", "pseudo_fraction_kept", "pseudo_accuracy"]].reset_index(drop=True)


def runs_on_test(runs: pd.DataFrame) -> pd.DataFrame:
    """Every run's factors, seed, best epoch and test metrics (pseudo-labels: see `pseudo_table`)."""
    test = runs[runs.split == "test"].reset_index(drop=True)
    return test.drop(columns=["split", "harder_weight", *[c for c in test.columns if c.startswith("pseudo_")]])


def confusion_frames(run_dir: Path) -> dict[str, pd.DataFrame]:
    """group -> the run's test confusion matrix as a frame (rows true, columns predicted)."""
    metrics = read_json(Path(run_dir) / results.METRICS)
    return {
        group: pd.DataFrame(matrix, index=classes, columns=classes)
        for (group, matrix), classes in zip(metrics["confusion_matrices"].items(), metrics["classes"])
    }
