"""Tables and generated verdicts of the single-label report, computed from the runs' metrics.json files.

Maher & Kull's published Fashion-MNIST figures are kept here, labelled as theirs, only to be shown
beside this project's numbers; nothing of ours is typed in.
"""

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from lsml_core import regime, results
from lsml_core.multiclass.evaluate import METRICS, PROJECTION, read_predictions
from lsml_core.multiclass.losses import LOSSES
from lsml_core.multiclass.metrics import METRICS as METRIC_NAMES
from lsml_core.multiclass.metrics import top_label_reliability
from lsml_core.multiclass.selection import SELECTION
from lsml_core.records import read_json
from lsml_core.results import finished_runs

# THEIR test figures (Maher & Kull 2021): Fashion-MNIST, a small DenseNet. Not ours.
MAHER_KULL_FASHION = pd.DataFrame(
    [("CE", 92.68, 0.220, 0.026), ("LS", 92.52, 0.223, 0.010), ("ILS", 93.96, 0.203, 0.010)],
    columns=["arm", "accuracy %", "log loss", "ECE"],
).set_index("arm")
THEIR_ARCHITECTURE = "small DenseNet (Maher & Kull's, not run here)"
BASELINE = "CE"  # the arm every other arm is compared with
# The order of arms in every table and figure: the study's three, then the other losses' arms as registered.
ARMS = tuple(dict.fromkeys(("CE", "LS", "ILS", *(loss.arm for loss in LOSSES.values()))))
HEADLINE_METRICS = {"accuracy": "accuracy", "ece": "ECE", "log_loss": "log loss"}  # column -> name in the summary
BETTER = {"accuracy": "higher", "ece": "lower", "log_loss": "lower"}  # which way each headline metric improves
ONE_SEED = "n/a (one seed)"
REDO = "./run_all.sh --profile {profile} --force"  # the command that redoes a profile's finished runs


def teacher_arm(train: dict) -> str:
    """The arm a run belongs to in the tables (CE, LS, ILS, ...; `student` for a distilled run)."""
    return LOSSES[train["loss"]].arm


def arm_order(arms: Iterable[str]) -> list[str]:
    """The given arms in the report's order: those of ARMS as there, then any other by name."""
    arms = set(arms)
    return [a for a in ARMS if a in arms] + sorted(arms - set(ARMS))


