"""Training of one run: seeded, checkpointed after every epoch, resumable, best epoch on held-out mAP."""
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from lsml_core.config import RunConfig
from lsml_core.data import Splits, labels_of, run_splits
from lsml_core.loaders import make_loader
from lsml_core.metrics import mean_average_precision
from lsml_core.models import build_model, parameter_groups
from lsml_core.records import (REPO_ROOT, atomic_torch_save, atomic_write_text, environment_record,
                               write_json)
from lsml_core.seeding import make_deterministic, seed_everything
from lsml_core.smoothing import SmoothedBCEWithLogitsLoss, masked_bce_with_logits

CHECKPOINT = "checkpoint_last.pt"
BEST_MODEL = "model_best.pt"
HISTORY = "history.csv"


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite; the run stops, its checkpoints stay."""


def choose_device(preference: str = "auto") -> torch.device:
    """CUDA when present (or asked for), else CPU."""
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if preference == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was asked for but no CUDA GPU is visible; use device: auto or cpu")
    return torch.device(preference)


def maybe_compile(model: torch.nn.Module, enabled: bool) -> torch.nn.Module:
    """The model compiled with torch.compile when asked; it shares its parameters with `model`."""
    return torch.compile(model) if enabled else model


def forward_logits(model: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Logits of a batch; a FiveCrop batch [B, 5, C, H, W] gets the mean of its five crops' logits."""
    if images.ndim == 5:
        batch, crops = images.shape[:2]
        return model(images.flatten(0, 1)).view(batch, crops, -1).mean(dim=1)
    return model(images)


def autocast(device: torch.device):
    """Mixed precision on CUDA; a no-op context on CPU, which stays in float32."""
    return torch.autocast(device_type=device.type, dtype=torch.float16, enabled=device.type == "cuda")


@torch.no_grad()
def predict(model: torch.nn.Module, loader: DataLoader, device: torch.device) -> np.ndarray:
    """float32 logits [N, n_classes] of every image of a loader, in loader order.

    The logits stay on the device until the end: copying each batch back would make the host wait for
    the device every batch instead of preparing the next one.
    """
    model.eval()
    outputs = []
    for images, _, _ in loader:
        with autocast(device):
            outputs.append(forward_logits(model, images.to(device, non_blocking=True)).float())
    return torch.cat(outputs).cpu().numpy()


def teacher_probabilities(teacher, images: torch.Tensor, temperature: float) -> torch.Tensor | None:
    """sigmoid(teacher logits / T) on the batch the student sees, or None without a teacher."""
    if teacher is None:
        return None
    with torch.no_grad(), autocast(images.device):
        return torch.sigmoid(teacher(images).float() / temperature)


def make_optimizer(model: torch.nn.Module, lr_backbone: float, lr_head: float, momentum: float,
                   weight_decay: float, device: torch.device) -> torch.optim.SGD:
    """SGD over the backbone and head groups; fused on CUDA, where the GradScaler then steps it without
    waiting for the device (the unfused step reads its inf check back every batch). CPU keeps the default."""
    return torch.optim.SGD(parameter_groups(model, lr_backbone, lr_head), momentum=momentum,
                           weight_decay=weight_decay, fused=True if device.type == "cuda" else None)


class LossLog:
    """The training losses of one pass, kept on the device and read back every `every` batches.

    Reading a loss back makes the host wait for the device; every batch, that would keep a GPU idle
    while the host fetches the next batch. A non-finite loss still stops the run naming its batch:
    right after that batch with `every=1` (CPU), up to `every - 1` batches later on CUDA, whose
    GradScaler skips the updates of non-finite gradients meanwhile. The checkpoints stay as they were.
    """

    def __init__(self, desc: str, every: int):
        self.desc, self.every = desc, every
        self.pending, self.total, self.count = [], 0.0, 0

    def add(self, step: int, loss: torch.Tensor, n: int) -> None:
        self.pending.append((step, loss.detach(), n))
        if len(self.pending) >= self.every:
            self.flush()

    def flush(self) -> None:
        """Read the pending losses back (one wait), check them, add them to the running total."""
        if not self.pending:
            return
        values = torch.stack([loss for _, loss, _ in self.pending]).tolist()
        for (step, _, n), value in zip(self.pending, values):
            if not np.isfinite(value):
                raise NonFiniteLossError(f"{self.desc}, batch {step}: the training loss is {value}. "
                                         "Lower the learning rates (lr_backbone, lr_head) or check the data; "
                                         "the checkpoints written so far are kept.")
            self.total, self.count = self.total + value * n, self.count + n
        self.pending = []

    def mean(self) -> float:
        self.flush()
        return self.total / max(self.count, 1)


READBACK_EVERY = {"cpu": 1, "cuda": 25}   # batches between loss read-backs, per device type


def train_one_epoch(model, loader, criterion, optimizer, scaler, device, max_batches, desc,
                    teacher=None, teacher_temperature: float = 1.0) -> float:
    """One pass over the training part; returns the mean (smoothed) training loss."""
    model.train()
    losses = LossLog(desc, READBACK_EVERY.get(device.type, 1))
    n_batches = min(len(loader), max_batches or len(loader))
    for step, (images, targets, masks) in enumerate(tqdm(loader, total=n_batches, desc=desc, mininterval=10)):
        if step >= n_batches:
            break
        images, targets, masks = (t.to(device, non_blocking=True) for t in (images, targets, masks))
        with autocast(device):
            logits = model(images)
        loss = criterion(logits.float(), targets, masks, teacher_probabilities(teacher, images, teacher_temperature))
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        losses.add(step, loss, len(images))   # after the step is queued: a read-back leaves the GPU work to do
    return losses.mean()


