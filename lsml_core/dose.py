"""The smoothing dose of a run: how far, per decision, the targets it trained on lie from its hard labels,
and a generated sentence that sets an arm's dose beside its baseline's overconfidence.

The dose is measured on the targets each training batch actually used (after label noise, with the
teacher of instance-based smoothing), summed over the epoch's decisions and divided by their number:

- multi-label, each unmasked (image, class) pair one decision, target t against hard label y:
      dose = sum |t - y| / #pairs
  With K classes and a fraction pi of the pairs positive, at degree a: uniform pi a (1 - 1/K) + (1 - pi) a/K,
  positive pi a, binary a/2, symmetric a, instance as uniform (it moves the same mass per image onto the
  negatives, only shared out by its teacher; masked pairs aside), none 0.
- single-label, each image one decision, target distribution q against the one-hot label y:
      dose = mean_i (1 - q_i[y_i]) = mean_i |q_i - onehot(y_i)|_1 / 2
  the mass moved off the true class: a (1 - 1/K) for uniform smoothing (explicit targets or torch's
  `label_smoothing`, which trains towards the same distribution), a for instance-based smoothing, 0 for CE.
  A distillation student records no dose: its targets are a teacher's, not smoothed labels.
- grouped: per group, the single-label dose of a softmax head and the multi-label dose of a flat head's
  sigmoid columns, as `dose_<group>`.

A model that fitted its targets exactly would be about `dose` less confident per decision than one fitted to
the hard labels (Müller, Kornblith & Hinton 2019 read label smoothing as such a penalty on confidence), so a
dose below the baseline's overconfidence (`regime.summarise(...)["gap"]`) leaves room to calibrate and one
above it points towards underconfidence. The computation stays outside autograd and draws no random numbers:
it changes no trained number.
"""

import math

import numpy as np
import pandas as pd
import torch

from lsml_core.regime import TOLERANCE, headline_gap

COLUMN = "dose"  # the history column (grouped: `dose_<group>`)


def column(group: str | None = None) -> str:
    """The history column of a run's dose, or of one group's."""
    return COLUMN if group is None else f"{COLUMN}_{group}"


@torch.no_grad()
def multi_hot_moved(targets: torch.Tensor, hard: torch.Tensor, mask: torch.Tensor | None = None):
    """(sum of |t - y| over the unmasked pairs, the number of those pairs) of a batch of multi-hot targets."""
    moved = (targets.detach().float() - hard.float()).abs()
    if mask is None:
        return moved.sum(), moved.numel()
    mask = mask.detach().float()
    return (moved * mask).sum(), mask.sum()


@torch.no_grad()
def single_label_moved(targets: torch.Tensor, labels: torch.Tensor):
    """(sum over images of 1 - q[true class], the number of images) of a batch of target distributions."""
    kept = targets.detach().float().gather(1, labels.long().view(-1, 1))
    return (1.0 - kept).sum(), len(labels)


class Meter:
    """The dose of one epoch: |target - hard| summed over its batches' decisions, kept on the device and read
    back once, at the end (`value`)."""

    def __init__(self):
        self.moved, self.counted, self.count = [], [], 0.0

    def add(self, moved: torch.Tensor, decisions) -> None:
        """One batch's (sum of |target - hard|, number of decisions); either may stay on the device."""
        self.moved.append(moved.detach().float())
        if isinstance(decisions, torch.Tensor):
            self.counted.append(decisions.detach().float())
        else:
            self.count += float(decisions)

    def value(self) -> float:
        """The epoch's dose; NaN when no batch was seen."""
        if not self.moved:
            return float("nan")
        moved = float(torch.stack(self.moved).sum())
        decisions = self.count + (float(torch.stack(self.counted).sum()) if self.counted else 0.0)
        return moved / decisions if decisions > 0 else float("nan")


def from_history(history: pd.DataFrame, name: str = COLUMN) -> float | None:
    """The run's dose for metrics.json: the mean of a history column over its epochs; None (not recorded) when
    the column is missing or an epoch lacks it (trained, or partly trained, by an older revision)."""
    if name not in history or history[name].isna().any():
        return None
    return float(history[name].mean())


def group_doses(history: pd.DataFrame, groups) -> dict[str, float | None] | None:
    """group -> the run's dose of that group (`from_history`); None when no group recorded one."""
    doses = {g: from_history(history, column(g)) for g in groups}
    return None if all(d is None for d in doses.values()) else doses


def mean_recorded(values) -> float | None:
    """The mean over an arm's seeds (of doses, or of gaps); None (not recorded) when a seed lacks it."""
    values = list(values)
    if not values or any(v is None or (isinstance(v, float) and math.isnan(v)) for v in values):
        return None
    return float(np.mean(values))


def sentence(arm: str, dose: float | None, gap: float | None, baseline: str = "the baseline") -> str:
    """One generated sentence: an arm's dose beside its baseline's confidence gap (module doc)."""
    if dose is None:
        return f"{arm}: dose not recorded (its runs were trained by an older revision)."
    if dose == 0:
        return f"{arm}: dose 0 (hard targets)."
    if gap is None or not math.isfinite(gap):
        return f"{arm}: dose {dose:.3f}; {baseline}'s confidence gap is not recorded."
    if gap <= TOLERANCE:
        return (
            f"{arm}: dose {dose:.3f}; {baseline} is not overconfident (gap {gap:+.3f}): any dose pushes it "
            "toward underconfidence."
        )
    if dose < gap:
        return f"{arm}: dose {dose:.3f}, below {baseline}'s overconfidence {gap:.3f}: room to calibrate."
    return f"{arm}: dose {dose:.3f}, at or above {baseline}'s overconfidence {gap:.3f}: expect underconfidence."


def recorded(metrics: dict, group: str | None = None) -> float | None:
    """A run's dose from its metrics.json (one group's, where there are groups); None where it is not recorded."""
    value = metrics.get(COLUMN)
    if isinstance(value, dict):
        value = value.get(group)
    return None if value is None else float(value)


def selection_gap(metrics: dict, group: str | None = None) -> float | None:
    """A run's confidence gap on its selection split (`regime.headline_gap`, or one group's); None unrecorded."""
    entry = metrics.get("regime")
    if entry is None:
        return None
    gap = entry["confidence_gap"][entry["selection_split"]]
    return float(gap[group]) if group is not None else headline_gap(gap)


def readings(doses: dict[tuple[str, str], list], gaps: dict[str, float | None]) -> list[str]:
    """One `sentence` per (baseline, arm) of `doses` (its seeds' doses, in order), beside `gaps[baseline]`."""
    return [
        sentence(f"{baseline}, {arm}", mean_recorded(values), gaps.get(baseline))
        for (baseline, arm), values in doses.items()
    ]
