"""The single-label report's first table: each arm's headline metrics against CE on test, before temperature
scaling, each difference with its interval over seeds and images (`lsml_core.bootstrap`).

Every headline metric of a run is a function of draw counts over its test images, read from its
predictions file: accuracy and log loss (-log p_y) and Brier (sum_k (p_k - onehot_k)^2) are per-image means;
top-label ECE in 15 equal-width and in 15 equal-mass bins is the ECE of the resampled images' top-label
events (`calibration.ece_of_counts`); p = softmax(logits).
"""

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import log_softmax

from lsml_core import layout
from lsml_core.bootstrap import ONE_SEED, paired_difference
from lsml_core.calibration import N_BINS, ece_of_counts, mean_of_counts
from lsml_core.multiclass.evaluate import read_predictions
from lsml_core.multiclass.runs import teachers

BASELINE = "CE"  # the arm every other arm is compared with


# statistic -> name in the summary
HEADLINE_METRICS = {
    "accuracy": "accuracy",
    "ece": f"ECE ({N_BINS} equal-width bins)",
    "ece_mass": f"ECE ({N_BINS} equal-mass bins)",
    "brier": "Brier",
    "log_loss": "log loss",
}


BETTER = {"accuracy": "higher", "ece": "lower", "ece_mass": "lower", "brier": "lower", "log_loss": "lower"}


def image_statistics(labels: np.ndarray, logits: np.ndarray) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """Per headline statistic, a function from draw counts [B, N] to its value on each resample (module doc)."""
    labels, logp = np.asarray(labels), log_softmax(np.asarray(logits, np.float64), axis=1)
    probs = np.exp(logp)
    correct = (probs.argmax(1) == labels).astype(np.float64)[:, None]
    confidence, keep = probs.max(1)[:, None], np.ones((len(labels), 1), bool)
    return {
        "accuracy": mean_of_counts(correct[:, 0]),
        "ece": ece_of_counts(correct, confidence, keep),
        "ece_mass": ece_of_counts(correct, confidence, keep, equal_mass=True),
        "brier": mean_of_counts(((probs - np.eye(probs.shape[1])[labels]) ** 2).sum(1)),
        "log_loss": mean_of_counts(-logp[np.arange(len(labels)), labels]),
    }


class RunStatistics:
    """The headline statistics of a profile's runs on one split, read from their predictions once."""

    def __init__(self, profile_dir: Path, split: str = "test"):
        self.profile_dir, self.split, self.found, self.labels = Path(profile_dir), split, {}, None

    def __call__(self, run: str) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
        if run not in self.found:
            labels, logits = read_predictions(self.profile_dir / layout.RUNS / run / layout.predictions(self.split))
            if self.labels is not None and not np.array_equal(labels, self.labels):
                raise ValueError(
                    f"run {run} was evaluated on other {self.split} images than the runs before it; pairing needs "
                    "the same split: rerun it on the same data (or with --force)"
                )
            self.labels, self.found[run] = labels, image_statistics(labels, logits)
        return self.found[run]

    def value(self, run: str, metric: str) -> float:
        """The metric on all of the split's images."""
        return float(self(run)[metric](np.ones((1, len(self.labels))))[0])


def paired_interval(
    stats: RunStatistics, rows: pd.DataFrame, metric: str, arm: str, ref: str, by: str = "model", n_boot: int = 1000
) -> pd.DataFrame:
    """Per `by` group: `arm` minus `ref` in `metric`, paired by seed over the seeds both arms have: the arms'
    means, the difference and its interval over seeds and images, the number of paired seeds."""
    found = []
    for group, frame in rows.groupby(by, sort=False):
        runs = {a: f.set_index("seed").run for a, f in frame.groupby("arm")}
        if arm not in runs or ref not in runs:
            continue
        seeds = sorted(set(runs[arm].index) & set(runs[ref].index))
        if not seeds:
            continue
        result = paired_difference(
            [stats(runs[ref][s])[metric] for s in seeds],
            [stats(runs[arm][s])[metric] for s in seeds],
            len(stats.labels),
            n_boot=n_boot,
        )
        found.append(
            {
                by: group,
                "arm": np.mean([stats.value(runs[arm][s], metric) for s in seeds]),
                "ref": np.mean([stats.value(runs[ref][s], metric) for s in seeds]),
                "difference": result["difference"],
                "ci_low": result["ci_low"],
                "ci_high": result["ci_high"],
                "seeds": len(seeds),
            }
        )
    return pd.DataFrame(found).set_index(by) if found else pd.DataFrame()


def arm_effects(
    profile_dir: Path, runs: pd.DataFrame, split: str = "test", baseline: str = BASELINE, n_boot: int = 1000
) -> pd.DataFrame:
    """Per model x teacher arm x headline metric (before temperature scaling): the mean over the arm's seeds and
    its difference from `baseline` paired by seed, with its interval over seeds and images."""
    rows = teachers(runs, split)
    rows = rows[rows.when == "before"]
    stats = RunStatistics(profile_dir, split)
    paired = {
        (metric, arm): paired_interval(stats, rows, metric, arm, baseline, n_boot=n_boot)
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
                    "mean": np.mean([stats.value(run, metric) for run in group.run]),
                    "seeds": group.seed.nunique(),
                    **{k: np.nan if pair is None else pair[k] for k in ("difference", "ci_low", "ci_high")},
                    "paired seeds": 0 if pair is None else int(pair.seeds),
                }
            )
    columns = ["model", "arm", "metric", "mean", "seeds", "difference", "ci_low", "ci_high", "paired seeds"]
    return pd.DataFrame(effects, columns=columns)


def difference_text(difference: float, low: float, high: float, seeds: int, digits: int = 4) -> str:
    """`+d [low, high]` over the paired seeds and images, `... (one seed: ...)` with one, `n/a (no paired run)`
    with none."""
    if seeds == 0:
        return "n/a (no paired run)"
    text = f"{difference:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]"
    return text + (f" ({ONE_SEED})" if seeds == 1 else "")


def summary_table(effects: pd.DataFrame, baseline: str = BASELINE) -> pd.DataFrame:
    """The report's first table: per model x arm, each headline metric and its paired difference from `baseline`
    with its 95% interval over seeds and images."""
    rows = []
    for (model, arm), group in effects.groupby(["model", "arm"], sort=False):
        row = {"model": model, "arm": arm, "seeds": int(group.seeds.iloc[0])}
        for effect in group.to_dict("records"):
            name = HEADLINE_METRICS[effect["metric"]]
            row[name] = effect["mean"]
            row[f"Δ {name} vs {baseline} [95% CI]"] = (
                "baseline"
                if arm == baseline
                else difference_text(effect["difference"], effect["ci_low"], effect["ci_high"], effect["paired seeds"])
            )
        rows.append(row)
    return pd.DataFrame(rows)
