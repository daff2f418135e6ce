"""Training of one single-label run: SGD, step or polynomial decay or a constant rate, early stopping on selection accuracy.

The epoch loop, checkpoints and resume are `lsml_core.fit`'s; this module supplies the model, the
schedule, the loss (with a teacher for instance-based smoothing and distillation) and the selection scores.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lsml_core import dose, fit, layout
from lsml_core.compute import Compute, choose_for_run
from lsml_core.multiclass.config import RunConfig
from lsml_core.multiclass.data import Splits, batches, load_splits
from lsml_core.multiclass.losses import needs_teacher, objective, training_targets
from lsml_core.multiclass.metrics import log_loss
from lsml_core.multiclass.models import Classifier, build_model
from lsml_core.records import read_json
from lsml_core.splits import Split
from lsml_core.threads import on_run_threads

EVAL_BATCH = 500
SCORE = "selection_accuracy"  # the history column that chooses the best epoch


def model_for(
    cfg: RunConfig, splits: Splits, device: torch.device, name: str | None = None
) -> tuple[Classifier, Compute]:
    """A fresh model of the run's architecture (or `name`) for the splits' image shape, on `device` in the
    memory format it computes in, and that compute (`compute.choose_for_run` with the run's settings)."""
    name = name or cfg.train.model
    channels, size = splits.fit.images.shape[1], splits.fit.images.shape[-1]

    def build() -> Classifier:
        return build_model(name, len(splits.classes), channels, size)

    compute = choose_for_run(device, cfg.train, probe=build, image_size=size, model=name)
    return compute.prepare(build().to(device)), compute


def predict(
    model: Classifier,
    split: Split,
    splits: Splits,
    device: torch.device,
    compute: Compute,
    *,
    features: bool = False,
    desc: str = "",
) -> np.ndarray:
    """float32 logits (or penultimate features) of a split, in order."""
    forward = (lambda net, x: net.features(x)) if features else None
    images = (splits.normalise(x) for x, _ in batches(split, EVAL_BATCH))
    return fit.predict(model, images, device, forward=forward, desc=desc, compute=compute)


class Teacher:
    """A frozen trained model whose logits (divided by `scale`) feed the instance targets or distillation."""

    def __init__(self, run_dir: Path, cfg: RunConfig, splits: Splits, device: torch.device):
        teacher_cfg = RunConfig.from_dict(read_json(Path(run_dir) / layout.CONFIG))
        model, self.compute = model_for(cfg, splits, device, teacher_cfg.train.model)
        self.model = fit.load_teacher(run_dir, model, device)
        self.scale = read_json(Path(run_dir) / layout.METRICS)["temperature"] if cfg.train.teacher_scaled else 1.0

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        with self.compute.autocast(images.device):
            return self.model(images).float() / self.scale


def make_schedule(optimizer: torch.optim.Optimizer, cfg: RunConfig):
    """StepLR (step_size, gamma), PolynomialLR (to zero over `epochs`, power) or ConstantLR at factor 1 (the rate
    as set, never decayed), stepped once per epoch."""
    t = cfg.train
    if t.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=t.step_size, gamma=t.gamma)
    if t.schedule == "constant":
        return torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)
    return torch.optim.lr_scheduler.PolynomialLR(optimizer, total_iters=t.epochs, power=t.power)


def make_fit(cfg: RunConfig, splits: Splits, device: torch.device) -> fit.Fit:
    """The run's model, SGD (fused on CUDA), schedule and scaler."""
    t = cfg.train
    model, compute = model_for(cfg, splits, device)
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=t.lr,
        momentum=t.momentum,
        weight_decay=t.weight_decay,
        fused=True if device.type == "cuda" else None,
    )
    schedule = make_schedule(optimizer, cfg)
    setup = fit.Setup(device=device, compute=compute, seed=t.seed, max_batches=t.max_batches)
    return fit.Fit(cfg, model, optimizer, schedule, setup)


def selection_scores(run: fit.Fit, splits: Splits, desc: str) -> dict:
    """Selection log loss and accuracy: the early-stopping signal."""
    logits = predict(run.model, splits.selection, splits, run.device, run.compute, desc=desc)
    labels = splits.selection.labels.numpy()
    return {"selection_loss": log_loss(labels, logits), SCORE: float((logits.argmax(1) == labels).mean())}


@on_run_threads
def train_run(cfg: RunConfig, run_dir: Path, data_dir: Path, splits: Splits | None = None) -> pd.DataFrame:
    """Train (or resume) one run into `run_dir`; stops early after `patience` epochs without a better selection accuracy."""
    run_dir, t, d = Path(run_dir), cfg.train, cfg.data
    splits = splits or load_splits(cfg.data, data_dir)
    device = fit.start_run(t.device, t.seed)
    run = make_fit(cfg, splits, device)
    teacher = Teacher(run_dir.parent / t.teacher, cfg, splits, device) if needs_teacher(t) else None
    loss, targets = objective(t, len(splits.classes)), training_targets(t, len(splits.classes))

    def train(epoch: int, desc: str) -> dict:
        correct, meter = [], dose.Meter()

        def loss_of(logits, images, labels):
            correct.append((logits.argmax(1) == labels).sum())
            teacher_logits = teacher(images) if teacher else None
            if targets is not None:
                meter.add(*dose.single_label_moved(targets(labels, teacher_logits), labels))
            return loss(logits, labels, teacher_logits)

        augmented = (
            (splits.normalise(x), y)
            for x, y in batches(splits.fit, t.batch_size, fit.epoch_seed(t.seed, epoch), d.shift, d.flip)
        )
        n_batches = -(-len(splits.fit) // t.batch_size)
        train_loss = run.train_pass(augmented, loss_of, desc=desc, total=n_batches)
        seen = min(len(splits.fit), (t.max_batches or n_batches) * t.batch_size)
        return {
            "train_loss": train_loss,
            "train_accuracy": int(torch.stack(correct).sum()) / max(seen, 1) if correct else 0.0,
            **({dose.COLUMN: meter.value()} if targets is not None else {}),
        }

    epoch = fit.Epoch(train, lambda: selection_scores(run, splits, f"{cfg.name}, selection part"))
    return fit.fit(run, run_dir, epoch, score=SCORE, epochs=t.epochs, source=splits.source, patience=t.patience)