def heldout_scores(model, loader, device) -> tuple[float, float]:
    """Loss against the hard labels and voc2010 mAP on the held-out part: the selection signal."""
    logits = predict(model, loader, device)
    targets, masks, _ = labels_of(loader.dataset)
    loss = masked_bce_with_logits(torch.from_numpy(logits), torch.from_numpy(targets), torch.from_numpy(masks))
    return float(loss), mean_average_precision(targets, logits, mask=masks)


class Trainer:
    """The objects of one run (model, optimiser, schedule, scaler) and their checkpointed state."""

    def __init__(self, cfg: RunConfig, n_classes: int, device: torch.device):
        t = cfg.train
        seed_everything(t.seed)
        self.cfg, self.device = cfg, device
        self.model = build_model(t.model, n_classes, t.pretrained).to(device)
        if device.type == "cuda":
            self.model = self.model.to(memory_format=torch.channels_last)
        self.optimizer = make_optimizer(self.model, t.lr_backbone, t.lr_head, t.momentum, t.weight_decay, device)
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=t.cosine_t_max or t.epochs)
        self.scaler = torch.amp.GradScaler(device.type, enabled=device.type == "cuda")
        self.criterion = SmoothedBCEWithLogitsLoss(t.scheme, t.alpha)
        self.teacher = None
        self.epoch, self.best_map, self.best_epoch, self.history = 0, -np.inf, 0, []

    def load_teacher(self, teacher_dir: Path, n_classes: int) -> None:
        """The best model of the teacher run (the baseline of the same model and seed), frozen."""
        path = teacher_dir / BEST_MODEL
        if not path.is_file():
            raise FileNotFoundError(f"teacher {path} is missing: train the run {teacher_dir.name} first "
                                    "(run_all.sh orders baselines before instance runs)")
        self.teacher = build_model(self.cfg.train.model, n_classes).to(self.device)
        self.teacher.load_state_dict(torch.load(path, map_location=self.device, weights_only=False)["model"])
        self.teacher.eval().requires_grad_(False)

    def state(self) -> dict:
        return {"config": self.cfg.to_dict(), "epoch": self.epoch, "best_map": self.best_map,
                "best_epoch": self.best_epoch, "history": self.history,
                "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict()}

    def load(self, path: Path) -> None:
        """Resume from a checkpoint written by the same configuration."""
        state = torch.load(path, map_location=self.device, weights_only=False)
        if state["config"] != self.cfg.to_dict():
            raise ValueError(f"{path} was written by a different configuration; delete the run folder "
                             "or rerun with --force to start it again")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        for group in self.optimizer.param_groups:   # a checkpoint of another device keeps this device's SGD kernel
            group["fused"] = self.optimizer.defaults["fused"]
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.epoch, self.best_map, self.best_epoch = state["epoch"], state["best_map"], state["best_epoch"]
        self.history = state["history"]


def train_run(cfg: RunConfig, run_dir: Path, data_dir: Path, splits: Splits | None = None,
              on_epoch_end: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """Train (or resume) one run into `run_dir`; returns its per-epoch history."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    splits = splits or run_splits(cfg, data_dir)
    device = choose_device(cfg.train.device)
    make_deterministic(device)
    trainer = Trainer(cfg, len(splits.classes), device)
    if cfg.train.teacher:
        trainer.load_teacher(run_dir.parent / cfg.train.teacher, len(splits.classes))
    if (run_dir / CHECKPOINT).is_file():
        trainer.load(run_dir / CHECKPOINT)
    write_json(run_dir / "config.json", cfg.to_dict())
    if splits.noise:
        write_json(run_dir / "label_noise.json", splits.noise)
    write_json(run_dir / "environment.json", {**environment_record(REPO_ROOT), "device": str(device),
                                              "data_source": splits.source})
    t = cfg.train
    heldout_loader = make_loader(splits.heldout, t.batch_size, device, t.num_workers)
    net = maybe_compile(trainer.model, t.compile)
    while trainer.epoch < t.epochs:
        epoch = trainer.epoch + 1
        seed_everything(t.seed * 10_007 + epoch)
        loader = make_loader(splits.fit, t.batch_size, device, t.num_workers, shuffle_seed=t.seed * 10_007 + epoch)
        lrs = {f"lr_{g['name']}": g["lr"] for g in trainer.optimizer.param_groups}
        start = time.perf_counter()
        train_loss = train_one_epoch(net, loader, trainer.criterion, trainer.optimizer, trainer.scaler,
                                     device, t.max_batches, desc=f"{cfg.name} epoch {epoch}/{t.epochs}",
                                     teacher=trainer.teacher, teacher_temperature=t.teacher_temperature)
        heldout_loss, heldout_map = heldout_scores(net, heldout_loader, device)
        trainer.scheduler.step()
        row = {"epoch": epoch, "train_loss": train_loss, "heldout_loss": heldout_loss,
               "heldout_map": heldout_map, **lrs, "seconds": time.perf_counter() - start}
        trainer.epoch, trainer.history = epoch, trainer.history + [row]
        if heldout_map > trainer.best_map:
            trainer.best_map, trainer.best_epoch = heldout_map, epoch
            atomic_torch_save({"epoch": epoch, "heldout_map": heldout_map, "model": trainer.model.state_dict()},
                              run_dir / BEST_MODEL)
        atomic_torch_save(trainer.state(), run_dir / CHECKPOINT)
        atomic_write_text(run_dir / HISTORY, pd.DataFrame(trainer.history).to_csv(index=False))
        if on_epoch_end is not None:
            on_epoch_end(row)
    return pd.DataFrame(trainer.history)
