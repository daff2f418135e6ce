"""Training of one multi-label run: a loss on smoothed targets, backbone and head learning rates, best epoch on selection mAP.

The epoch loop, checkpoints and resume are `lsml_core.fit`'s; this module supplies the model, the
optimiser, the cosine schedule, the loss (with the teacher of instance-based smoothing) and the
selection scores.
"""

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from lsml_core import dose, fit, layout
from lsml_core.compute import Compute, choose_for_run
from lsml_core.multilabel.config import RunConfig
from lsml_core.multilabel.images.loaders import make_loader
from lsml_core.multilabel.losses import MultiLabelLoss
from lsml_core.multilabel.metrics import exactly_right, mean_average_precision
from lsml_core.multilabel.models import build_model, parameter_groups
from lsml_core.multilabel.pretraining import load_backbone
from lsml_core.multilabel.splits import Splits, labels_of, run_splits
from lsml_core.records import write_json
from lsml_core.smoothing import SCHEMES, masked_bce_with_logits
from lsml_core.threads import on_run_threads

SCORE = "selection_map"  # the history column that chooses the best epoch


def forward_logits(model: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Logits of a batch; a FiveCrop batch [B, 5, C, H, W] gets the mean of its five crops' logits."""
    if images.ndim == 5:
        batch, crops = images.shape[:2]
        return model(images.flatten(0, 1)).view(batch, crops, -1).mean(dim=1)
    return model(images)


def predict(
    model: torch.nn.Module, loader: DataLoader, device: torch.device, compute: Compute, desc: str = ""
) -> np.ndarray:
    """float32 logits [N, n_classes] of every image of a loader, in loader order."""
    return fit.predict(
        model, (images for images, _, _ in loader), device, forward=forward_logits, desc=desc, compute=compute
    )


def run_compute(cfg: RunConfig, device: torch.device) -> Compute:
    """The run's memory format and precision on `device` (`compute.choose_for_run`)."""
    return choose_for_run(
        device, cfg.train, probe=lambda: build_model(cfg.train.model, 1), image_size=cfg.data.image_size
    )


def teacher_probabilities(teacher, images: torch.Tensor, temperature: float, compute: Compute) -> torch.Tensor | None:
    """sigmoid(teacher logits / T) on the batch the student sees, or None without a teacher."""
    if teacher is None:
        return None
    with torch.no_grad(), compute.autocast(images.device):
        return torch.sigmoid(teacher(images).float() / temperature)


def make_optimizer(
    model: torch.nn.Module,
    *,
    lr_backbone: float,
    lr_head: float,
    momentum: float,
    weight_decay: float,
    device: torch.device,
    loss_scaling: bool = False,
) -> torch.optim.SGD:
    """SGD over the backbone and head groups; fused on CUDA without a loss scaler (one kernel per step).

    With float16's loss scaler it stays unfused: torch 2.11's fused SGD advances its momentum on the steps the
    scaler must skip (gradients that overflowed), so the routine overflow of the first steps turns the
    momentum, then the weights, into inf and NaN (seen on an H200 at 16 px; LibreYOLO pull request 771 reports
    the same). The unfused step skips such steps whole, at the cost of reading the inf check back every batch.
    CPU keeps torch's default."""
    return torch.optim.SGD(
        parameter_groups(model, lr_backbone, lr_head),
        momentum=momentum,
        weight_decay=weight_decay,
        fused=True if device.type == "cuda" and not loss_scaling else None,
    )


def selection_scores(model, loader, device, compute: Compute, desc: str = "") -> dict:
    """Loss against the hard labels and voc2010 mAP on the selection part (the selection signal), and its exact
    match (`metrics.exactly_right`), the counterpart of the training batches' `train_exact_match`."""
    logits = predict(model, loader, device, compute, desc)
    targets, masks, _ = labels_of(loader.dataset)
    loss = masked_bce_with_logits(torch.from_numpy(logits), torch.from_numpy(targets), torch.from_numpy(masks))
    return {
        "selection_loss": float(loss),
        SCORE: mean_average_precision(targets, logits, mask=masks),
        "selection_exact_match": float(exactly_right(targets, logits, masks).mean()),
    }


def new_model(cfg: RunConfig, n_classes: int, device: torch.device, imagenet: bool = False) -> torch.nn.Module:
    """A fresh model of the run's architecture on `device`, in the run's memory format."""
    return run_compute(cfg, device).prepare(build_model(cfg.train.model, n_classes, imagenet).to(device))


def initial_model(cfg: RunConfig, n_classes: int, device: torch.device, run_dir: Path, data_dir: Path):
    """The model a run starts from: from scratch, ImageNet's weights, or its pretraining stage's backbone (whose
    name and weights' SHA-256 go to pretrained.json, so the run says what it was fine-tuned from)."""
    t = cfg.train
    model = new_model(cfg, n_classes, device, imagenet=t.pretrained == "imagenet")
    if t.stage is not None:
        record = load_backbone(model, data_dir, t.stage)
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        write_json(run_dir / layout.PRETRAINED, {"stage": record["stage"], "sha256": record["sha256"]})
    return model


def make_fit(cfg: RunConfig, n_classes: int, device: torch.device, run_dir: Path, data_dir: Path) -> fit.Fit:
    """The run's model, SGD, cosine schedule and scaler, in its format and precision."""
    t, compute = cfg.train, run_compute(cfg, device)
    model = initial_model(cfg, n_classes, device, run_dir, data_dir)
    optimizer = make_optimizer(
        model,
        lr_backbone=t.lr_backbone,
        lr_head=t.lr_head,
        momentum=t.momentum,
        weight_decay=t.weight_decay,
        device=device,
        loss_scaling=compute.precision == "fp16",
    )
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=t.cosine_t_max or t.epochs)
    setup = fit.Setup(device=device, compute=compute, seed=t.seed, max_batches=t.max_batches)
    return fit.Fit(cfg, model, optimizer, scheduler, setup)


