"""The regime a run was read in: over- or underconfident, converged or still learning, above chance or not.

Label smoothing's published claims (Müller, Kornblith & Hinton 2019; Maher & Kull 2021) concern models
trained until their held-out loss rises while accuracy holds, which leaves them overconfident (Guo, Pleiss,
Sun & Weinberger 2017). A run records the signs of that regime in its metrics.json (`record`), and a report
reads its baselines' records into one generated sentence (`reading`):

- confidence gap = mean confidence - accuracy over a split's decisions (> 0: overconfident).
  Single-label (per group when there are groups): confidence = max_k softmax_k, correct = 1[argmax = label].
  Multi-label, each unmasked (image, class) pair one binary decision with p = sigmoid(logit):
  confidence = max(p, 1 - p), correct = 1[1[p >= 0.5] = y]; also over positives (y = 1) and negatives apart.
- loss gap = selection loss - training loss at the last epoch (history.csv; the training loss is the
  run's own loss, on its smoothed targets).
- training still falling: the last fifth of the epochs (at least one) holds more than FALLING of the
  training loss's whole fall since the first epoch; training not decreasing: the last epoch's training
  loss is no lower than the first's (both count as not converged).
- invalid: a gap or loss that is not finite (a diverged run); nothing is read from it.
- selection loss rising: the last epoch's selection loss exceeds its minimum by more than RISING (relative).
- near chance: a score closes less than NEAR_CHANCE of the distance from chance to perfect,
  (score - chance) / (1 - chance) < NEAR_CHANCE.
"""

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit

from lsml_core.results import finished_runs

TOLERANCE = 0.01  # |confidence gap| at most this: calibrated
FALLING = 0.15
RISING = 0.02
NEAR_CHANCE = 0.1
AXIS = ("from scratch, underfitted", "from scratch, converged", "pretrained, fine-tuned")
NOT_READ = "not read"


