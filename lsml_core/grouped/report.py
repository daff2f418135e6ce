"""Tables and generated conclusions of the grouped report, computed from the runs' metrics.json and
predictions files.

The source's Table 1 (Dossev, Gallant & Shahrad, "Multi-label Classification of Image Data", COMP551
mini-project 3, 2021) is kept here, labelled THEIRS, only to be shown beside this project's numbers; nothing of ours is typed in. An ablation compares a run with its
control: the run that differs from it in exactly one factor and holds the profile's control value of
that factor; the difference in test exact match carries an interval over seeds and test images
(`lsml_core.bootstrap`; over test images only with one seed, which its sentence says).
An ablation whose arms give the same test outputs to the bit is called identical, not compared; one
drawn from an arm at chance level (`lsml_core.regime.near_chance` of its validation scores) is flagged.
The regime of the control (`lsml_core.regime.reading`) opens the report; its conclusions open with
`lsml_core.regime.conclusion_caveat`.
"""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from lsml_core import bootstrap, dose, layout, regime, results
from lsml_core.grouped.config import TrainConfig, load_profile
from lsml_core.grouped.evaluate import read_predictions
from lsml_core.grouped.metrics import correct, group_probabilities
from lsml_core.records import read_json
from lsml_core.results import finished_runs

# THEIR Table 1: accuracy % (train / validation) after 20 and 50 epochs, per model (their main one, MobileNetV2,
# and the other, ResNet-50), auxiliary task and the weight of their harder group, the letter (the digit's 1).
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
        "THEIRS model",
        "sesemi",
        "harder_weight",
        "20 ep train",
        "20 ep val",
        "50 ep train",
        "50 ep val",
    ],
)
FACTORS = ("model", "head", "sesemi", "weights", "smoothing", "pseudo")
TABLE_ONE_FIXED = ("head", "smoothing", "pseudo")  # held at the control's values in Table 1
N_BOOT = 1000
LEVEL = 0.95  # of the interval over seeds and images


def factors(train: dict, groups: tuple[str, ...]) -> dict:
    """The factors an ablation varies, as text, from a saved train config."""
    t = TrainConfig(**train)
    return {
        "model": t.model,
        "head": t.head,
        "sesemi": t.sesemi,
        "weights": ", ".join(f"{g} {t.weight(g):g}" for g in groups),
        "smoothing": t.smoothing_name(groups),
        "pseudo": "on" if t.pseudo else "off",
    }


def runs_frame(profile_dir: Path) -> pd.DataFrame:
    """One row per finished run x split: the run's factors, group weights, seed, epochs, best epoch,
    pseudo-labels, regime record (None when an older revision finished the run) and every metric."""
    rows = []
    for run_dir, config, metrics in finished_runs(profile_dir):
        groups, train = tuple(metrics["groups"]), TrainConfig(**config["train"])
        pseudo = metrics.get("pseudo_labels") or {}
        for split, values in metrics["splits"].items():
            rows.append(
                {
                    "run": run_dir.name,
                    **factors(config["train"], groups),
                    **{f"weight_{g}": train.weight(g) for g in groups},
                    "seed": train.seed,
                    "epochs": train.epochs,
                    "best_epoch": metrics["best_epoch"],
                    "pseudo_threshold": pseudo.get("threshold"),
                    "pseudo_val_count": pseudo.get("val_count"),
                    "pseudo_kept": pseudo.get("kept"),
                    "pseudo_kept_right": pseudo.get("kept_right"),
                    "pseudo_fraction_kept": pseudo.get("fraction_kept"),
                    "pseudo_accuracy": pseudo.get("accuracy_of_kept"),
                    "regime": metrics.get("regime"),
                    "dose": metrics.get("dose"),
                    "split": split,
                    **values,
                }
            )
    return pd.DataFrame(rows)


def groups_of(runs: pd.DataFrame) -> list[str]:
    """The label groups, from the frame's `accuracy_<group>` columns."""
    return [c.removeprefix("accuracy_") for c in runs.columns if c.startswith("accuracy_")]


def control_runs(runs: pd.DataFrame, control_factors: dict) -> pd.DataFrame:
    """The control's rows (every seed and split)."""
    return runs[(runs[list(FACTORS)] == pd.Series(control_factors)).all(axis=1)]


def profile_name(profile_dir: Path) -> str:
    """The name of the profile whose results are in `profile_dir` (its recorded profile.yaml)."""
    return load_profile(Path(profile_dir) / layout.PROFILE).name


def arm_regime(records: list) -> dict | None:
    """`regime.summarise` of an arm's runs (its seeds); None when any run lacks its record."""
    return regime.summarise(records) if records and all(r is not None for r in records) else None


def control_regime(profile_dir: Path, runs: pd.DataFrame, control_factors: dict) -> tuple[str, str]:
    """(the generated sentence on the control's regime, its kind: `regime.kind`'s, or unknown (no finished
    run) or unrecorded (finished by an older revision))."""
    test = control_runs(runs, control_factors)
    test = test[test.split == "test"]
    summary = arm_regime(test.regime.tolist())
    if summary is None:
        if test.empty:
            return "The control has no finished run: its regime is unknown.", "unknown"
        return (
            "The regime of the control is not recorded (its runs were finished by an older revision): "
            f"`./run_all.sh --profile {profile_name(profile_dir)} --force` redoes them with it.",
            "unrecorded",
        )
    pretrained = bool(load_profile(Path(profile_dir) / layout.PROFILE).train.pretrained)
    return regime.reading(summary, "control", pretrained), regime.kind(summary, pretrained)


