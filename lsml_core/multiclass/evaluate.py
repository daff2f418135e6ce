"""Evaluation of a trained single-label run: logits per split, metrics before/after temperature scaling, metrics.json.

The temperature is fitted on the selection part; test is only reported. Also written: scikit-learn's
per-class classification report and confusion matrix on test, the penultimate-layer features of
test images of the three projection classes (for the Mueller et al. figure), and the run's regime
(`lsml_core.regime`): the top-label confidence gap of softmax(logits) at T = 1 per split, the trend of
the training loss against the selection loss in history.csv with the training batches' accuracy against
the selection part's (FITTED_SCORES), and the selection accuracy against the majority-class frequency of the selection part
(chance).
"""

from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import softmax
from sklearn.metrics import classification_report, confusion_matrix

from lsml_core import dose, fit, layout, regime, results
from lsml_core.multiclass.config import RunConfig
from lsml_core.multiclass.data import Splits, load_splits
from lsml_core.multiclass.metrics import softmax_temperature, split_metrics
from lsml_core.multiclass.train import model_for, predict
from lsml_core.records import atomic_write_npz, write_json
from lsml_core.threads import on_run_threads

REPORTED = ("selection", "test")
SELECTION_SPLIT = "selection"  # early stopping, the temperature and the instance-based grid point are chosen on it
LOGIT_PREFIX = "logit_"
FITTED_SCORES = {"accuracy": ("train_accuracy", "selection_accuracy")}  # history columns of the fitted gap


def write_predictions(path: Path, labels: np.ndarray, logits: np.ndarray, classes: tuple[str, ...]) -> None:
    """label, then one logit column per class."""
    results.write_predictions(path, pd.DataFrame({"label": labels}), logits, [f"{LOGIT_PREFIX}{c}" for c in classes])


def read_predictions(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(labels, logits) from a predictions CSV."""
    labels, logits, _ = results.read_predictions(path, LOGIT_PREFIX, np.float64)
    return labels["label"].to_numpy(), logits


def write_projection(
    path: Path, features: np.ndarray, labels: np.ndarray, classes: list[int], templates: np.ndarray
) -> None:
    """Penultimate features and labels of the images of `classes`, and those classes' templates (rows of the
    last layer's weight, in the order of `classes`), as .npz."""
    keep = np.isin(labels, classes)
    atomic_write_npz(
        path, features=features[keep], labels=labels[keep], classes=np.asarray(classes), templates=templates
    )


def regime_record(outputs: dict[str, tuple[np.ndarray, np.ndarray]], history: pd.DataFrame) -> dict:
    """The run's `regime` entry from its (labels, logits) per split and its history: the top-label gap of
    softmax(logits) per split, train_loss against selection_loss, train against selection accuracy, and selection accuracy against
    the majority class."""
    labels, logits = outputs[SELECTION_SPLIT]
    accuracy = float((np.asarray(logits).argmax(1) == labels).mean())
    return regime.record(
        selection_split=SELECTION_SPLIT,
        gaps={
            name: regime.top_label_gap(softmax(np.asarray(x, np.float64), axis=1), y)
            for name, (y, x) in outputs.items()
        },
        trend=regime.training_trend(history, "train_loss", "selection_loss", FITTED_SCORES),
        scores={"accuracy": {"value": accuracy, "chance": regime.majority_frequency(labels)}},
    )


@on_run_threads
def evaluate_run(cfg: RunConfig, run_dir: Path, data_dir: Path, splits: Splits | None = None) -> dict:
    """Predict the selection part and test with the best model; write predictions, projection features and metrics.json."""
    run_dir = Path(run_dir)
    splits = splits or load_splits(cfg.data, data_dir)
    best = fit.best_model(run_dir, cfg.train.device, lambda device: model_for(cfg, splits, device))
    outputs = {
        name: (
            getattr(splits, name).labels.numpy(),
            predict(best.model, getattr(splits, name), splits, best.device, best.compute, desc=f"{cfg.name}, {name}"),
        )
        for name in REPORTED
    }
    temperature = softmax_temperature(*outputs["selection"])
    metrics = {
        "run": cfg.name,
        "best_epoch": best.epoch,
        "temperature": temperature,
        "data_source": splits.source,
        "classes": list(splits.classes),
        "splits": {},
    }
    for name, (labels, logits) in outputs.items():
        write_predictions(run_dir / layout.predictions(name), labels, logits, splits.classes)
        metrics["splits"][name] = {
            "before": split_metrics(labels, logits),
            "after": split_metrics(labels, logits, temperature),
        }
    labels, logits = outputs["test"]
    metrics["classification_report"] = classification_report(
        labels,
        logits.argmax(1),
        labels=range(len(splits.classes)),
        target_names=list(splits.classes),
        output_dict=True,
        zero_division=0,
    )
    history = pd.read_csv(run_dir / layout.HISTORY)
    metrics["regime"] = regime_record(outputs, history)
    metrics["dose"] = dose.from_history(history)  # None: a distillation student, or trained by an older revision
    metrics["confusion_matrix"] = confusion_matrix(labels, logits.argmax(1), labels=range(len(splits.classes))).tolist()
    write_projection(
        run_dir / layout.PROJECTION,
        predict(best.model, splits.test, splits, best.device, best.compute, features=True),
        labels,
        cfg.data.projection_classes,
        best.model.head.weight[cfg.data.projection_classes].detach().cpu().numpy(),
    )
    write_json(run_dir / layout.METRICS, metrics)
    return metrics


is_complete = partial(results.is_complete, splits=REPORTED)  # finished: metrics.json holds every reported split
