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
  loss is no lower than the first's. Recorded, not read as convergence: every recipe decays its learning
  rate to (near) zero, which flattens any training loss, fitted or not.
- invalid: a gap or loss that is not finite (a diverged run); nothing is read from it.
- selection loss rising: the last epoch's selection loss exceeds its minimum by more than RISING (relative),
  rise = L_sel[last] / min_e L_sel[e] - 1.
- fitted gap (history.csv, last epoch): score on the fitted images - the same score on the selection split,
  the largest over the scores a track names (single-label: accuracy; grouped: each group's accuracy;
  multi-label: exact match, every unmasked class decided right at p >= 0.5). The fitted score is the
  training batches' predictions accumulated over each epoch by the training loop: no extra pass, no random
  numbers, no autograd, the batches' order untouched, so no trained number changes. Those predictions are of
  augmented images in training mode while the weights move, which as a rule scores lower than the final
  model on its unaugmented training images: the gap read errs towards too small, towards not converged.
- falling at a high rate: over the epochs up to the last whose learning rate (history's `lr`/`lr_<group>`, the
  rate the epoch trained at, relative to its peak; the largest over groups) is >= HIGH_RATE, the training loss
  is still falling by the rule above. Its loss flattened only because the rate decayed: not converged. With
  fewer than MIN_HIGH_RATE_EPOCHS epochs at a high rate (a rate cut early, as the grouped recipe's phases do)
  the rule's window is a single epoch and says nothing: not read (None), and convergence rests on the other
  signals.
  Also recorded: the share of the whole fall reached by then, (L[0] - L[high]) / (L[0] - L[last]).
- converged: (selection loss rising or fitted gap > FITTED_GAP) and not falling at a high rate and training
  decreasing (Guo et al. 2017: overfitting shows as the held-out loss rising while accuracy holds, and as
  a gap between the fitted and the held-out score). Otherwise not shown converged. A record without these
  signals (an older revision's) reads as convergence not recorded, never as converged.
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
HIGH_RATE = 0.5  # a learning rate at least this share of its peak has not yet decayed
MIN_HIGH_RATE_EPOCHS = 5  # fewer epochs at a high rate than this: whether the loss still fell there is not read
# Fitted minus selection score that reads as overfitting: three times the sampling sd of an accuracy near 0.8 on
# a selection split of 1,000 images (0.013), and far below the gaps of overfitted networks (Guo et al. 2017:
# training error near 0 against test errors of 6-30%); the fitted score read is itself lowered (module doc).
FITTED_GAP = 0.05
NEAR_CHANCE = 0.1
UNCONVERGED = "overconfident, not shown converged"  # a baseline's kind (`kind`): not the published claims' regime
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


def still_falling(train: np.ndarray) -> tuple[float, float, bool]:
    """(fall in the last fifth of the epochs, whole fall, still falling or not decreasing) of a training loss."""
    window = max(1, math.ceil(len(train) / 5))
    whole_fall = float(train[0] - train[-1]) if len(train) else float("nan")
    late_fall = float(train[max(len(train) - 1 - window, 0)] - train[-1]) if len(train) else float("nan")
    return late_fall, whole_fall, bool(len(train) < 2 or not whole_fall > 0 or late_fall > FALLING * whole_fall)


def rate_columns(history: pd.DataFrame) -> list[str]:
    """The history's learning-rate columns (`fit.learning_rates`): `lr`, or `lr_<group>` per named group."""
    return [c for c in history.columns if c == "lr" or c.startswith("lr_")]


def high_rate_trend(history: pd.DataFrame, train: np.ndarray) -> dict:
    """The last epoch at a high rate (>= HIGH_RATE of its peak), the share of the fall reached by it, and whether
    the loss still fell there (module doc); None without learning-rate columns (an older history)."""
    rates = history[rate_columns(history)].to_numpy(float)
    peaks = rates.max(axis=0, initial=0.0)
    if not (peaks > 0).any():
        return {"high_rate_epochs": None, "high_rate_share_of_fall": float("nan"), "falling_at_high_rate": None}
    relative = (rates[:, peaks > 0] / peaks[peaks > 0]).max(axis=1)
    high = int(np.flatnonzero(relative >= HIGH_RATE)[-1]) + 1
    whole_fall = train[0] - train[-1]
    return {
        "high_rate_epochs": high,
        "high_rate_share_of_fall": float((train[0] - train[high - 1]) / whole_fall) if whole_fall > 0 else float("nan"),
        "falling_at_high_rate": still_falling(train[:high])[2] if high >= MIN_HIGH_RATE_EPOCHS else None,
    }


def fitted_gap(history: pd.DataFrame, scores: dict[str, tuple[str, str]]) -> dict:
    """The last epoch's fitted and selection scores per name -> (fitted column, selection column), and the
    largest gap fitted - selection with its score's name; gap None when the history lacks a column."""
    last = history.iloc[-1]
    found = {
        name: {"fitted": float(last[fitted]), "selection": float(last[selection])}
        for name, (fitted, selection) in scores.items()
        if fitted in history and selection in history
    }
    if not found:
        return {"fitted_scores": {}, "fitted_gap": None, "fitted_gap_score": None}
    name = max(found, key=lambda n: found[n]["fitted"] - found[n]["selection"])
    return {
        "fitted_scores": found,
        "fitted_gap": found[name]["fitted"] - found[name]["selection"],
        "fitted_gap_score": name,
    }


def converged(trend: dict) -> bool | None:
    """(selection loss rising or fitted gap > FITTED_GAP) and not falling at a high rate and training decreasing;
    None where the record lacks a signal it needs (finished by an older revision)."""
    high, gap = trend.get("falling_at_high_rate"), trend.get("fitted_gap")
    unrecorded = high is None and trend.get("high_rate_epochs") is None  # no learning rates in the history
    if unrecorded or (gap is None and not trend["selection_loss_rising"]):
        return None
    shown = trend["selection_loss_rising"] or (gap is not None and gap > FITTED_GAP)
    return bool(shown and not high and not trend.get("train_not_decreasing", False))


def training_trend(
    history: pd.DataFrame, train_column: str, selection_column: str, scores: dict[str, tuple[str, str]] | None = None
) -> dict:
    """The last epoch's training and selection losses, their gap, whether each still moves, the fall at a high
    learning rate, the fitted gap of `scores` (name -> (fitted column, selection column)) and `converged`."""
    train, selection = history[train_column].to_numpy(float), history[selection_column].to_numpy(float)
    late_fall, whole_fall, falling = still_falling(train)
    best = int(np.nanargmin(selection)) if np.isfinite(selection).any() else len(selection) - 1
    trend = {
        "epochs": len(train),
        "train_loss": float(train[-1]),
        "selection_loss": float(selection[-1]),
        "loss_gap": float(selection[-1] - train[-1]),
        "late_share_of_fall": float(late_fall / whole_fall) if whole_fall > 0 else float("nan"),
        "train_still_falling": falling,
        "train_not_decreasing": bool(len(train) >= 2 and not whole_fall > 0),
        "selection_loss_min": float(selection[best]),
        "selection_loss_min_epoch": best + 1,
        "selection_loss_rising": bool(selection[-1] > selection[best] * (1 + RISING)),
        "selection_loss_rise": float(selection[-1] / selection[best] - 1),
        **high_rate_trend(history, train),
        **fitted_gap(history, scores or {}),
    }
    return {**trend, "converged": converged(trend)}


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


def mean_scores(trends: list[dict]) -> dict:
    """name -> mean fitted and selection score over the runs that recorded it (`fitted_gap`)."""
    names = dict.fromkeys(n for t in trends for n in t.get("fitted_scores", {}))
    return {
        name: {
            k: float(np.mean([t["fitted_scores"][name][k] for t in trends if name in t.get("fitted_scores", {})]))
            for k in ("fitted", "selection")
        }
        for name in names
    }


def rise(trend: dict) -> float:
    """The selection loss's last epoch over its minimum, minus 1 (NaN where a record lacks them)."""
    if "selection_loss" not in trend or "selection_loss_min" not in trend:
        return float("nan")
    return trend["selection_loss"] / trend["selection_loss_min"] - 1


def summarise(records: list[dict]) -> dict:
    """Mean signs over several runs' records (a baseline's seeds): gap, loss gap, shares of runs still moving, the
    convergence signals (`converged`: runs converged, None when a record lacks them)."""
    selection = records[0]["selection_split"]
    trends = [r["training"] for r in records]
    scores = {
        name: {k: float(np.mean([r["scores"][name][k] for r in records])) for k in ("value", "chance")}
        for name in records[0]["scores"]
    }
    rising = [t for t in trends if t["selection_loss_rising"]]
    verdicts = [converged(t) for t in trends]
    return {
        "selection_split": selection,
        "runs": len(records),
        "gap": float(np.mean([headline_gap(r["confidence_gap"][selection]) for r in records])),
        "loss_gap": float(np.mean([t["loss_gap"] for t in trends])),
        "falling": sum(t["train_still_falling"] for t in trends),
        "not_decreasing": sum(t.get("train_not_decreasing", False) for t in trends),
        "rising": len(rising),
        "rise": float(np.mean([rise(t) for t in rising])) if rising else float("nan"),
        "rise_epochs": sorted({t["selection_loss_min_epoch"] for t in rising if "selection_loss_min_epoch" in t}),
        "high_rate_falling": sum(bool(t.get("falling_at_high_rate")) for t in trends),
        "high_rate_epochs": trends[0].get("high_rate_epochs"),
        "fitted": mean_scores(trends),
        "converged": None if None in verdicts else sum(verdicts),
        "epochs": trends[0]["epochs"],
        "near_chance": near_chance(scores),
        "scores": scores,
    }


def baseline_converged(summary: dict) -> bool | None:
    """Every run of the baseline converged (`converged`); None when a run's record lacks the signals."""
    found = summary.get("converged")
    return None if found is None else found == summary["runs"]


def label(summary: dict) -> str:
    """invalid, chance, overconfident, calibrated or underconfident (the first that applies)."""
    if not (math.isfinite(summary["gap"]) and math.isfinite(summary["loss_gap"])):
        return "invalid"
    if summary["near_chance"]:
        return "chance"
    if summary["gap"] > TOLERANCE:
        return "overconfident"
    return "calibrated" if summary["gap"] >= -TOLERANCE else "underconfident"


def kind(summary: dict, pretrained: bool = False) -> str:
    """`label`, but for an overconfident baseline trained from scratch and not shown converged UNCONVERGED
    (unrecorded where its record lacks the signals): the published claims concern overconfident baselines that
    are pretrained (then fine-tuned) or trained from scratch to convergence."""
    found = label(summary)
    if found != "overconfident" or pretrained or baseline_converged(summary):
        return found
    return "unrecorded" if baseline_converged(summary) is None else UNCONVERGED


def training_text(summary: dict) -> str:
    """How the training loss ended: no lower than at first, still falling at a high rate, still falling, or flat."""
    n, runs = summary["epochs"], summary["runs"]

    def of(count: int) -> str:
        return "" if runs == 1 else f" in {count} of {runs} runs"

    if summary.get("not_decreasing"):
        return f"its training loss no lower after {n} epochs than after the first{of(summary['not_decreasing'])}"
    if summary.get("high_rate_falling"):
        return (
            f"its training loss still falling at epoch {summary['high_rate_epochs']}, the last at "
            f"{HIGH_RATE:.0%} or more of its peak learning rate{of(summary['high_rate_falling'])}"
        )
    if summary["falling"]:
        return f"its training loss still falling after {n} epochs{of(summary['falling'])}"
    return f"its training loss flat after {n} epochs"


def signal_texts(summary: dict) -> list[str]:
    """The convergence signals read: the selection loss up from its minimum, the fitted against selection score."""
    split, runs, texts = summary["selection_split"], summary["runs"], []
    if summary["rising"]:
        epochs = ", ".join(str(e) for e in summary.get("rise_epochs", []))
        at = f" at epoch{'s' if len(summary.get('rise_epochs', [])) > 1 else ''} {epochs}" if epochs else ""
        of = "" if runs == 1 else f" ({summary['rising']} of {runs} runs)"
        by = f" {summary['rise']:.0%}" if math.isfinite(summary.get("rise", float("nan"))) else ""
        texts.append(f"its {split} loss up{by} from its minimum{at}{of}")
    fitted = summary.get("fitted", {})
    if fitted:
        name = max(fitted, key=lambda n: fitted[n]["fitted"] - fitted[n]["selection"])
        texts.append(
            f"training {name} {fitted[name]['fitted']:.2f} against {fitted[name]['selection']:.2f} on the {split} split"
        )
    return texts


def verdict_text(summary: dict) -> str:
    """converged, not converged (the loss still fell at a high rate), not shown converged, or not recorded."""
    state = baseline_converged(summary)
    if state is None:
        return (
            "its convergence not recorded (evaluated by an older version: rerun the profile with `--force` to "
            "record it)"
        )
    if state:
        return "so converged"
    if summary.get("high_rate_falling") or summary.get("not_decreasing"):
        return "so not converged"
    shown = "" if summary["runs"] == 1 else f" ({summary['converged']} of {summary['runs']} runs converged)"
    return f"so not shown converged{shown}"


def convergence_text(summary: dict) -> str:
    """How the baseline's training ended and which signals its convergence was read from (module doc)."""
    parts = [training_text(summary), *signal_texts(summary), verdict_text(summary)]
    return f"{', '.join(parts)} ({summary['selection_split']} loss {summary['loss_gap']:+.3f} above training loss)"


def reading(summary: dict, baseline: str, pretrained: bool = False) -> str:
    """One generated sentence: which regime the baseline's runs read, and whether the published claims apply
    (overconfident, and pretrained or converged)."""
    kind_, gap, split = label(summary), summary["gap"], summary["selection_split"]
    if kind_ == "invalid":
        return (
            f"The {baseline} baseline's confidence gap or losses on the {split} split are not finite (a diverged "
            "run): nothing about label smoothing can be read from it."
        )
    state, converged_ = convergence_text(summary), baseline_converged(summary)
    if kind_ == "chance":
        named = ", ".join(
            f"{name} {summary['scores'][name]['value']:.3f} (chance {summary['scores'][name]['chance']:.3f})"
            for name in summary["near_chance"]
        )
        return (
            f"The {baseline} baseline is at chance level on the {split} split ({named}): "
            "nothing about label smoothing can be read from it."
        )
    if kind_ == "overconfident" and pretrained:
        return (
            f"The {baseline} baseline is overconfident on the {split} split by {gap:.3f}, {state}: the regime of the "
            "published claims (a pretrained backbone, fine-tuned)."
        )
    if kind_ == "overconfident":
        where = {
            True: "the regime of the published claims",
            False: "overconfident like the published baselines, though not shown converged",
            None: "overconfident like the published baselines, though its convergence is not recorded",
        }[converged_]
        return f"The {baseline} baseline is overconfident on the {split} split by {gap:.3f}, {state}: {where}."
    if kind_ == "underconfident":
        return (
            f"The {baseline} baseline is underconfident on the {split} split by {-gap:.3f}, {state}: "
            f"{unconfident_regime(summary)}; the published claims, which concern an overconfident baseline, are "
            "not tested here."
        )
    return (
        f"The {baseline} baseline is calibrated on the {split} split (confidence - accuracy {gap:+.3f}), {state}: "
        "smoothing has little overconfidence to repair; the published calibration claims are not tested here."
    )


def unconfident_regime(summary: dict) -> str:
    """The regime of an underconfident baseline: unlike the published baselines' when converged, else
    underfitted (still falling), not shown converged, or not recorded."""
    state = baseline_converged(summary)
    if state is None:
        return "a regime whose convergence is not recorded"
    if state:
        return "a regime unlike the published baselines'"
    if summary.get("high_rate_falling") or summary.get("not_decreasing") or summary["falling"]:
        return "an underfitted regime"
    return "a regime not shown converged"


def conclusion_caveat(kinds: list[str]) -> str:
    """The sentence a report's conclusions open with, from the kinds of its baselines (`kind`, or unrecorded:
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
    if UNCONVERGED in kinds:
        return (
            "Some baselines are overconfident but not shown converged: these conclusions cannot say whether they "
            "were read in the regime of the published claims."
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
    profile_dir: Path,
    baseline_of: Callable[[dict], str | None],
    runs: Callable = finished_runs,
    pretrained: bool = False,
) -> list[tuple[str, str]]:
    """(label, sentence) per baseline of a profile (`baseline_summaries`; `pretrained`: its backbones were); a
    baseline whose runs predate the diagnostic is named with the command that records it."""
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
            readings.append((kind(summary, pretrained), reading(summary, name, pretrained)))
    return readings


def axis(pretrained: bool, summaries: list[dict | None]) -> str:
    """Where a profile sits on the regime axis (`AXIS`), from its baselines' summaries: pretrained then fine-tuned;
    from scratch, converged when every baseline converged by its signals (`converged`, not a training loss that
    only flattened with the decayed rate); from scratch, underfitted otherwise. `not read` when a baseline is
    missing, unrecorded (its convergence too), diverged or at chance level: nothing is read."""
    if not summaries or any(s is None or label(s) in ("invalid", "chance") for s in summaries):
        return NOT_READ
    if pretrained:
        return AXIS[2]
    states = [baseline_converged(s) for s in summaries]
    if None in states:
        return NOT_READ
    return AXIS[1] if all(states) else AXIS[0]
