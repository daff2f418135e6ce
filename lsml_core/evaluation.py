"""Evaluation of a trained run: predictions per reported split as CSV, and every AP variant in metrics.json."""
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lsml_core.config import RunConfig
from lsml_core.calibration import calibration_metrics, fit_temperature
from lsml_core.data import REPORTED_SPLITS, Splits, labels_of, run_splits
from lsml_core.metrics import ap_table, mean_average_precision
from lsml_core.models import build_model
from lsml_core.records import atomic_write_text, read_json, write_json
from lsml_core.loaders import make_loader
from lsml_core.training import BEST_MODEL, choose_device, maybe_compile, predict

METRICS = "metrics.json"


@dataclass
class Predictions:
    """One split's scores (logits) beside its ground truth, as stored in predictions_<split>.csv."""
    ids: list[str]
    classes: tuple[str, ...]
    targets: np.ndarray
    masks: np.ndarray
    scores: np.ndarray


def predictions_frame(pred: Predictions) -> pd.DataFrame:
    """image_id, ground-truth classes (`;`-separated), ignored classes, one score column per class."""
    def names(row) -> str:
        return ";".join(c for c, on in zip(pred.classes, row) if on)
    frame = pd.DataFrame({"image_id": pred.ids,
                          "ground_truth": [names(row) for row in pred.targets > 0],
                          "ignored": [names(row) for row in pred.masks == 0]})
    scores = pd.DataFrame(pred.scores.astype(np.float32), columns=[f"score_{c}" for c in pred.classes])
    return pd.concat([frame, scores], axis=1)


def write_predictions(path: Path, pred: Predictions) -> None:
    atomic_write_text(path, predictions_frame(pred).to_csv(index=False, float_format="%.9g"))


def read_predictions(path: Path) -> Predictions:
    """Read a predictions CSV back into arrays (the input of the precision-recall notebook)."""
    frame = pd.read_csv(path, keep_default_na=False, dtype={"image_id": str})
    classes = tuple(c.removeprefix("score_") for c in frame.columns if c.startswith("score_"))
    def multi_hot(column: str) -> np.ndarray:
        sets = [set(filter(None, cell.split(";"))) for cell in frame[column]]
        return np.array([[c in s for c in classes] for s in sets], dtype=np.float32).reshape(len(frame), len(classes))
    return Predictions(ids=list(frame["image_id"]), classes=classes, targets=multi_hot("ground_truth"),
                       masks=1.0 - multi_hot("ignored"),
                       scores=frame[[f"score_{c}" for c in classes]].to_numpy(np.float32))


def load_best_model(cfg: RunConfig, run_dir: Path, n_classes: int, device: torch.device) -> tuple[torch.nn.Module, int]:
    """The model of the best held-out epoch, and that epoch."""
    path = Path(run_dir) / BEST_MODEL
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: train the run first (notebook 2 or run_all.sh)")
    state = torch.load(path, map_location=device, weights_only=False)
    model = build_model(cfg.train.model, n_classes, pretrained=False).to(device)
    model.load_state_dict(state["model"])
    return model, state["epoch"]


def calibration_entry(targets, masks, logits, temperature: float) -> dict:
    """Calibration before and after temperature scaling, and mAP after it (equal to before: ranking only)."""
    return {"before": calibration_metrics(targets, logits, masks),
            "after": calibration_metrics(targets, logits, masks, temperature),
            "map_after_temperature": mean_average_precision(targets, logits / temperature, mask=masks)}


def evaluate_run(cfg: RunConfig, run_dir: Path, data_dir: Path, splits: Splits | None = None) -> dict:
    """Predict every reported split with the best model; write predictions CSVs and metrics.json.

    The temperature is fitted on the held-out part of train (never on a reported split).
    """
    run_dir = Path(run_dir)
    splits = splits or run_splits(cfg, data_dir)
    device = choose_device(cfg.train.device)
    model, best_epoch = load_best_model(cfg, run_dir, len(splits.classes), device)
    model = maybe_compile(model, cfg.train.compile)
    heldout_targets, heldout_masks, _ = labels_of(splits.heldout)
    heldout_logits = predict(model, make_loader(splits.heldout, cfg.train.batch_size, device, cfg.train.num_workers), device)
    temperature = fit_temperature(heldout_targets, heldout_logits, heldout_masks)
    metrics = {"run": cfg.name, "best_epoch": best_epoch, "temperature": temperature, "splits": {}}
    for split, dataset in splits.reported().items():
        targets, masks, ids = labels_of(dataset)
        batch = max(1, cfg.train.batch_size // 5) if split == "test" else cfg.train.batch_size
        scores = predict(model, make_loader(dataset, batch, device, cfg.train.num_workers), device)
        write_predictions(run_dir / f"predictions_{split}.csv", Predictions(ids, splits.classes, targets, masks, scores))
        metrics["splits"][split] = {**ap_table(targets, scores, list(splits.classes), mask=masks),
                                    "calibration": calibration_entry(targets, masks, scores, temperature)}
    write_json(run_dir / METRICS, metrics)
    return metrics


def same_config(run_dir: Path, cfg: RunConfig) -> bool:
    """Whether the run folder was written by exactly this configuration (True for a new folder)."""
    path = Path(run_dir) / "config.json"
    return not path.is_file() or read_json(path) == cfg.to_dict()


def is_complete(run_dir: Path) -> bool:
    """A run is finished when its metrics.json holds every reported split."""
    path = Path(run_dir) / METRICS
    try:
        return set(REPORTED_SPLITS) <= set(read_json(path)["splits"])
    except (OSError, ValueError, KeyError):
        return False
