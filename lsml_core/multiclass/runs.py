"""The single-label runs of a profile as data: one row per run, split and temperature scaling, and the tables
of teachers, the instance-based grid, distillation, selection and classes the report shows."""

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from lsml_core import layout, results
from lsml_core.multiclass.config import model_label
from lsml_core.multiclass.losses import ARMS, arm_of
from lsml_core.multiclass.metrics import METRICS as METRIC_NAMES
from lsml_core.records import read_json
from lsml_core.results import finished_runs


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
    selection = (
        read_json(profile_dir / layout.GRID_CHOICE)["per_model_seed"]
        if (profile_dir / layout.GRID_CHOICE).is_file()
        else {}
    )
    chosen = {entry["chosen"] for entry in selection.values()}
    rows = []
    for run_dir, config, metrics in finished_runs(profile_dir):
        train = config["train"]
        teacher = (
            read_json(profile_dir / layout.RUNS / train["teacher"] / layout.CONFIG)["train"]
            if train["loss"] == "kd"
            else None
        )
        for split, entry in metrics["splits"].items():
            for when in ("before", "after"):
                rows.append(
                    {
                        "run": run_dir.name,
                        "model": model_label(train),
                        "loss": train["loss"],
                        "scheme": train["scheme"],
                        "seed": train["seed"],
                        "arm": arm_of(teacher or train),
                        "alpha": (teacher or train)["alpha"],
                        "ils_temperature": (teacher or train)["temperature"],
                        "chosen": train["scheme"] != "instance" or run_dir.name in chosen,
                        "student": train["loss"] == "kd",
                        "teacher_model": model_label(teacher or train),
                        "kd_temperature": train["temperature"] if train["loss"] == "kd" else float("nan"),
                        "teacher_scaled": train["teacher_scaled"],
                        "best_epoch": metrics["best_epoch"],
                        "temperature": metrics["temperature"],
                        "split": split,
                        "when": when,
                        **entry[when],
                    }
                )
    return pd.DataFrame(rows)


def metrics_over_seeds(frame: pd.DataFrame, keys: list[str], metrics=METRIC_NAMES) -> pd.DataFrame:
    """`mean ± std (n=seeds)` of each metric per group, in order of appearance (one seed: `mean (one seed)`)."""
    return results.mean_std_table(frame, keys, metrics, digits=4)


def teachers(runs: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """The teacher rows of a split (ILS: the grid point chosen on the selection part), in arm order per model."""
    return in_arm_order(runs[~runs.student & runs.chosen & (runs.split == split)], ["model", "arm"])


def teacher_table(runs: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """Teachers (ILS: the grid point chosen on the selection part) before and after temperature scaling, mean +- std over seeds."""
    return metrics_over_seeds(teachers(runs, split), ["model", "arm", "when"])


def grid_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Selection accuracy and log loss of every instance-based grid point (mean over seeds), and how often it was
    chosen; alpha and T as text."""
    rows = runs[~runs.student & (runs.arm == "ILS") & (runs.split == "selection") & (runs.when == "before")]
    table = rows.groupby(["model", "alpha", "ils_temperature"]).agg(
        selection_accuracy=("accuracy", "mean"),
        selection_log_loss=("log_loss", "mean"),
        chosen_in_seeds=("chosen", "sum"),
    )
    grid = [(model, f"{alpha:g}", f"{t:g}") for model, alpha, t in table.index]  # as the profile writes them
    return table.set_axis(pd.MultiIndex.from_tuples(grid, names=["model", "alpha", "T"]) if grid else table.index)


def distillation_table(runs: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """Student accuracy and log loss per distillation temperature and teacher arm, with and without the teacher's
    temperature scaling."""
    keys = ["model", "kd_temperature", "teacher_model", "arm", "teacher_scaled"]
    rows = in_arm_order(runs[runs.student & (runs.split == split) & (runs.when == "before")], keys)
    return metrics_over_seeds(rows, keys, ("accuracy", "log_loss"))


def selection_table(profile_dir: Path) -> pd.DataFrame:
    """Every instance-based grid run's selection score per model and seed, and whether it was chosen
    (selection.json; no rows without it)."""
    path = Path(profile_dir) / layout.GRID_CHOICE
    if not path.is_file():
        return pd.DataFrame(columns=["model and seed", "run", "selection score", "chosen"])
    selection = read_json(path)
    loss = selection["metric"] != "accuracy"  # the scores are minus the log loss: higher is better either way
    name = "selection log loss (lowest chosen)" if loss else "selection accuracy (highest chosen)"
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


def histories(profile_dir: Path) -> pd.DataFrame:
    """Every run's history.csv stacked, with its run name."""
    return results.histories(profile_dir)
