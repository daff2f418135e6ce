"""Evaluation of a trained multi-label run: predictions per reported split as CSV; every AP variant,
CP/CR/CF1/OP/OR/OF1 under each decision rule, and calibration in metrics.json."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lsml_core import dose, fit, layout, regime, results
from lsml_core.multilabel.calibration import calibration_metrics, fit_platt, sigmoid_temperature
from lsml_core.multilabel.config import RunConfig
from lsml_core.multilabel.decisions import best_thresholds, decision_metrics
from lsml_core.multilabel.images.loaders import make_loader
from lsml_core.multilabel.metrics import ap_table, chance_map, mean_average_precision
from lsml_core.multilabel.splits import REPORTED_SPLITS, Splits, labels_of, run_splits
from lsml_core.multilabel.train import new_model, predict, run_compute
from lsml_core.records import read_json, write_json
from lsml_core.threads import on_run_threads

SCORE_PREFIX = "score_"
LAST_SPLIT = "val_last"  # val scored by the last epoch's model (`train.evaluate_last`)
FITTED_SCORES = {"exact match": ("train_exact_match", "selection_exact_match")}  # history columns of the fitted gap


@dataclass
class Predictions:
    """One split's scores (logits) beside its ground truth, as stored in predictions_<split>.csv."""

    ids: list[str]
    classes: tuple[str, ...]
    targets: np.ndarray
    masks: np.ndarray
    scores: np.ndarray


def write_predictions(path: Path, pred: Predictions) -> None:
    """image_id, ground-truth classes (`;`-separated), ignored classes, one score column per class."""

    def names(row) -> str:
        return ";".join(c for c, on in zip(pred.classes, row) if on)

    labels = pd.DataFrame(
        {
            "image_id": pred.ids,
            "ground_truth": [names(row) for row in pred.targets > 0],
            "ignored": [names(row) for row in pred.masks == 0],
        }
    )
    results.write_predictions(path, labels, pred.scores, [f"{SCORE_PREFIX}{c}" for c in pred.classes])


def read_predictions(path: Path) -> Predictions:
    """Read a predictions CSV back into arrays (the input of the precision-recall notebook)."""
    labels, scores, classes = results.read_predictions(
        path, SCORE_PREFIX, keep_default_na=False, dtype={"image_id": str}
    )

    def multi_hot(column: str) -> np.ndarray:
        sets = [set(filter(None, cell.split(";"))) for cell in labels[column]]
        return np.array([[c in s for c in classes] for s in sets], dtype=np.float32).reshape(len(labels), len(classes))

    return Predictions(
        ids=list(labels["image_id"]),
        classes=tuple(classes),
        targets=multi_hot("ground_truth"),
        masks=1.0 - multi_hot("ignored"),
        scores=scores,
    )


def calibration_entry(targets, masks, logits, temperature: float, platt: tuple[float, float] | None = None) -> dict:
    """Calibration before and after temperature scaling, and mAP after it (equal to before: ranking only); with
    `platt` (slope, offset) also after Platt scaling, which can remove an offset a temperature cannot."""
    entry = {
        "before": calibration_metrics(targets, logits, masks),
        "after": calibration_metrics(targets, logits, masks, temperature),
        "map_after_temperature": mean_average_precision(targets, logits / temperature, mask=masks),
    }
    if platt is not None:
        slope, offset = platt
        entry["after_platt"] = calibration_metrics(targets, slope * np.asarray(logits, np.float64) + offset, masks)
    return entry


def regime_record(run_dir: Path, selection: tuple, gaps: dict) -> dict:
    """The run's regime (`lsml_core.regime`): confidence gaps per split, the selection part as the selection
    split, the trend of its training and selection losses with the exact match of the training batches against the
    selection part's (FITTED_SCORES), and its selection mAP against chance."""
    targets, masks, logits = selection
    history = pd.read_csv(Path(run_dir) / layout.HISTORY)
    return regime.record(
        selection_split="selection",
        gaps={"selection": regime.binary_gaps(targets, logits, masks), **gaps},
        trend=regime.training_trend(history, "train_loss", "selection_loss", FITTED_SCORES),
        scores={
            "mAP": {"value": mean_average_precision(targets, logits, mask=masks), "chance": chance_map(targets, masks)}
        },
    )


@dataclass(frozen=True)
class SelectionFit:
    """What the selection part of train chooses for one model: its logits there, the temperature, the Platt
    scaling (slope, offset) and the per-class thresholds."""

    targets: np.ndarray
    masks: np.ndarray
    logits: np.ndarray
    temperature: float
    platt: tuple[float, float]
    thresholds: np.ndarray


def fit_on_selection(cfg: RunConfig, splits: Splits, model, device, compute) -> SelectionFit:
    """Score the selection part with `model` and fit the temperature, the Platt scaling and the thresholds on it."""
    t = cfg.train
    targets, masks, _ = labels_of(splits.selection)
    loader = make_loader(splits.selection, t.batch_size, device, num_workers=t.num_workers)
    logits = predict(model, loader, device, compute, cfg.name)
    return SelectionFit(
        targets,
        masks,
        logits,
        sigmoid_temperature(targets, logits, masks),
        fit_platt(targets, logits, masks),
        best_thresholds(targets, logits, masks),
    )


