"""Two ways to apply uniform smoothing (the Keras/TensorFlow source): explicit smoothed targets
t = (1 - a) onehot(y) + a / K trained with the soft cross-entropy, against torch's `label_smoothing=a` inside
the loss. They are the same loss, so any difference is training randomness: per model and schedule, each
headline metric's paired difference (explicit minus in the loss, on test before temperature scaling) with its
95% interval over seeds and images, and a generated sentence."""

from pathlib import Path

import pandas as pd

from lsml_core.bootstrap import verdict
from lsml_core.multiclass.losses import EXPLICIT, SCHEMES
from lsml_core.multiclass.runs import teachers
from lsml_core.multiclass.summary import HEADLINE_METRICS, RunStatistics, difference_text, paired_interval

IN_LOSS = SCHEMES["uniform"].arm  # LS: torch's label_smoothing
EXPLICIT_ARM = IN_LOSS + EXPLICIT


def two_ways_table(profile_dir: Path, runs: pd.DataFrame, split: str = "test", n_boot: int = 1000) -> pd.DataFrame:
    """Per model (and schedule) with both ways and headline metric: the two means, explicit minus in the loss with
    its interval, the paired seeds and the verdict (higher, lower, no clear difference); empty without both."""
    rows = teachers(runs, split)
    rows, stats, found = rows[rows.when == "before"], RunStatistics(profile_dir, split), []
    for metric, name in HEADLINE_METRICS.items():
        paired = paired_interval(stats, rows, metric, EXPLICIT_ARM, IN_LOSS, n_boot=n_boot)
        for model, r in paired.iterrows():
            found.append(
                {
                    "model": model,
                    "metric": name,
                    "in the loss": r.ref,
                    "explicit targets": r.arm,
                    "explicit - in the loss [95% CI]": difference_text(r.difference, r.ci_low, r.ci_high, r.seeds),
                    "seeds": int(r.seeds),
                    "verdict": verdict({"ci_low": r.ci_low, "ci_high": r.ci_high}),
                }
            )
    return pd.DataFrame(found)


def two_ways_sentences(table: pd.DataFrame) -> list[str]:
    """Per model: whether the two ways differ in any headline metric, from the table's intervals."""
    sentences = []
    for model, group in table.groupby("model", sort=False):
        differ = group[group.verdict != "no clear difference"]
        seeds = int(group.seeds.min())
        over = "seeds and test images" if seeds > 1 else "test images only (one seed: training randomness not covered)"
        if differ.empty:
            sentences.append(
                f"{model}: explicit smoothed targets and smoothing in the loss show no clear difference in any headline "
                f"metric (95% intervals over {over} all contain zero), as the same loss should."
            )
            continue
        listed = "; ".join(
            f"{r['metric']} {r['verdict']} with explicit targets ({r['explicit - in the loss [95% CI]']})"
            for r in differ.to_dict("records")
        )
        sentences.append(
            f"{model}: the two ways differ beyond training randomness and image sampling ({over}): {listed}; the same "
            "loss should not differ, so read this as a difference of the implementations' arithmetic or a chance "
            "outside the 95% interval."
        )
    return sentences
