"""The report's first screen: every arm of every model against the baseline (BCE on hard labels) in mAP,
CF1 and OF1 at threshold 0.5, and calibration: pooled ECE in 15 equal-width and 15 equal-mass bins, Brier
score and log loss over the unmasked image-class pairs; each difference with its interval over seeds and
images (`lsml_core.bootstrap`).

Each metric of a run is a function of draw counts (`lsml_core.bootstrap.paired_difference`): mAP is the
mean over classes of the count-weighted VOC2010 AP; CF1 and OF1 come from the count-weighted TP, FP and FN
of each class; pooled ECE from the count-weighted per-bin sums of y - p (`calibration.ece_of_counts`), which
equals the ECE of the resampled pairs; Brier sum (p - y)^2 and log loss -sum [y log p + (1 - y) log(1 - p)]
over a resample's pairs divided by their number.
"""

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit, log_expit

from lsml_core import layout
from lsml_core.bootstrap import ONE_SEED, paired_difference, verdict
from lsml_core.calibration import N_BINS, ece_of_counts
from lsml_core.multilabel.decisions import count_matrices, decide, scores_from_counts
from lsml_core.multilabel.evaluate import Predictions, read_predictions
from lsml_core.multilabel.map_bootstrap import per_class_ap
from lsml_core.multilabel.report import arm_order, model_name

ECE_WIDTH = f"ECE ({N_BINS} equal-width bins)"
ECE_MASS = f"ECE ({N_BINS} equal-mass bins)"
# Headline metric: higher is better.
HEADLINE = {"mAP": True, "CF1": True, "OF1": True, ECE_WIDTH: False, ECE_MASS: False, "Brier": False, "log loss": False}