def score_split(
    cfg: RunConfig, run_dir: Path, split: str, dataset, classes, chosen: SelectionFit, model, device, compute
):
    """Predict `dataset` with `model` and write it as `split`'s predictions CSV; returns (its metrics entry: every AP
    variant, the decisions at `chosen`'s thresholds, calibration before and after `chosen`'s scalings; its
    confidence gaps)."""
    t = cfg.train
    targets, masks, ids = labels_of(dataset)
    loader = make_loader(dataset, t.batch_size, device, num_workers=t.num_workers)  # val_fivecrop: images x 5 crops
    scores = predict(model, loader, device, compute, f"{cfg.name}, {split}")
    write_predictions(Path(run_dir) / layout.predictions(split), Predictions(ids, classes, targets, masks, scores))
    entry = {
        **ap_table(targets, scores, list(classes), mask=masks),
        "decisions": decision_metrics(targets, scores, masks, chosen.thresholds),
        "calibration": calibration_entry(targets, masks, scores, chosen.temperature, chosen.platt),
    }
    return entry, regime.binary_gaps(targets, scores, masks)


def last_epoch_entry(cfg: RunConfig, run_dir: Path, splits: Splits, device) -> dict:
    """`val` scored by the last epoch's model (the checkpoint's weights), as the split LAST_SPLIT: its scalings and
    thresholds fitted on the selection part with that model, and the epoch, scalings and confidence gaps it was
    read with (the selection part's and val's)."""
    model = new_model(cfg, len(splits.classes), device)
    epoch = fit.load_last(run_dir, model, device)
    model, compute = fit.maybe_compile(model, cfg.train.compile), run_compute(cfg, device)
    chosen = fit_on_selection(cfg, splits, model, device, compute)
    entry, gap = score_split(cfg, run_dir, LAST_SPLIT, splits.val, splits.classes, chosen, model, device, compute)
    return {
        **entry,
        "epoch": epoch,
        "temperature": chosen.temperature,
        "platt": {"slope": chosen.platt[0], "offset": chosen.platt[1]},
        "thresholds": dict(zip(splits.classes, chosen.thresholds.tolist())),
        "confidence_gap": {"selection": regime.binary_gaps(chosen.targets, chosen.logits, chosen.masks), "val": gap},
    }


@on_run_threads
def evaluate_run(cfg: RunConfig, run_dir: Path, data_dir: Path, splits: Splits | None = None) -> dict:
    """Predict every reported split with the best model; write predictions CSVs and metrics.json. With
    `train.evaluate_last`, also `val` with the last epoch's model, as the split LAST_SPLIT (`last_epoch_entry`).

    The temperature and the per-class thresholds are fitted on the selection part of train (never on a
    reported split).
    """
    run_dir, t = Path(run_dir), cfg.train
    splits = splits or run_splits(cfg, data_dir)
    best = fit.best_model(
        run_dir, t.device, lambda device: (new_model(cfg, len(splits.classes), device), run_compute(cfg, device))
    )
    model, device, compute = fit.maybe_compile(best.model, t.compile), best.device, best.compute
    chosen = fit_on_selection(cfg, splits, model, device, compute)
    metrics = {
        "run": cfg.name,
        "best_epoch": best.epoch,
        "temperature": chosen.temperature,
        "platt": {"slope": chosen.platt[0], "offset": chosen.platt[1]},
        "thresholds": dict(zip(splits.classes, chosen.thresholds.tolist())),
        "splits": {},
    }
    gaps = {}
    for split, dataset in splits.reported().items():
        scored = score_split(cfg, run_dir, split, dataset, splits.classes, chosen, model, device, compute)
        metrics["splits"][split], gaps[split] = scored
    if t.evaluate_last:
        metrics["splits"][LAST_SPLIT] = last_epoch_entry(cfg, run_dir, splits, device)
    metrics["regime"] = regime_record(run_dir, (chosen.targets, chosen.masks, chosen.logits), gaps)
    metrics["dose"] = dose.from_history(pd.read_csv(run_dir / layout.HISTORY))  # None: trained by an older revision
    write_json(run_dir / layout.METRICS, metrics)
    return metrics


def expected_splits(run_dir: Path) -> tuple[str, ...]:
    """The splits a finished run's metrics.json holds: the reported ones, and LAST_SPLIT where its config.json
    asks for the last epoch's evaluation (a run without a readable config.json: the reported ones)."""
    try:
        last = reads_last_weights(read_json(Path(run_dir) / layout.CONFIG))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        last = False
    return REPORTED_SPLITS + ((LAST_SPLIT,) if last else ())


def reads_last_weights(config: dict) -> bool:
    """Whether a run (its config.json) is also evaluated with its last epoch's model (`train.evaluate_last`)."""
    return bool(config["train"].get("evaluate_last", False))


def is_complete(run_dir: Path) -> bool:
    """Whether the run finished: its metrics.json holds every split it is evaluated on (`expected_splits`)."""
    return results.is_complete(run_dir, expected_splits(run_dir))
