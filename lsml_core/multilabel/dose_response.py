"""Calibration and mAP against each smoothing arm's dose minus its baseline's overconfidence.

Mueller, Kornblith & Hinton (2019) find label smoothing at a matched strength about as good for calibration as
temperature scaling: an arm lowers its model's confidence by about its dose (`lsml_core.dose`: the mean
|smoothed target - hard target| per decision), so ECE should be lowest where the dose meets the baseline's
overconfidence (mean confidence minus accuracy on the selection part), and overshoot into underconfidence
beyond it. Per model and BCE smoothing arm on clean labels: x = the arm's mean dose over its seeds minus the
baseline's mean overconfidence, y = the arm's difference from the baseline in ECE (both binnings), Brier and mAP
with its 95% interval over seeds and images (`summary.headline_effects`); the baseline itself sits at
x = -overconfidence, y = 0. The sentence names the arm of lowest ECE and the arm whose dose is nearest the
overconfidence, and when they differ reads the difference between those two arms with its own interval.
"""

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from lsml_core import layout
from lsml_core.bootstrap import ONE_SEED, paired_difference, verdict
from lsml_core.multilabel.evaluate import read_predictions
from lsml_core.multilabel.plots import interval_errors
from lsml_core.multilabel.report import model_name
from lsml_core.multilabel.summary import ECE_MASS, ECE_WIDTH, statistics

METRICS = (ECE_WIDTH, ECE_MASS, "Brier", "mAP")
X = "dose - overconfidence"


def dose_frame(runs: pd.DataFrame, effects: pd.DataFrame, split: str = "val") -> pd.DataFrame:
    """Per model, BCE arm (the baseline included) and metric of METRICS: the arm's mean dose, the baseline's mean
    overconfidence, X, and the effect's difference from the baseline with its interval (the baseline: 0)."""
    rows = runs[(runs.split == split) & (runs.noise == 0) & (runs["loss"] == "bce")]
    if rows.empty or effects.empty:
        return pd.DataFrame()
    overconfidence = rows[rows.scheme == "none"].groupby("model").selection_gap.mean()
    doses = rows.groupby(["model", "arm"]).dose.mean().rename("dose").reset_index()
    frame = effects[effects.metric.isin(METRICS)].merge(doses, on=["model", "arm"])
    frame = frame.assign(overconfidence=frame.model.map(overconfidence))
    baseline = frame.arm == "none"
    frame.loc[baseline, "difference"] = 0.0
    return frame.assign(**{X: frame.dose - frame.overconfidence}).dropna(subset=[X]).reset_index(drop=True)


def dose_figure(frame: pd.DataFrame, split: str = "val"):
    """One panel per metric (rows) and model (columns): each arm's difference from the baseline with its 95%
    interval against X; the vertical line marks the dose that meets the overconfidence."""
    models = list(dict.fromkeys(frame.model))
    fig, axes = plt.subplots(len(METRICS), len(models), figsize=(5 * len(models), 3 * len(METRICS)), squeeze=False)
    for column, model in enumerate(models):
        for row, metric in enumerate(METRICS):
            ax, points = axes[row][column], frame[(frame.model == model) & (frame.metric == metric)]
            bounded = points.fillna({"ci_low": points.difference, "ci_high": points.difference})
            ax.errorbar(points[X], points.difference, yerr=interval_errors(bounded), fmt="o", capsize=3)
            for point in points.to_dict("records"):
                ax.annotate(
                    point["arm"], (point[X], point["difference"]), fontsize=7, xytext=(3, 3), textcoords="offset points"
                )
            ax.axvline(0, color="grey", linestyle="--")
            ax.axhline(0, color="grey", linewidth=0.5)
            ax.set(title=f"{model_name(model)}: {metric}", xlabel=f"{X} ({split})", ylabel="arm - none, 95% CI")
    fig.tight_layout()
    return fig


def lowest_and_matched(rows: pd.DataFrame) -> tuple[dict, dict]:
    """Among one model's rows of one metric: the arm of lowest mean value, and the smoothing arm whose dose is
    nearest the baseline's overconfidence."""
    smoothed = rows[rows.arm != "none"]
    return rows.loc[rows.value.idxmin()].to_dict(), smoothed.loc[smoothed[X].abs().idxmin()].to_dict()


def arms_difference(
    profile_dir: Path, runs: pd.DataFrame, model: str, arms: tuple[str, str], metric: str, split: str, n_boot: int
) -> dict:
    """arms[0] minus arms[1] of one model in `metric`, seeds paired, with its interval over seeds and images."""
    rows = runs[(runs.split == split) & (runs.noise == 0) & (runs.model == model)]
    first, second = (rows[rows.arm == a].set_index("seed").run for a in arms)
    seeds = sorted(set(first.index) & set(second.index))
    predictions = {
        run: read_predictions(Path(profile_dir) / layout.RUNS / run / layout.predictions(split))
        for run in [*first[seeds], *second[seeds]]
    }
    stats = {run: statistics(pred)[metric] for run, pred in predictions.items()}
    n_images = len(next(iter(predictions.values())).ids)
    result = paired_difference(
        [stats[second[s]] for s in seeds], [stats[first[s]] for s in seeds], n_images, n_boot=n_boot
    )
    return {**result, "seeds": len(seeds)}


def dose_sentences(
    profile_dir: Path, runs: pd.DataFrame, frame: pd.DataFrame, split: str = "val", n_boot: int = 1000
) -> list[str]:
    """Per model and ECE binning: where ECE is lowest, the arm whose dose meets the overconfidence, and whether
    they are the same arm (else the difference between the two with its interval)."""
    sentences = []
    for (model, metric), rows in frame[frame.metric.isin((ECE_WIDTH, ECE_MASS))].groupby(
        ["model", "metric"], sort=False
    ):
        if (rows.arm != "none").sum() == 0:
            continue
        lowest, matched = lowest_and_matched(rows)
        opening = (
            f"{model_name(model)}, {split}, {metric}: lowest with {lowest['arm']} ({lowest['value']:.4f}; its "
            f"{X} {lowest[X]:+.3f}, the baseline overconfident by {lowest['overconfidence']:+.3f}); the dose nearest "
            f"the overconfidence is {matched['arm']}'s ({X} {matched[X]:+.3f})"
        )
        if lowest["arm"] == matched["arm"]:
            sentences.append(f"{opening}: calibration is best where the dose meets the overconfidence.")
            continue
        pair = (matched["arm"], lowest["arm"])
        result = arms_difference(profile_dir, runs, model, pair, metric, split, n_boot)
        over = ONE_SEED if result["seeds"] == 1 else f"{result['seeds']} seeds and the images"
        reading = {
            "higher": "clearly higher: calibration is not best where the dose meets the overconfidence",
            "lower": "clearly lower",
            "no clear difference": "no clear difference: the data do not separate the two",
        }[verdict(result)]
        sentences.append(
            f"{opening}; {matched['arm']} minus {lowest['arm']}: {result['difference']:+.4f} "
            f"[{result['ci_low']:+.4f}, {result['ci_high']:+.4f}] ({over}), {reading}."
        )
    return sentences