def top_label_gap(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean top-label confidence minus accuracy of class probabilities [N, K] against integer labels [N]
    (single-label: `softmax(logits)`; a group's probabilities where there are groups)."""
    probabilities, labels = np.asarray(probabilities, dtype=np.float64), np.asarray(labels)
    if len(labels) == 0:
        return float("nan")
    return float(probabilities.max(axis=1).mean() - (probabilities.argmax(axis=1) == labels).mean())


def majority_frequency(labels: np.ndarray) -> float:
    """The share of the most frequent class among integer labels: the accuracy of always answering it (chance)."""
    labels = np.asarray(labels)
    return float(np.bincount(labels).max() / len(labels))


def binary_gaps(targets: np.ndarray, logits: np.ndarray, mask: np.ndarray | None = None) -> dict:
    """Confidence minus accuracy of sigmoid decisions over the unmasked pairs: all, positives, negatives."""
    targets, logits = np.asarray(targets, dtype=np.float64), np.asarray(logits, dtype=np.float64)
    keep = np.ones(targets.shape, bool) if mask is None else np.asarray(mask) > 0
    y, p = targets[keep], expit(logits[keep])
    confidence, correct = np.maximum(p, 1 - p), ((p >= 0.5) == (y > 0.5))

    def gap(rows: np.ndarray) -> float:
        return float(confidence[rows].mean() - correct[rows].mean()) if rows.any() else float("nan")

    return {"all": gap(np.ones_like(y, bool)), "positives": gap(y > 0.5), "negatives": gap(y <= 0.5)}


def training_trend(history: pd.DataFrame, train_column: str, selection_column: str) -> dict:
    """The last epoch's training and selection losses, their gap, and whether each still moves (module doc)."""
    train, selection = history[train_column].to_numpy(float), history[selection_column].to_numpy(float)
    window = max(1, math.ceil(len(train) / 5))
    whole_fall = train[0] - train[-1]
    late_fall = train[max(len(train) - 1 - window, 0)] - train[-1]
    best = int(np.nanargmin(selection)) if np.isfinite(selection).any() else len(selection) - 1
    not_decreasing = len(train) >= 2 and not whole_fall > 0
    return {
        "epochs": len(train),
        "train_loss": float(train[-1]),
        "selection_loss": float(selection[-1]),
        "loss_gap": float(selection[-1] - train[-1]),
        "late_share_of_fall": float(late_fall / whole_fall) if whole_fall > 0 else float("nan"),
        "train_still_falling": bool(len(train) < 2 or not_decreasing or late_fall > FALLING * whole_fall),
        "train_not_decreasing": bool(not_decreasing),
        "selection_loss_min": float(selection[best]),
        "selection_loss_min_epoch": best + 1,
        "selection_loss_rising": bool(selection[-1] > selection[best] * (1 + RISING)),
    }


def record(*, selection_split: str, gaps: dict, trend: dict, scores: dict) -> dict:
    """The `regime` entry of a run's metrics.json.

    gaps: split -> confidence gap (a float, or a dict of floats: per group, or all / positives / negatives);
    scores: name -> {"value", "chance"} on the selection split, for the chance check.
    """
    return {"selection_split": selection_split, "confidence_gap": gaps, "training": trend, "scores": scores}


def headline_gap(gap) -> float:
    """One number of a confidence gap entry: itself, its `all` (multi-label), or its largest magnitude (groups)."""
    if not isinstance(gap, dict):
        return float(gap)
    if "all" in gap:
        return float(gap["all"])
    return float(max(gap.values(), key=abs))


def near_chance(scores: dict) -> list[str]:
    """Names of the scores that close less than NEAR_CHANCE of the way from chance to perfect."""
    return [
        name
        for name, s in scores.items()
        if s["chance"] < 1 and (s["value"] - s["chance"]) / (1 - s["chance"]) < NEAR_CHANCE
    ]


def summarise(records: list[dict]) -> dict:
    """Mean signs over several runs' records (a baseline's seeds): gap, loss gap, shares of runs still moving."""
    selection = records[0]["selection_split"]
    trends = [r["training"] for r in records]
    scores = {
        name: {k: float(np.mean([r["scores"][name][k] for r in records])) for k in ("value", "chance")}
        for name in records[0]["scores"]
    }
    return {
        "selection_split": selection,
        "runs": len(records),
        "gap": float(np.mean([headline_gap(r["confidence_gap"][selection]) for r in records])),
        "loss_gap": float(np.mean([t["loss_gap"] for t in trends])),
        "falling": sum(t["train_still_falling"] for t in trends),
        "not_decreasing": sum(t.get("train_not_decreasing", False) for t in trends),
        "rising": sum(t["selection_loss_rising"] for t in trends),
        "epochs": trends[0]["epochs"],
        "near_chance": near_chance(scores),
        "scores": scores,
    }


def label(summary: dict) -> str:
    """invalid, chance, overconfident, calibrated or underconfident (the first that applies)."""
    if not (math.isfinite(summary["gap"]) and math.isfinite(summary["loss_gap"])):
        return "invalid"
    if summary["near_chance"]:
        return "chance"
    if summary["gap"] > TOLERANCE:
        return "overconfident"
    return "calibrated" if summary["gap"] >= -TOLERANCE else "underconfident"


def convergence_text(summary: dict) -> str:
    """How the baseline's losses ended, in words: training flat or still falling, selection loss rising or not."""
    n, runs = summary["epochs"], summary["runs"]
    of = "" if runs == 1 else f" in {summary['falling']} of {runs} runs"
    if summary.get("not_decreasing"):
        training = f"its training loss no lower after {n} epochs than after the first{of}"
    elif summary["falling"]:
        training = f"its training loss still falling after {n} epochs{of}"
    else:
        training = f"its training loss flat after {n} epochs"
    if summary["rising"]:
        rising_of = "" if runs == 1 else f" ({summary['rising']} of {runs} runs)"
        training += f", its {summary['selection_split']} loss up from its minimum{rising_of}"
    return f"{training} ({summary['selection_split']} loss {summary['loss_gap']:+.3f} above training loss)"


def reading(summary: dict, baseline: str) -> str:
    """One generated sentence: which regime the baseline's runs read, and whether the published claims apply."""
    kind, gap, split = label(summary), summary["gap"], summary["selection_split"]
    if kind == "invalid":
        return (
            f"The {baseline} baseline's confidence gap or losses on the {split} split are not finite (a diverged "
            "run): nothing about label smoothing can be read from it."
        )
    state = convergence_text(summary)
    if kind == "chance":
        named = ", ".join(
            f"{name} {summary['scores'][name]['value']:.3f} (chance {summary['scores'][name]['chance']:.3f})"
            for name in summary["near_chance"]
        )
        return (
            f"The {baseline} baseline is at chance level on the {split} split ({named}): "
            "nothing about label smoothing can be read from it."
        )
    if kind == "overconfident":
        where = (
            "the regime of the published claims"
            if not summary["falling"] or summary["rising"]
            else "overconfident like the published baselines, though not yet converged"
        )
        return f"The {baseline} baseline is overconfident on the {split} split by {gap:.3f}, {state}: {where}."
    if kind == "underconfident":
        fit = "an underfitted regime" if summary["falling"] else "a regime unlike the published baselines'"
        return (
            f"The {baseline} baseline is underconfident on the {split} split by {-gap:.3f}, {state}: {fit}; "
            "the published claims, which concern an overconfident baseline, are not tested here."
        )
    return (
        f"The {baseline} baseline is calibrated on the {split} split (confidence - accuracy {gap:+.3f}), {state}: "
        "smoothing has little overconfidence to repair; the published calibration claims are not tested here."
    )


def conclusion_caveat(kinds: list[str]) -> str:
    """The sentence a report's conclusions open with, from the kinds of its baselines (`label`, or unrecorded:
    finished by an older revision; unknown: no baseline finished)."""
    if not kinds or "unknown" in kinds:
        return "No baseline has finished: the regime these conclusions were read in is not known."
    if all(k == "overconfident" for k in kinds):
        return "These conclusions are read from overconfident baselines, the regime of the published claims."
    if "invalid" in kinds:
        return "Some baselines diverged: their comparisons say nothing about label smoothing."
    if "chance" in kinds:
        return "Some baselines are at chance level: their comparisons say nothing about label smoothing."
    if "unrecorded" in kinds:
        return (
            "The regime of some baselines is not recorded: these conclusions cannot say whether they were read in "
            "the regime of the published claims."
        )
    return (
        "These conclusions are read from baselines that are not overconfident: they say what smoothing does in "
        "this regime, not whether the published claims hold."
    )


def baseline_summaries(
    profile_dir: Path, baseline_of: Callable[[dict], str | None], runs: Callable = finished_runs
) -> dict[str, dict | None]:
    """Per baseline of a profile, `summarise` of its runs' records (None when a run predates the diagnostic);
    `baseline_of(config)` names a run's baseline group (None: no baseline), `runs(profile_dir)` yields the runs a
    report reads (default every finished one)."""
    records: dict[str, list[dict]] = {}
    for _, config, metrics in runs(profile_dir):
        name = baseline_of(config)
        if name is not None:
            records.setdefault(name, []).append(metrics.get("regime"))
    return {name: None if any(r is None for r in found) else summarise(found) for name, found in records.items()}


def profile_readings(
    profile_dir: Path, baseline_of: Callable[[dict], str | None], runs: Callable = finished_runs
) -> list[tuple[str, str]]:
    """(label, sentence) per baseline of a profile (`baseline_summaries`); a baseline whose runs predate the
    diagnostic is named with the command that records it."""
    readings = []
    for name, summary in baseline_summaries(profile_dir, baseline_of, runs).items():
        if summary is None:
            readings.append(
                (
                    "unrecorded",
                    f"The regime of the {name} baseline is not recorded: its runs were "
                    "evaluated by an older version; rerun the profile with `--force` to record it.",
                )
            )
        else:
            readings.append((label(summary), reading(summary, name)))
    return readings


def axis(pretrained: bool, summaries: list[dict | None]) -> str:
    """Where a profile sits on the regime axis (`AXIS`), from its baselines' summaries: pretrained then fine-tuned;
    from scratch, converged when every baseline's training loss ended flat; from scratch, underfitted when one
    still fell. `not read` when a baseline is missing, unrecorded, diverged or at chance level: nothing is read."""
    if not summaries or any(s is None or label(s) in ("invalid", "chance") for s in summaries):
        return NOT_READ
    if pretrained:
        return AXIS[2]
    return AXIS[0] if any(s["falling"] or s.get("not_decreasing") for s in summaries) else AXIS[1]
