"""Evaluation of a trained grouped run: metrics of fit, selection and test with the best model, confusion
matrices on test, the pseudo-labels' record, the run's regime (`run_regime`), predictions files for the
report's paired bootstrap.

`train` is the labeled training part read unaugmented (the source's "train accuracy"); test is only reported.
"""

from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from lsml_core import dose, fit, layout, results
from lsml_core.grouped.config import RunConfig
from lsml_core.grouped.data import Splits, load_splits
from lsml_core.grouped.metrics import confusion_matrices, group_probabilities, split_metrics
from lsml_core.grouped.run_regime import run_regime
from lsml_core.grouped.train import model_for, predict, pseudo_record
from lsml_core.records import write_json
from lsml_core.threads import on_run_threads

REPORTED = ("fit", "selection", "test")
LOGIT_PREFIX = "logit_"


def write_predictions(path: Path, labels: np.ndarray, logits: np.ndarray, splits: Splits) -> None:
    """`label_<group>` columns, then `logit_<group>_<class>` for every class of every group."""
    frame = pd.DataFrame({f"label_{g}": labels[:, i] for i, g in enumerate(splits.groups)})
    columns = [f"{LOGIT_PREFIX}{g}_{c}" for g, classes in zip(splits.groups, splits.classes) for c in classes]
    results.write_predictions(path, frame, logits[:, : len(columns)], columns)


def read_predictions(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(labels [N, groups], logits [N, sum K_g]) from a predictions CSV."""
    labels, logits, _ = results.read_predictions(path, LOGIT_PREFIX, np.float64)
    return labels.to_numpy(), logits


@on_run_threads
def evaluate_run(cfg: RunConfig, run_dir: Path, data_dir: Path, splits: Splits | None = None) -> dict:
    """Predict every reported split with the best model; write predictions (selection, test) and metrics.json."""
    run_dir = Path(run_dir)
    splits = splits or load_splits(cfg.data, data_dir)
    best = fit.best_model(run_dir, cfg.train.device, lambda device: model_for(cfg, splits, device))
    parts = {"fit": splits.fit, "selection": splits.selection, "test": splits.test}
    metrics = {
        "run": cfg.name,
        "best_epoch": best.epoch,
        "data_source": splits.source,
        "groups": list(splits.groups),
        "classes": [list(c) for c in splits.classes],
        "pseudo_labels": pseudo_record(run_dir),
        "splits": {},
    }
    read = {}
    for name, part in parts.items():
        labels = part.labels.numpy()
        logits = predict(best.model, part, splits, best.device, best.compute, f"{cfg.name}, {name}")
        metrics["splits"][name] = split_metrics(labels, logits, splits.groups, splits.sizes, cfg.train.head)
        read[name] = (labels, group_probabilities(logits, splits.sizes, cfg.train.head), metrics["splits"][name])
        if name != "fit":
            write_predictions(run_dir / layout.predictions(name), labels, logits, splits)
        if name == "test":
            metrics["confusion_matrices"] = confusion_matrices(
                labels, logits, splits.groups, splits.sizes, cfg.train.head
            )
    metrics["regime"] = run_regime(cfg, run_dir, read, splits.groups)
    metrics["dose"] = dose.group_doses(pd.read_csv(run_dir / layout.HISTORY), splits.groups)  # group -> dose
    write_json(run_dir / layout.METRICS, metrics)
    return metrics


is_complete = partial(results.is_complete, splits=REPORTED)  # finished: metrics.json holds every reported split
