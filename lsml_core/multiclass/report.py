"""Tables and generated verdicts of the single-label report, computed from the runs' metrics.json files.

Maher & Kull's published Fashion-MNIST figures are kept here, labelled as theirs, only to be shown
beside this project's numbers; nothing of ours is typed in.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from lsml_core import results
from lsml_core.multiclass.evaluate import METRICS, PROJECTION, read_predictions
from lsml_core.multiclass.losses import LOSSES
from lsml_core.multiclass.metrics import METRICS as METRIC_NAMES
from lsml_core.multiclass.metrics import top_label_reliability
from lsml_core.multiclass.selection import SELECTION
from lsml_core.records import read_json
from lsml_core.results import finished_runs

# THEIR test figures (Maher & Kull 2021, brief section 4): Fashion-MNIST, a small DenseNet. Not ours.
MAHER_KULL_FASHION = pd.DataFrame(
    [("CE", 92.68, 0.220, 0.026), ("LS", 92.52, 0.223, 0.010), ("ILS", 93.96, 0.203, 0.010)],
    columns=["arm", "accuracy %", "log loss", "ECE"],
).set_index("arm")
THEIR_ARCHITECTURE = "small DenseNet (Maher & Kull's, not run here)"
TEACHER_ARMS = ("CE", "LS", "LS (explicit targets)", "ILS")


def teacher_arm(train: dict) -> str:
    """The arm a run belongs to in the tables (CE, LS, ILS, ...; `student` for a distilled run)."""
    return LOSSES[train["loss"]].arm


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
                        "epsilon": (teacher or train)["epsilon"],
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
    """`mean ± std (n=seeds)` of each metric per group."""
    return results.mean_std(frame, keys, metrics, digits=4)


def teacher_table(runs: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """Teachers (ILS: the grid point chosen on validation) before and after temperature scaling, mean +- std over seeds."""
    rows = runs[~runs.student & runs.chosen & (runs.split == split)]
    return mean_std(rows, ["model", "arm", "when"])


def grid_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Validation accuracy and log loss of every instance-based grid point (mean over seeds), and how often it was chosen."""
    rows = runs[~runs.student & (runs.arm == "ILS") & (runs.split == "val") & (runs.when == "before")]
    return rows.groupby(["model", "epsilon", "ils_temperature"]).agg(
        val_accuracy=("accuracy", "mean"), val_log_loss=("log_loss", "mean"), chosen_in_seeds=("chosen", "sum")
    )


def distillation_table(runs: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """Student accuracy and log loss per teacher arm, with and without the teacher's temperature scaling."""
    rows = runs[runs.student & (runs.split == split) & (runs.when == "before")]
    return mean_std(rows, ["model", "teacher_model", "arm", "teacher_scaled"], ("accuracy", "log_loss"))


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
    with its std over seeds, and whether ours reproduce the claim's direction."""
    rows = []
    for claim, (their_arm, their_ref), frame, value, by, arm, ref, better in _claims(runs, split):
        theirs = (
            "not published in their Fashion-MNIST figures"
            if np.isnan(their_arm)
            else f"{their_arm:.4f} vs {their_ref:.4f} ({THEIR_ARCHITECTURE})"
        )
        paired = paired_difference(frame, value, arm, ref, by)
        if paired.empty:
            rows.append({"claim": claim, "ours: model": "-", "theirs (THEIR numbers)": theirs, "verdict": "not run"})
        for model, r in paired.iterrows():
            rows.append(
                {
                    "claim": claim,
                    "ours: model": model,
                    "theirs (THEIR numbers)": theirs,
                    "ours (arm vs reference)": f"{value} {r.arm:.4f} vs {r.ref:.4f}",
                    "ours: difference": round(r.difference, 4),
                    "ours: seed std of difference": round(r["std"], 4),
                    "seeds": int(r.seeds),
                    "verdict": _verdict(r.difference, r["std"], better),
                }
            )
    return pd.DataFrame(rows).set_index(["claim", "ours: model"])


def published_beside_ours(runs: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """THEIR published accuracy / log loss / ECE beside ours (mean over seeds and models, before scaling)."""
    ours = runs[~runs.student & runs.chosen & (runs.split == split) & (runs.when == "before")]
    ours = ours.groupby(["model", "arm"])[["accuracy", "log_loss", "ece"]].mean()
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
            else f"seed std {row['ours: seed std of difference']:.4f} over {int(row['seeds'])} seeds"
        )
        sentences.append(
            f"{claim} ({model}): {row['verdict']} (ours: difference {row['ours: difference']:+.4f}, {spread})."
        )
    return sentences


def representative_runs(runs: pd.DataFrame) -> dict[str, str]:
    """Per teacher arm: the run of the lowest seed and first model (ILS: its chosen grid point)."""
    rows = runs[~runs.student & runs.chosen].sort_values(["seed", "model"])
    first = rows.model.iloc[0] if len(rows) else None
    found = {arm: group.run.iloc[0] for arm, group in rows[rows.model == first].groupby("arm")}
    return {arm: found[arm] for arm in TEACHER_ARMS if arm in found}


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