def dose_readings(runs: pd.DataFrame, control_factors: dict) -> list[str]:
    """Per smoothed arm and group, the arm's mean dose over its seeds beside the control's overconfidence in that
    group on validation (`lsml_core.dose.sentence`); an arm is named by the factors it changes."""
    if runs.empty:
        return []
    rows, groups = runs[runs.split == "test"], groups_of(runs)
    control = control_runs(rows, control_factors)
    gaps = {}
    for g in groups:
        found = [dose.selection_gap({"regime": r}, g) if r is not None else None for r in control.regime]
        gaps[g] = dose.mean_recorded(found)
    sentences = []
    for key, arm in rows[rows.smoothing != "nosmooth"].groupby(list(FACTORS), sort=False):
        changed = {f: v for f, v in zip(FACTORS, key) if v != control_factors.get(f)}
        name = ", ".join(f"{f} {v}" for f, v in changed.items()) or "control"
        for g in groups:
            value = dose.mean_recorded(dose.recorded({"dose": d}, g) for d in arm.dose)
            sentences.append(dose.sentence(f"{name}, {g}", value, gaps[g], baseline="the control"))
    return sentences


def caveat(kind: str) -> str:
    """The sentence the conclusions open with: `regime.conclusion_caveat` of the control's kind."""
    return regime.conclusion_caveat([kind])


def equal_weights(runs: pd.DataFrame, control_factors: dict) -> pd.DataFrame:
    """The rows of the arm that differs from the control only in weighing every group alike (Table 1's weight
    arm), empty when the profile has none."""
    others = [f for f in FACTORS if f != "weights"]
    weights = runs[[c for c in runs.columns if c.startswith("weight_")]]
    alike = weights.nunique(axis=1) == 1
    return runs[(runs[others] == pd.Series({f: control_factors[f] for f in others})).all(axis=1) & alike]


def harder_group(runs: pd.DataFrame, control_factors: dict) -> tuple[str, dict, str] | None:
    """(the group of the lowest mean validation accuracy, each group's mean, the runs they come from): the arm
    weighing the groups alike when the profile has it (the control's own weights tilt its accuracies), else the
    control; None without either."""
    for rows, basis in (
        (equal_weights(runs, control_factors), "the arm weighing the groups alike"),
        (control_runs(runs, control_factors), "the control"),
    ):
        val = rows[rows.split == "val"]
        if not val.empty:
            means = {g: float(val[f"accuracy_{g}"].mean()) for g in groups_of(runs)}
            return min(means, key=means.get), means, basis
    return None


def harder_text(runs: pd.DataFrame, control_factors: dict) -> str:
    """Which group is harder here (lower validation accuracy) and whether the control weights it most, as the
    source weighted its harder group (the letter) 5."""
    found = harder_group(runs, control_factors)
    if found is None:
        return "The control has no finished run: which group is harder is not known."
    harder, means, basis = found
    accuracies = ", ".join(f"{g} {a:.3f}" for g, a in means.items())
    control_rows = control_runs(runs, control_factors)
    if control_rows.empty:
        return f"The harder group here is the {harder}: the lower validation accuracy in {basis} ({accuracies})."
    weights = {g: float(control_rows[f"weight_{g}"].iloc[0]) for g in means}
    heaviest = max(weights, key=weights.get)
    if len(set(weights.values())) == 1:
        how = f"the control weights every group {weights[harder]:g}"
    elif heaviest == harder:
        how = f"the control weights it {weights[harder]:g}, the heaviest weight, as the source weighted its letters"
    else:
        how = (
            f"the control weights the {heaviest} {weights[heaviest]:g} instead, unlike the source, which "
            "weighted its harder group"
        )
    return (
        f"The harder group here is the {harder}: the lower validation accuracy in {basis} ({accuracies}, mean "
        f"over seeds); {how}."
    )


def control(profile_dir: Path) -> dict:
    """The control's factors (the profile's `train` section)."""
    profile = load_profile(Path(profile_dir) / layout.PROFILE)
    return factors(vars(profile.train), profile.data.groups)


def theirs_weight(rows: pd.DataFrame, harder: str, groups: list[str]) -> pd.Series:
    """The weight of the harder group where every other group weighs 1 (the source's settings), else NaN."""
    others_one = np.logical_and.reduce([rows[f"weight_{g}"] == 1 for g in groups if g != harder])
    return rows[f"weight_{harder}"].where(others_one)