def pair_mean_statistic(pred: Predictions, per_pair: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """The mean of a per-pair value [N, K] over the unmasked pairs of each resample (draw counts [B, N])."""
    keep = pred.masks > 0
    total, n = np.where(keep, per_pair, 0.0).sum(axis=1), keep.sum(axis=1)
    return lambda counts: (counts @ total) / (counts @ n)


def statistics(pred: Predictions) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """Per headline metric, a function from draw counts [B, N] to that metric of each resample."""
    tp, fp, fn = count_matrices(pred.targets, decide(pred.scores, "t0.5"), pred.masks)
    logits, y, keep = pred.scores.astype(np.float64), (pred.targets > 0).astype(np.float64), pred.masks > 0
    p = expit(logits)

    def decision(name: str):
        return lambda counts: scores_from_counts(counts @ tp, counts @ fp, counts @ fn)[name]

    return {
        "mAP": lambda counts: np.nanmean(per_class_ap(pred.targets, pred.scores, pred.masks, counts), axis=1),
        "CF1": decision("CF1"),
        "OF1": decision("OF1"),
        ECE_WIDTH: ece_of_counts(y, p, keep),
        ECE_MASS: ece_of_counts(y, p, keep, equal_mass=True),
        "Brier": pair_mean_statistic(pred, (p - y) ** 2),
        "log loss": pair_mean_statistic(pred, -(y * log_expit(logits) + (1 - y) * log_expit(-logits))),
    }


def headline_effects(profile_dir: Path, runs: pd.DataFrame, split: str = "val", n_boot: int = 1000) -> pd.DataFrame:
    """One row per model x arm (with its place in the reports' order) x headline metric (clean labels): the mean
    over seeds, and for every arm but the baseline its difference from the baseline (seeds paired) with a 95%
    interval and a verdict. Every value is computed from the predictions files, so runs written before a
    metric existed are scored too."""
    rows = runs[(runs.split == split) & (runs.noise == 0)]
    rank = {a: i for i, a in enumerate(arm_order(rows))}
    effects = []
    for model, group in rows.groupby("model"):
        by_arm = {a: g.set_index("seed").run for a, g in group.groupby("arm")}
        predictions = {
            run: read_predictions(Path(profile_dir) / layout.RUNS / run / layout.predictions(split))
            for run in group.run
        }
        check_same_images(predictions)
        stats = {run: statistics(pred) for run, pred in predictions.items()}
        n_images = len(next(iter(predictions.values())).ids)
        observed = np.ones((1, n_images))
        for name in arm_order(group):
            for metric in HEADLINE:
                effects.append(
                    {
                        "model": model,
                        "arm": name,
                        "arm_rank": rank[name],
                        "metric": metric,
                        "seeds": len(by_arm[name]),
                        "value": float(np.mean([stats[run][metric](observed)[0] for run in by_arm[name]])),
                        **against_baseline(by_arm, name, stats, metric=metric, n_images=n_images, n_boot=n_boot),
                    }
                )
    return pd.DataFrame(effects)


def check_same_images(predictions: dict[str, Predictions]) -> None:
    """Raise ValueError unless every run's predictions hold the same images, labels and masks (pairing needs it)."""
    runs = list(predictions)
    first = predictions[runs[0]]
    for run in runs[1:]:
        other = predictions[run]
        same = other.ids == first.ids and np.array_equal(other.targets, first.targets)
        if not same or not np.array_equal(other.masks, first.masks):
            raise ValueError(
                f"runs {runs[0]} and {run} were evaluated on different images or labels; pairing them needs the "
                "same split: rerun them on the same data (or with --force)"
            )


def against_baseline(by_arm: dict, name: str, stats: dict, *, metric: str, n_images: int, n_boot: int) -> dict:
    """The arm's paired difference from `none` in one metric, seeds paired (empty for the baseline itself)."""
    seeds = sorted(set(by_arm[name].index) & set(by_arm.get("none", pd.Series()).index)) if name != "none" else []
    if not seeds:
        return {}
    result = paired_difference(
        [stats[by_arm["none"][s]][metric] for s in seeds],
        [stats[by_arm[name][s]][metric] for s in seeds],
        n_images,
        n_boot=n_boot,
    )
    return {
        "difference": result["difference"],
        "ci_low": result["ci_low"],
        "ci_high": result["ci_high"],
        "paired_seeds": len(seeds),
        "verdict": verdict(result),
    }


def interval_text(arm: str, difference: float, ci_low: float, ci_high: float) -> str:
    """`+0.012 [+0.003, +0.020]`, `baseline` for the baseline, `n/a (no paired baseline run)` without one."""
    if arm == "none":
        return "baseline"
    if pd.isna(difference):
        return "n/a (no paired baseline run)"
    return f"{difference:+.3f} [{ci_low:+.3f}, {ci_high:+.3f}]"


def headline_table(effects: pd.DataFrame) -> pd.DataFrame:
    """model x arm rows; per headline metric its mean over seeds and `difference [95% CI]` from the baseline
    (the interval over seeds and images; over images only where an arm has one seed)."""
    if effects.empty:
        return pd.DataFrame()
    effects = effects.assign(**{c: effects.get(c, np.nan) for c in ("difference", "ci_low", "ci_high")})
    texts = [interval_text(r.arm, r.difference, r.ci_low, r.ci_high) for r in effects.itertuples()]
    effects = effects.assign(text=texts)
    table = effects.drop_duplicates(["model", "arm"])[["model", "arm", "seeds"]].reset_index(drop=True)
    for metric in HEADLINE:
        rows = effects[effects.metric == metric].reset_index(drop=True)
        table[metric] = rows.value
        table[f"{metric} - none [95% CI]"] = rows.text
    return table.assign(model=table.model.map(model_name))


def headline_sentences(effects: pd.DataFrame, split: str) -> list[str]:
    """Per model and metric: the arms clearly better and clearly worse than the baseline, and how many show
    no clear difference (better: higher mAP, CF1, OF1; lower ECE, Brier, log loss)."""
    if "difference" not in effects:
        return []
    sentences = []
    for (model, metric), group in effects.dropna(subset=["difference"]).groupby(["model", "metric"], sort=False):
        higher, lower = group[group.ci_low > 0], group[group.ci_high < 0]
        better, worse = (higher, lower) if HEADLINE[metric] else (lower, higher)
        low, high = int(group.paired_seeds.min()), int(group.paired_seeds.max())
        seeds = f"{low} paired seed{'s' if high > 1 else ''}" if low == high else f"{low}-{high} paired seeds"
        seeds += f"; {ONE_SEED}" if low == 1 else "; intervals over seeds and images"

        def listed(rows: pd.DataFrame) -> str:
            texts = [f"{r.arm} {interval_text(r.arm, r.difference, r.ci_low, r.ci_high)}" for r in rows.itertuples()]
            return "; ".join(texts) or "no arm"

        sentences.append(
            f"{model_name(model)}, {split}, {metric} against the baseline "
            f"({seeds}): better: {listed(better)}. Worse: {listed(worse)}. "
            f"No clear difference: {len(group) - len(better) - len(worse)} of {len(group)} arms."
        )
    return sentences
