"""The regime of one grouped run (`lsml_core.regime`), recorded under `regime` in its metrics.json.

- gaps: per split and per group, the top-label gap mean_i max_k p_g[i, k] - mean_i 1[argmax p_g[i] = y_g[i]]
  of the group's probabilities p_g (`metrics.group_probabilities`: a softmax, or a flat head's sigmoids
  divided by their sum).
- trend (history.csv): the training column is `train_group_loss`, sum_g w_g L_g on the training batches
  with the run's own (smoothed) targets and SESEMI left out; the selection column is its selection
  counterpart sum_g w_g log_loss_g (`train.weighted_log_loss`, hard labels), so the loss gap compares
  the same weighted sum of the groups' losses. For a `grouped` head without smoothing both are the
  weighted cross-entropy; a flat head's L_g is a summed BCE, not a log loss, so its gap compares two
  different losses (its trend, still falling or not, stays readable). A history written before
  `train_group_loss` existed falls back to `train_loss`, which includes w_aux CE(SESEMI): the record
  names the column it used. The fitted gap reads each group's accuracy on the training batches
  (`train_accuracy_<group>`, against the labels trained on: pseudo-labels among them in phase 3) against
  its selection accuracy (`selection_accuracy_<group>`), the largest gap over the groups.
- scores (selection): each group's accuracy against its chance, the frequency of the group's majority
  class among the selection labels; exact match against the product of those chances (both groups'
  majority classes at once, were the groups independent).
"""

from pathlib import Path

import numpy as np
import pandas as pd

from lsml_core import layout, regime
from lsml_core.grouped.config import RunConfig
from lsml_core.grouped.train import weighted_log_loss

SELECTION = "selection"
TRAIN_COLUMN = "train_group_loss"
OLD_TRAIN_COLUMN = "train_loss"  # histories written before TRAIN_COLUMN existed
SELECTION_COLUMN = "selection_group_loss"


def group_gaps(labels: np.ndarray, probs: list[np.ndarray], groups) -> dict:
    """group -> top-label confidence gap of a split."""
    return {group: regime.top_label_gap(p, labels[:, g]) for g, (group, p) in enumerate(zip(groups, probs))}


def chance_scores(labels: np.ndarray, metrics: dict, groups) -> dict:
    """accuracy_<group> vs its majority-class frequency, exact_match vs the product of those."""
    chances = {group: regime.majority_frequency(labels[:, g]) for g, group in enumerate(groups)}
    scores = {f"accuracy_{g}": {"value": metrics[f"accuracy_{g}"], "chance": chances[g]} for g in groups}
    scores["exact_match"] = {"value": metrics["exact_match"], "chance": float(np.prod(list(chances.values())))}
    return scores


def fitted_scores(groups) -> dict:
    """`accuracy (<group>)` -> (training column, selection column) of the history, per group."""
    return {f"accuracy ({g})": (f"train_accuracy_{g}", f"{SELECTION}_accuracy_{g}") for g in groups}


def trend(run_dir: Path, cfg: RunConfig, groups) -> dict:
    """`regime.training_trend` of the run's history (module doc), with the columns it compared."""
    history = pd.read_csv(Path(run_dir) / layout.HISTORY)
    history[SELECTION_COLUMN] = weighted_log_loss(history, cfg, tuple(groups))
    train_column = TRAIN_COLUMN if TRAIN_COLUMN in history else OLD_TRAIN_COLUMN
    return {
        **regime.training_trend(history, train_column, SELECTION_COLUMN, fitted_scores(groups)),
        "train_column": train_column,
        "selection_column": SELECTION_COLUMN,
    }


def run_regime(cfg: RunConfig, run_dir: Path, splits: dict, groups) -> dict:
    """The regime record of a run from `splits`: name -> (labels, group probabilities, split metrics)."""
    gaps = {name: group_gaps(labels, probs, groups) for name, (labels, probs, _) in splits.items()}
    labels, _, metrics = splits[SELECTION]
    return regime.record(
        selection_split=SELECTION,
        gaps=gaps,
        trend=trend(run_dir, cfg, groups),
        scores=chance_scores(labels, metrics, groups),
    )
