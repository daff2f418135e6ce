"""The single-label report's first table: each arm's headline metrics against CE, the differences paired by
seed with their std over seeds."""

import numpy as np
import pandas as pd

from lsml_core.multiclass.runs import teachers

BASELINE = "CE"  # the arm every other arm is compared with


HEADLINE_METRICS = {"accuracy": "accuracy", "ece": "ECE", "log_loss": "log loss"}  # column -> name in the summary


BETTER = {"accuracy": "higher", "ece": "lower", "log_loss": "lower"}  # which way each headline metric improves


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