def in_arm_order(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The rows sorted by `keys`, the `arm` key as a category in the report's order (CE, LS, ILS, ...)."""
    order = arm_order(frame["arm"]) if "arm" in frame else []

    def key(column: pd.Series) -> pd.Series:
        return (
            pd.Series(pd.Categorical(column, order, ordered=True), index=column.index)
            if column.name == "arm"
            else column
        )

    return frame.sort_values(keys, key=key, kind="stable") if len(frame) else frame


def runs_frame(profile_dir: Path) -> pd.DataFrame:
    """One row per finished run x split x (before / after temperature scaling), with every metric."""
    profile_dir = Path(profile_dir)
    selection = read_json(profile_dir / SELECTION)["per_model_seed"] if (profile_dir / SELECTION).is_file() else {}
    chosen = {entry["chosen"] for entry in selection.values()}
    rows = []
    for run_dir, config, metrics in finished_runs(profile_dir):
        train = config["train"]
        teacher = (
            read_json(profile_dir / "runs" / train["teacher"] / "config.json")["train"]
            if train["loss"] == "kd"
            else None
        )
        for split, entry in metrics["splits"].items():
            for when in ("before", "after"):
                rows.append(
                    {
                        "run": run_dir.name,
                        "model": train["model"],
                        "loss": train["loss"],
                        "seed": train["seed"],
                        "arm": teacher_arm(teacher or train),
                        "alpha": (teacher or train)["alpha"],
                        "ils_temperature": (teacher or train)["temperature"],
                        "chosen": train["loss"] != "ils" or run_dir.name in chosen,
                        "student": train["loss"] == "kd",
                        "teacher_model": (teacher or train)["model"],
                        "teacher_scaled": train["teacher_scaled"],
                        "best_epoch": metrics["best_epoch"],
                        "temperature": metrics["temperature"],
                        "split": split,
                        "when": when,
                        **entry[when],
                    }
                )
    return pd.DataFrame(rows)


def mean_std(frame: pd.DataFrame, keys: list[str], metrics=METRIC_NAMES) -> pd.DataFrame:
    """`mean ± std (n=seeds)` of each metric per group, in order of appearance (one seed: `mean (one seed)`)."""
    return results.mean_std(frame, keys, metrics, digits=4)


def teachers(runs: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """The teacher rows of a split (ILS: the grid point chosen on validation), in arm order per model."""
    return in_arm_order(runs[~runs.student & runs.chosen & (runs.split == split)], ["model", "arm"])


def teacher_table(runs: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """Teachers (ILS: the grid point chosen on validation) before and after temperature scaling, mean +- std over seeds."""
    return mean_std(teachers(runs, split), ["model", "arm", "when"])


def grid_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Validation accuracy and log loss of every instance-based grid point (mean over seeds), and how often it was
    chosen; alpha and T as text."""
    rows = runs[~runs.student & (runs.arm == "ILS") & (runs.split == "val") & (runs.when == "before")]
    table = rows.groupby(["model", "alpha", "ils_temperature"]).agg(
        val_accuracy=("accuracy", "mean"), val_log_loss=("log_loss", "mean"), chosen_in_seeds=("chosen", "sum")
    )
    grid = [(model, f"{alpha:g}", f"{t:g}") for model, alpha, t in table.index]  # as the profile writes them
    return table.set_axis(pd.MultiIndex.from_tuples(grid, names=["model", "alpha", "T"]) if grid else table.index)


def distillation_table(runs: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """Student accuracy and log loss per teacher arm, with and without the teacher's temperature scaling."""
    keys = ["model", "teacher_model", "arm", "teacher_scaled"]
    rows = in_arm_order(runs[runs.student & (runs.split == split) & (runs.when == "before")], keys)
    return mean_std(rows, keys, ("accuracy", "log_loss"))


def paired_difference(rows: pd.DataFrame, value: str, arm: str, ref: str, by: str = "model") -> pd.DataFrame:
    """Per `by` group: `arm` minus `ref` of `value`, paired by seed over the seeds both arms have:
    the arms' means, the mean difference, its std over seeds and the number of seeds."""
    wide = rows.pivot_table(index=[by, "seed"], columns="arm", values=value, aggfunc="first") if len(rows) else {}
    if arm not in wide or ref not in wide:
        return pd.DataFrame()
    both = wide[[arm, ref]].dropna()
    difference = (both[arm] - both[ref]).groupby(level=by)
    means = both.groupby(level=by).mean()
    return pd.DataFrame(
        {
            "arm": means[arm],
            "ref": means[ref],
            "difference": difference.mean(),
            "std": difference.std(),
            "seeds": difference.size(),
        }
    )


def _verdict(difference: float, spread: float, better: str) -> str:
    """Whether our difference goes the claimed way, and whether it exceeds its spread over seeds."""
    holds = difference < 0 if better == "lower" else difference >= 0
    verdict = "reproduced" if holds else "not reproduced"
    if np.isnan(spread):
        return f"{verdict} (one seed: no spread)"
    return verdict + ("" if abs(difference) > spread else " (within seed std)")


def _claims(runs: pd.DataFrame, split: str) -> list[tuple]:
    """(claim, THEIR arm and reference values, our rows, value, by, arm, reference arm, better) per claim."""
    them, chosen = MAHER_KULL_FASHION, runs[(runs.split == split) & (runs.when == "before")]
    teachers, students = chosen[~chosen.student & chosen.chosen], chosen[chosen.student]
    students = students.assign(student_of=students.model + " from " + students.teacher_model)
    unpublished = (np.nan, np.nan)
    claims = [
        (
            "LS lowers ECE vs CE",
            (them.loc["LS", "ECE"], them.loc["CE", "ECE"]),
            teachers,
            "ece",
            "model",
            "LS",
            "CE",
            "lower",
        ),
        (
            "ILS lowers ECE vs CE",
            (them.loc["ILS", "ECE"], them.loc["CE", "ECE"]),
            teachers,
            "ece",
            "model",
            "ILS",
            "CE",
            "lower",
        ),
        (
            "ILS at least as accurate as LS",
            (them.loc["ILS", "accuracy %"] / 100, them.loc["LS", "accuracy %"] / 100),
            teachers,
            "accuracy",
            "model",
            "ILS",
            "LS",
            "higher",
        ),
    ]
    for scaled, label in ((False, ""), (True, ", teachers temperature-scaled")):
        claims.append(
            (
                f"LS teacher distils worse than CE teacher (student accuracy{label})",
                unpublished,
                students[students.teacher_scaled == scaled],
                "accuracy",
                "student_of",
                "LS",
                "CE",
                "lower",
            )
        )
    return claims


def replication_table(runs: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """Each claim per model: THEIR numbers, ours (before temperature scaling), the difference paired by seed
    with its std over seeds (text: `n/a (one seed)` with one), and whether ours reproduce the claim's direction."""
    rows, their_column = [], f"THEIRS: {THEIR_ARCHITECTURE}"
    for claim, (their_arm, their_ref), frame, value, by, arm, ref, better in _claims(runs, split):
        theirs = "not published" if np.isnan(their_arm) else f"{their_arm:.4f} vs {their_ref:.4f}"
        paired = paired_difference(frame, value, arm, ref, by)
        if paired.empty:
            rows.append(
                {
                    "claim": claim,
                    "ours: model": "-",
                    their_column: theirs,
                    "ours (arm vs reference)": "not run",
                    "ours: difference": np.nan,
                    "ours: seed std of difference": "not run",
                    "seeds": 0,
                    "verdict": "not run",
                }
            )
        for model, r in paired.iterrows():
            rows.append(
                {
                    "claim": claim,
                    "ours: model": model,
                    their_column: theirs,
                    "ours (arm vs reference)": f"{value} {r.arm:.4f} vs {r.ref:.4f}",
                    "ours: difference": round(r.difference, 4),
                    "ours: seed std of difference": ONE_SEED if r.seeds == 1 else f"{r['std']:.4f}",
                    "seeds": int(r.seeds),
                    "verdict": _verdict(r.difference, r["std"], better),
                }
            )
    return pd.DataFrame(rows).set_index(["claim", "ours: model"])


def published_beside_ours(runs: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """THEIR published accuracy / log loss / ECE beside ours (mean over seeds and models, before scaling)."""
    ours = teachers(runs, split)
    ours = ours[ours.when == "before"].groupby(["model", "arm"], sort=False)[["accuracy", "log_loss", "ece"]].mean()
    ours = ours.assign(accuracy=ours.accuracy * 100).rename(
        columns={"accuracy": "accuracy %", "log_loss": "log loss", "ece": "ECE"}
    )
    theirs = (
        MAHER_KULL_FASHION.assign(model=f"THEIRS: {THEIR_ARCHITECTURE}").set_index("model", append=True).swaplevel()
    )
    return pd.concat([theirs, ours.round(4)])


def conclusions(table: pd.DataFrame) -> list[str]:
    """One generated sentence per claim and model of the replication table."""
    sentences = []
    for (claim, model), row in table.iterrows():
        if row["verdict"] == "not run":
            sentences.append(f"{claim}: not run.")
            continue
        spread = (
            "one seed"
            if row["seeds"] == 1
            else f"seed std {row['ours: seed std of difference']} over {int(row['seeds'])} seeds"
        )
        sentences.append(
            f"{claim} ({model}): {row['verdict']} (ours: difference {row['ours: difference']:+.4f}, {spread})."
        )
    return sentences


def arm_effects(runs: pd.DataFrame, split: str = "test", baseline: str = BASELINE) -> pd.DataFrame:
    """Per model x teacher arm x headline metric (before temperature scaling): the mean over the arm's seeds and
    its difference from `baseline` paired by seed, with the difference's std over seeds (NaN with one seed)."""
    rows = teachers(runs, split)
    rows = rows[rows.when == "before"]
    paired = {
        (metric, arm): paired_difference(rows, metric, arm, baseline)
        for metric in HEADLINE_METRICS
        for arm in rows.arm.unique()
        if arm != baseline
    }
    effects = []
    for (model, arm), group in rows.groupby(["model", "arm"], sort=False):
        for metric in HEADLINE_METRICS:
            found = paired.get((metric, arm), pd.DataFrame())
            pair = found.loc[model] if model in found.index else None
            effects.append(
                {
                    "model": model,
                    "arm": arm,
                    "metric": metric,
                    "mean": group[metric].mean(),
                    "seeds": group.seed.nunique(),
                    "difference": np.nan if pair is None else pair.difference,
                    "std": np.nan if pair is None else pair["std"],
                    "paired seeds": 0 if pair is None else int(pair.seeds),
                }
            )
    return pd.DataFrame(
        effects, columns=["model", "arm", "metric", "mean", "seeds", "difference", "std", "paired seeds"]
    )


def difference_text(difference: float, std: float, seeds: int, digits: int = 4) -> str:
    """`+d ± std` over the paired seeds, `+d (one seed)` with one, `n/a (no paired run)` with none."""
    if seeds == 0:
        return "n/a (no paired run)"
    return f"{difference:+.{digits}f}" + (" (one seed)" if seeds == 1 else f" ± {std:.{digits}f}")


def summary_table(effects: pd.DataFrame, baseline: str = BASELINE) -> pd.DataFrame:
    """The report's first table: per model x arm, each headline metric and its paired difference from `baseline`."""
    rows = []
    for (model, arm), group in effects.groupby(["model", "arm"], sort=False):
        row = {"model": model, "arm": arm, "seeds": int(group.seeds.iloc[0])}
        for effect in group.to_dict("records"):
            name = HEADLINE_METRICS[effect["metric"]]
            row[name] = effect["mean"]
            row[f"Δ {name} vs {baseline} (± seed std)"] = (
                "baseline"
                if arm == baseline
                else difference_text(effect["difference"], effect["std"], effect["paired seeds"])
            )
        rows.append(row)
    return pd.DataFrame(rows)


def selection_table(profile_dir: Path) -> pd.DataFrame:
    """Every instance-based grid run's validation score per model and seed, and whether it was chosen
    (selection.json; no rows without it)."""
    path = Path(profile_dir) / SELECTION
    if not path.is_file():
        return pd.DataFrame(columns=["model and seed", "run", "validation score", "chosen"])
    selection = read_json(path)
    loss = selection["metric"] != "accuracy"  # the scores are minus the log loss: higher is better either way
    name = "validation log loss (lowest chosen)" if loss else "validation accuracy (highest chosen)"
    return pd.DataFrame(
        [
            {"model and seed": key, "run": run, name: -score if loss else score, "chosen": run == entry["chosen"]}
            for key, entry in selection["per_model_seed"].items()
            for run, score in entry["scores"].items()
        ]
    )


def class_table(metrics: dict) -> pd.DataFrame:
    """scikit-learn's per-class report of a run's metrics.json, one row per class and average (support: images);
    accuracy stands under f1-score with the number of test images, as scikit-learn prints it."""
    report = metrics["classification_report"]
    total = report["macro avg"]["support"]
    table = pd.DataFrame(
        [
            {"class": name, **values}
            if isinstance(values, dict)
            else {"class": name, "f1-score": values, "support": total}
            for name, values in report.items()
        ],
        columns=["class", "precision", "recall", "f1-score", "support"],
    )
    return table.astype({"support": int})  # scikit-learn writes counts as floats


def representative_runs(runs: pd.DataFrame) -> dict[str, str]:
    """Per teacher arm: the run of the lowest seed and first model (ILS: its chosen grid point)."""
    rows = runs[~runs.student & runs.chosen].sort_values(["seed", "model"])
    first = rows.model.iloc[0] if len(rows) else None
    found = {arm: group.run.iloc[0] for arm, group in rows[rows.model == first].groupby("arm")}
    return {arm: found[arm] for arm in arm_order(found)}


def reliability_curves(profile_dir: Path, runs: dict[str, str], split: str = "test") -> dict:
    """Top-label reliability before and after temperature scaling per arm, in the form `plots.reliability_diagrams` takes."""
    curves = {}
    for arm, run in runs.items():
        run_dir = Path(profile_dir) / "runs" / run
        labels, logits = read_predictions(run_dir / f"predictions_{split}.csv")
        metrics = read_json(run_dir / METRICS)
        temperature = metrics["temperature"]
        curves[arm] = {
            "before": top_label_reliability(labels, logits),
            "after": top_label_reliability(labels, logits, temperature),
            "temperature": temperature,
            "ece_before": metrics["splits"][split]["before"]["ece"],
            "ece_after": metrics["splits"][split]["after"]["ece"],
        }
    return {"top label": curves}


def template_plane(templates: np.ndarray) -> np.ndarray:
    """An orthonormal basis [2, D] of the plane through three class templates (Mueller, Kornblith & Hinton)."""
    if templates.shape[0] != 3:
        raise ValueError(f"the plane needs exactly three class templates, got {templates.shape[0]}")
    basis, _ = np.linalg.qr((templates[1:] - templates[0]).T)
    return basis.T


def projections(profile_dir: Path, runs: dict[str, str]) -> dict[str, pd.DataFrame]:
    """Per arm: the penultimate features of the three projection classes' test images, projected on the
    plane through those classes' templates (the rows of the last layer's weight), as in Mueller et al."""
    result = {}
    for arm, run in runs.items():
        data = np.load(Path(profile_dir) / "runs" / run / PROJECTION)
        xy = data["features"] @ template_plane(data["templates"]).T
        result[arm] = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "label": data["labels"]})
    return result


def histories(profile_dir: Path) -> pd.DataFrame:
    """Every run's history.csv stacked, with its run name."""
    return results.histories(profile_dir)


def baseline_records(profile_dir: Path) -> dict[str, list[dict | None]]:
    """Per teacher model: the `regime` entry of each of its CE runs (None where an older revision finished the
    run without one). The students are distilled only: there is no plain-CE student baseline."""
    records: dict[str, list[dict | None]] = {}
    for _, config, metrics in finished_runs(profile_dir):
        if config["train"]["loss"] == "ce":
            records.setdefault(config["train"]["model"], []).append(metrics.get("regime"))
    return records


def regime_readings(profile_dir: Path, profile: str) -> list[tuple[str, str]]:
    """Per teacher model, the generated sentence on its CE baseline's regime and its kind (`regime.label`);
    kind unrecorded where an older revision finished its runs (with the command that redoes them), unknown
    where no baseline finished."""
    readings = []
    for model, records in sorted(baseline_records(profile_dir).items()):
        name = f"{BASELINE} ({model})"
        missing = sum(r is None for r in records)
        if missing:
            readings.append(
                (
                    f"The regime of the {name} baseline is not recorded: {missing} of its {len(records)} runs were "
                    f"finished by an older revision; `{REDO.format(profile=profile)}` redoes them.",
                    "unrecorded",
                )
            )
            continue
        summary = regime.summarise(records)
        readings.append((regime.reading(summary, name), regime.label(summary)))
    if not readings:
        readings.append((f"No {BASELINE} baseline has finished: the regime of this profile is not known.", "unknown"))
    return readings


def conclusion_caveat(readings: list[tuple[str, str]]) -> str:
    """The sentence the conclusions open with: `regime.conclusion_caveat` of the baselines' kinds."""
    return regime.conclusion_caveat([kind for _, kind in readings])


def regime_table(profile_dir: Path) -> pd.DataFrame:
    """Per run with a recorded regime: the confidence gap per split at T = 1, the last epoch's losses and
    whether the training loss still fell and the validation loss rose (`lsml_core.regime`)."""
    rows = []
    for run_dir, _, metrics in finished_runs(profile_dir):
        if "regime" not in metrics:
            continue
        entry, trend = metrics["regime"], metrics["regime"]["training"]
        rows.append(
            {
                "run": run_dir.name,
                **{f"confidence - accuracy ({split})": gap for split, gap in entry["confidence_gap"].items()},
                "epochs": trend["epochs"],
                "training loss": trend["train_loss"],
                f"{entry['selection_split']} loss": trend["selection_loss"],
                "training loss still falling": trend["train_still_falling"],
                f"{entry['selection_split']} loss rising": trend["selection_loss_rising"],
            }
        )
    return pd.DataFrame(rows)