@on_run_threads
def train_run(
    cfg: RunConfig,
    run_dir: Path,
    data_dir: Path,
    splits: Splits | None = None,
    on_epoch_end: Callable[[dict], None] | None = None,
) -> pd.DataFrame:
    """Train (or resume) one run into `run_dir`; returns its per-epoch history."""
    run_dir, t = Path(run_dir), cfg.train
    splits = splits or run_splits(cfg, data_dir)
    device = fit.start_run(t.device, t.seed)
    run = make_fit(cfg, len(splits.classes), device, run_dir, data_dir)
    teacher = None
    if SCHEMES[t.scheme].needs_teacher:
        teacher = fit.load_teacher(run_dir.parent / t.teacher, new_model(cfg, len(splits.classes), device), device)
    if splits.noise:
        write_json(run_dir / layout.LABEL_NOISE, splits.noise)
    criterion = MultiLabelLoss(t.loss, t.scheme, t.alpha)
    selection_loader = make_loader(splits.selection, t.batch_size, device, num_workers=t.num_workers)
    net = fit.maybe_compile(run.model, t.compile)
    meter = dose.Meter()

    def loss_of(logits, images, targets, masks):
        soft = teacher_probabilities(teacher, images, t.teacher_temperature, run.compute)
        meter.add(*dose.multi_hot_moved(criterion.targets(targets, soft), targets, masks))
        return criterion(logits, targets, masks, soft)

    def train(epoch: int, desc: str) -> dict:
        nonlocal meter
        meter = dose.Meter()
        loader = make_loader(
            splits.training, t.batch_size, device, num_workers=t.num_workers, shuffle_seed=fit.epoch_seed(t.seed, epoch)
        )
        right, seen = [], []  # the batches' exact match, counted on the device (no autograd, no read-back)

        def scored_loss(logits, images, targets, masks):
            right.append(exactly_right(targets, logits.detach(), masks).sum())
            seen.append(len(targets))
            return loss_of(logits, images, targets, masks)

        trained = {
            "train_loss": run.train_pass(loader, scored_loss, desc=desc, total=len(loader), model=net),
            "train_exact_match": int(torch.stack(right).sum()) / max(sum(seen), 1) if right else 0.0,  # after the pass
        }
        return {**trained, dose.COLUMN: meter.value()}

    epoch = fit.Epoch(
        train, lambda: selection_scores(net, selection_loader, device, run.compute, f"{cfg.name}, selection part")
    )
    return fit.fit(run, run_dir, epoch, score=SCORE, epochs=t.epochs, source=splits.source, on_epoch_end=on_epoch_end)