def table_one(runs: pd.DataFrame, control_factors: dict) -> pd.DataFrame:
    """Exact match (%) on train and val per model x SESEMI images x group weights, the other factors at the
    control's values: ours as mean ± std over seeds, THEIRS beside it where they ran it.

    Models are matched by role: the control's model stands beside their main one (MobileNetV2), any
    other beside their other one (ResNet-50). Weights are matched by the harder group (`harder_group`: ours
    from the control's validation accuracies, theirs the letter): the harder group's weight with every other
    group at 1. Rows only one side ran read `not run` on the other side's text columns; THEIR missing numbers
    stay NaN.
    """
    keep = np.logical_and.reduce([runs[f] == control_factors[f] for f in TABLE_ONE_FIXED])
    rows = runs[keep & runs.split.isin(["train", "val"])].assign(exact=lambda f: 100 * f.exact_match)
    found = harder_group(runs, control_factors)
    if rows.empty or found is None:
        return pd.DataFrame()
    rows = rows.assign(
        role=np.where(rows.model == control_factors["model"], "main", "other"),
        harder_weight=theirs_weight(rows, found[0], groups_of(runs)),
    )
    keys = ["role", "model", "sesemi", "weights"]
    wide = rows.pivot_table(index=keys + ["seed"], columns="split", values="exact", aggfunc="first").reset_index()
    ours = results.mean_std(wide, keys, ["train", "val"], digits=2)
    ours.columns = ["ours train", "ours val"]
    ours = ours.reset_index().merge(rows.drop_duplicates(keys)[keys + ["harder_weight"]], on=keys)
    table = ours.merge(THEIRS, on=["role", "sesemi", "harder_weight"], how="outer")
    table = table.rename(
        columns={"model": "ours model", "weights": "ours weights", "harder_weight": "weight of the harder group"}
    )
    filled = {"ours model": "not run", "ours weights": "not run", "ours train": "not run", "ours val": "not run"}
    table = table.fillna(filled).fillna({"THEIRS model": "not run by the source"})
    return table.rename(columns={c: f"THEIRS {c}" for c in THEIRS.columns[4:]}).drop(columns="role")


def table_one_text(runs: pd.DataFrame, control_factors: dict) -> str:
    """What Table 1 pairs and which numbers stand side by side (generated from the runs)."""
    main = control_factors["model"]
    others = sorted(set(runs.model) - {main})
    epochs = sorted(set(control_runs(runs, control_factors).epochs)) or sorted(set(runs.epochs))
    other_text = (
        f"our {', '.join(others)} beside THEIR ResNet-50 (their other backbone)"
        if others
        else "no other backbone of ours ran beside THEIR ResNet-50"
    )
    return (
        f"Backbones are paired by role, not by name: our {main} (the control's backbone) stands beside THEIR "
        f"MobileNetV2 (their main backbone), {other_text}. The numbers differ in kind: ours are the exact match "
        f"(every group right, %) at the epoch chosen on validation exact match, of {'/'.join(map(str, epochs))} "
        "epochs, on this profile's canvases; THEIRS are the source's accuracy after 20 and 50 epochs, on their "
        f"digit-and-letter images. {harder_text(runs, control_factors)}"
    )


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
    """Which arms of an ablation are at chance level on validation (`regime.near_chance`), as text:
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
    return f" Flagged: at chance level on validation: {flagged}; this comparison says nothing." if flagged else ""


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


def ablations_figure(table: pd.DataFrame):
    """Each ablation's difference in test exact match (changed - control) with its interval."""
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
        title=f"Ablations: difference with its {LEVEL:.0%} interval over {interval_scope(table)}",
    )
    fig.tight_layout()
    return fig


PSEUDO_COLUMNS = {
    "pseudo_threshold": "threshold",
    "pseudo_val_count": "validation images at or above it",
    "pseudo_kept": "unlabeled images kept",
    "pseudo_kept_right": "kept and exactly right",
    "pseudo_fraction_kept": "fraction kept",
    "pseudo_accuracy": "exact accuracy of the kept",
}


def pseudo_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per run with pseudo-labels: the threshold chosen on validation, how many validation images it rests on,
    how many unlabeled images it kept and how many of those were exactly right (withheld labels), the fraction
    kept and their accuracy (missing where none was kept, or where an older revision did not record it)."""
    rows = runs[(runs.split == "test") & (runs.pseudo == "on")]
    return rows[["run", *PSEUDO_COLUMNS]].rename(columns=PSEUDO_COLUMNS).reset_index(drop=True)


def runs_on_test(runs: pd.DataFrame) -> pd.DataFrame:
    """Every run's factors, seed, best epoch and test metrics (pseudo-labels: see `pseudo_table`)."""
    test = runs[runs.split == "test"].reset_index(drop=True)
    hidden = ["split", "regime", "dose", "epochs", *[c for c in test.columns if c.startswith(("pseudo_", "weight_"))]]
    return test.drop(columns=[c for c in hidden if c in test])  # a frame from an older revision has no dose


def confusion_frames(run_dir: Path) -> dict[str, pd.DataFrame]:
    """group -> the run's test confusion matrix as a frame (rows true, columns predicted)."""
    metrics = read_json(Path(run_dir) / layout.METRICS)
    return {
        group: pd.DataFrame(matrix, index=classes, columns=classes)
        for (group, matrix), classes in zip(metrics["confusion_matrices"].items(), metrics["classes"])
    }
