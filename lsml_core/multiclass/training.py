"""Training of one single-label run: seeded, checkpointed every epoch, resumable, early stopping on validation accuracy."""
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lsml_core.multiclass.config import RunConfig
from lsml_core.multiclass.data import Split, Splits, batches, load_splits
from lsml_core.multiclass.losses import Objective
from lsml_core.multiclass.metrics import log_loss
from lsml_core.multiclass.models import Classifier, build_model
from lsml_core.records import REPO_ROOT, atomic_torch_save, atomic_write_text, environment_record, read_json, write_json
from lsml_core.seeding import make_deterministic, seed_everything
from lsml_core.training import CHECKPOINT, BEST_MODEL, HISTORY, NonFiniteLossError, choose_device

EVAL_BATCH = 500


def model_for(cfg: RunConfig, splits: Splits, device: torch.device, name: str | None = None) -> Classifier:
    """A fresh model of the run's architecture (or `name`) for the splits' image shape."""
    channels, size = splits.fit.images.shape[1], splits.fit.images.shape[-1]
    return build_model(name or cfg.train.model, len(splits.classes), channels, size).to(device)


def load_best(run_dir: Path, model: Classifier, device: torch.device) -> int:
    """Load a run's best model into `model`; returns the epoch it came from."""
    path = Path(run_dir) / BEST_MODEL
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: train the run {Path(run_dir).name} first "
                                "(run_all.sh trains teachers before the runs that need them)")
    state = torch.load(path, map_location=device, weights_only=False)
    model.load_state_dict(state["model"])
    return state["epoch"]


@torch.no_grad()
def predict(model: Classifier, split: Split, splits: Splits, device: torch.device, features: bool = False) -> np.ndarray:
    """float32 logits (or penultimate features) of a split, in order."""
    model.eval()
    run = model.features if features else model
    return torch.cat([run(splits.normalise(x).to(device)).float().cpu()
                      for x, _ in batches(split, EVAL_BATCH)]).numpy()


class Teacher:
    """A frozen trained model whose logits (divided by `scale`) feed the instance targets or distillation."""

    def __init__(self, run_dir: Path, cfg: RunConfig, splits: Splits, device: torch.device):
        teacher_cfg = RunConfig.from_dict(read_json(Path(run_dir) / "config.json"))
        self.model = model_for(cfg, splits, device, teacher_cfg.train.model)
        load_best(run_dir, self.model, device)
        self.model.eval().requires_grad_(False)
        self.scale = read_json(Path(run_dir) / "metrics.json")["temperature"] if cfg.train.teacher_scaled else 1.0

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(images).float() / self.scale


def make_schedule(optimizer: torch.optim.Optimizer, cfg: RunConfig):
    """StepLR (step_size, gamma) or PolynomialLR (to zero over `epochs`, power), stepped once per epoch."""
    t = cfg.train
    if t.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=t.step_size, gamma=t.gamma)
    return torch.optim.lr_scheduler.PolynomialLR(optimizer, total_iters=t.epochs, power=t.power)


def train_epoch(model, objective, teacher, optimizer, splits: Splits, cfg: RunConfig, epoch: int, device) -> tuple[float, float]:
    """One pass over the training part (augmented, shuffled from seed and epoch): mean loss and accuracy."""
    t, d = cfg.train, cfg.data
    model.train()
    total, correct, count = 0.0, 0, 0
    for step, (images, labels) in enumerate(batches(splits.fit, t.batch_size, t.seed * 10_007 + epoch, d.shift, d.flip)):
        if t.max_batches is not None and step >= t.max_batches:
            break
        images, labels = splits.normalise(images).to(device), labels.to(device)
        logits = model(images)
        loss = objective(logits, labels, teacher(images) if teacher else None)
        if not torch.isfinite(loss):
            raise NonFiniteLossError(f"{cfg.name} epoch {epoch}, batch {step}: the training loss is {loss.item()}. "
                                     "Lower lr or check the data; the checkpoints written so far are kept.")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total, count = total + loss.item() * len(labels), count + len(labels)
        correct += int((logits.argmax(1) == labels).sum())
    return total / max(count, 1), correct / max(count, 1)


def train_run(cfg: RunConfig, run_dir: Path, data_dir: Path, splits: Splits | None = None) -> pd.DataFrame:
    """Train (or resume) one run into `run_dir`; stops early after `patience` epochs without a better val accuracy."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    splits = splits or load_splits(cfg.data, data_dir)
    t, device = cfg.train, choose_device(cfg.train.device)
    make_deterministic(device)
    seed_everything(t.seed)
    model = model_for(cfg, splits, device)
    optimizer = torch.optim.SGD(model.parameters(), lr=t.lr, momentum=t.momentum, weight_decay=t.weight_decay)
    schedule = make_schedule(optimizer, cfg)
    teacher = Teacher(run_dir.parent / t.teacher, cfg, splits, device) if t.teacher else None
    objective = Objective(t.loss, len(splits.classes), t.epsilon, t.temperature, t.kd_alpha)
    state = {"epoch": 0, "best_accuracy": -1.0, "best_epoch": 0, "history": []}
    if (run_dir / CHECKPOINT).is_file():
        saved = torch.load(run_dir / CHECKPOINT, map_location=device, weights_only=False)
        if saved["config"] != cfg.to_dict():
            raise ValueError(f"{run_dir / CHECKPOINT} was written by a different configuration; delete the run "
                             "folder or rerun with --force")
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        schedule.load_state_dict(saved["schedule"])
        state = {k: saved[k] for k in state}
    write_json(run_dir / "config.json", cfg.to_dict())
    write_json(run_dir / "environment.json", {**environment_record(REPO_ROOT), "device": str(device),
                                              "data_source": splits.source})
    while state["epoch"] < t.epochs and state["epoch"] - state["best_epoch"] < t.patience:
        epoch = state["epoch"] + 1
        seed_everything(t.seed * 10_007 + epoch)
        lr, start = optimizer.param_groups[0]["lr"], time.perf_counter()
        train_loss, train_accuracy = train_epoch(model, objective, teacher, optimizer, splits, cfg, epoch, device)
        schedule.step()
        val_logits = predict(model, splits.val, splits, device)
        val_labels = splits.val.labels.numpy()
        row = {"epoch": epoch, "train_loss": train_loss, "train_accuracy": train_accuracy,
               "val_loss": log_loss(val_labels, val_logits), "val_accuracy": float((val_logits.argmax(1) == val_labels).mean()),
               "lr": lr, "seconds": time.perf_counter() - start}
        state["epoch"], state["history"] = epoch, state["history"] + [row]
        if row["val_accuracy"] > state["best_accuracy"]:
            state["best_accuracy"], state["best_epoch"] = row["val_accuracy"], epoch
            atomic_torch_save({"epoch": epoch, "val_accuracy": row["val_accuracy"], "model": model.state_dict()},
                              run_dir / BEST_MODEL)
        atomic_torch_save({**state, "config": cfg.to_dict(), "model": model.state_dict(),
                           "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict()}, run_dir / CHECKPOINT)
        atomic_write_text(run_dir / HISTORY, pd.DataFrame(state["history"]).to_csv(index=False))
    return pd.DataFrame(state["history"])
