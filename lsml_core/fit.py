"""Training of one run, for every track: device, the epoch loop with checkpoint,
resume and best epoch, loss read-back, the non-finite stop, per-epoch seeds, predictions, teachers.

A track supplies its model, optimiser, schedule, one training pass and one validation; this module
owns the order of events. Epoch e of a run with seed s draws from the seed `s * 10007 + e`, so a
resumed run repeats an uninterrupted one bit for bit on CPU.
"""

import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from lsml_core import layout
from lsml_core.compute import Compute, device_default
from lsml_core.outputs import damaged_checkpoint
from lsml_core.records import REPO_ROOT, atomic_torch_save, atomic_write_text, environment_record, write_json
from lsml_core.seeding import make_deterministic, seed_everything

READBACK_EVERY = {"cpu": 1, "cuda": 25}  # batches between loss read-backs, per device type


class NonFiniteLossError(RuntimeError):
    """The training loss or the model's outputs became NaN or infinite; the run stops, its checkpoints stay."""


def choose_device(preference: str = "auto") -> torch.device:
    """CUDA when present (or asked for), else CPU."""
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if preference == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was asked for but no CUDA GPU is visible; use device: auto or cpu")
    return torch.device(preference)


def start_run(device_preference: str, seed: int) -> torch.device:
    """The run's device, its kernels (deterministic on CPU) and every generator seeded, before any model is built."""
    device = choose_device(device_preference)
    make_deterministic(device)
    seed_everything(seed)
    return device


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of one epoch's shuffling and augmentation: `seed * 10007 + epoch`."""
    return seed * 10_007 + epoch


def maybe_compile(model: torch.nn.Module, enabled: bool) -> torch.nn.Module:
    """The model compiled with torch.compile when asked; it shares its parameters with `model`."""
    return torch.compile(model) if enabled else model


def run_record(device: torch.device, source: str, compute: Compute | None = None) -> dict:
    """environment.json of a run: what produced it, on which device, in which format and precision, from which data."""
    compute = compute or device_default(device)
    numerics = {"memory_format": compute.memory_format, "precision": compute.precision}
    return {**environment_record(REPO_ROOT), "device": str(device), **numerics, "data_source": source}


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
                raise NonFiniteLossError(
                    f"{self.desc}, batch {step}: the training loss is {value}. "
                    "Lower the learning rate(s) or check the data; "
                    "the checkpoints written so far are kept."
                )
            self.total, self.count = self.total + value * n, self.count + n
        self.pending = []

    def mean(self) -> float:
        self.flush()
        return self.total / max(self.count, 1)


def train_pass(
    model,
    batches: Iterable,
    loss_of: Callable,
    *,
    optimizer,
    scaler,
    device: torch.device,
    max_batches: int | None,
    desc: str,
    total: int | None = None,
    compute: Compute | None = None,
) -> float:
    """One pass over (images, *labels) batches in `compute`'s format and precision (the device's default
    without it); returns the mean training loss.

    `loss_of(logits, images, *labels)` gets float32 logits and the batch on the device.
    """
    compute = compute or device_default(device)
    model.train()
    losses = LossLog(desc, READBACK_EVERY.get(device.type, 1))
    total = min(total, max_batches) if total is not None and max_batches else total
    for step, (images, *labels) in enumerate(tqdm(batches, total=total, desc=desc, mininterval=10)):
        if max_batches is not None and step >= max_batches:
            break
        images = compute.inputs(images.to(device, non_blocking=True))
        labels = [t.to(device, non_blocking=True) for t in labels]
        with compute.autocast(device):
            logits = model(images)
        loss = loss_of(logits.float(), images, *labels)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        losses.add(step, loss, len(images))  # after the step is queued: a read-back leaves the GPU work to do
    return losses.mean()


@torch.inference_mode()
def predict(
    model: torch.nn.Module,
    images: Iterable[torch.Tensor],
    device: torch.device,
    *,
    forward: Callable | None = None,
    desc: str = "",
    compute: Compute | None = None,
) -> np.ndarray:
    """float32 outputs of `forward(model, images)` (default: the model) for every batch, in order, in
    `compute`'s format and precision (the device's default without it), without autograd.

    The outputs stay on the device until the end: copying each batch back would make the host wait
    for the device every batch instead of preparing the next one. Non-finite outputs mean the model
    diverged: that stops the run with the advice to lower the learning rate.
    """
    compute = compute or device_default(device)
    model.eval()
    forward = forward or (lambda net, x: net(x))
    outputs = []
    for batch in images:
        with compute.autocast(device):
            outputs.append(forward(model, compute.inputs(batch.to(device, non_blocking=True))).float())
    result = torch.cat(outputs).cpu().numpy()
    if not np.isfinite(result).all():
        raise NonFiniteLossError(
            f"{desc}: the model's outputs are not finite ({int((~np.isfinite(result)).sum())} "
            "NaN or infinite values): training diverged. Lower the learning rate(s) in the "
            "profile's train section and rerun with --force; the checkpoints written so far are kept."
        )
    return result


def load_best(run_dir: Path, model: torch.nn.Module, device: torch.device) -> int:
    """Load a run's best model into `model`; returns the epoch it came from."""
    path = Path(run_dir) / layout.BEST_MODEL
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: train the run {Path(run_dir).name} first "
            "(run_all.sh trains every run, teachers first, before it is evaluated or taught from)"
        )
    state = torch.load(path, map_location=device, weights_only=False)
    model.load_state_dict(state["model"])
    return state["epoch"]


def load_last(run_dir: Path, model: torch.nn.Module, device: torch.device) -> int:
    """Load the weights of a run's last epoch (its checkpoint) into `model`; returns that epoch."""
    path = Path(run_dir) / layout.CHECKPOINT
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: train the run {Path(run_dir).name} first (its last epoch's weights are kept there)"
        )
    state = torch.load(path, map_location=device, weights_only=False)
    if "model" not in state:
        raise FileNotFoundError(
            f"{path} holds no weights: the run finished without asking for its last epoch's evaluation; rerun it "
            "with --force to train it again"
        )
    model.load_state_dict(state["model"])
    return state["epoch"]


def load_teacher(run_dir: Path, model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """A teacher run's best model loaded into `model`, frozen in evaluation mode."""
    load_best(run_dir, model, device)
    return model.eval().requires_grad_(False)


@dataclass(frozen=True)
class Best:
    """A trained run's best model, the epoch it comes from, and the device, memory format and precision it
    predicts in."""

    model: torch.nn.Module
    epoch: int
    device: torch.device
    compute: Compute


def best_model(
    run_dir: Path, device_preference: str, build: Callable[[torch.device], tuple[torch.nn.Module, Compute]]
) -> Best:
    """The best model of the run in `run_dir`, to evaluate it, on the device `device_preference` chooses
    (`choose_device`); `build(device)` makes a fresh model of the run and the compute it runs in."""
    device = choose_device(device_preference)
    model, compute = build(device)
    return Best(model, load_best(run_dir, model, device), device, compute)


@dataclass
class Epoch:
    """What a track computes in one epoch: its training pass (returns the training columns of the
    history) and its validation (returns the validation columns, the selection score among them)."""

    train: Callable[[int, str], dict]
    validate: Callable[[], dict]


@dataclass(frozen=True, kw_only=True)
class Setup:
    """How a run trains, beside what it checkpoints: the device, the memory format and precision there
    (`compute.choose_for_run`), the seed its epochs draw from (`epoch_seed`) and the batches a training pass
    takes at the most (None: every batch)."""

    device: torch.device
    compute: Compute
    seed: int
    max_batches: int | None = None


class Fit:
    """The checkpointed state of one run (model, optimiser, schedule, loss scaler, history, best epoch) and its
    `Setup`; the loss scaler is the one its precision needs (`Compute.grad_scaler`)."""

    def __init__(self, cfg, model, optimizer, scheduler, setup: Setup):
        self.cfg, self.model, self.optimizer, self.scheduler, self.setup = cfg, model, optimizer, scheduler, setup
        self.scaler = setup.compute.grad_scaler(setup.device)
        self.epoch, self.best_score, self.best_epoch, self.history = 0, -np.inf, 0, []
        self.finished = False  # resumed from a finished run's checkpoint: its training is over

    @property
    def device(self) -> torch.device:
        return self.setup.device

    @property
    def compute(self) -> Compute:
        return self.setup.compute

    def train_pass(
        self,
        batches: Iterable,
        loss_of: Callable,
        *,
        desc: str,
        total: int | None = None,
        model: torch.nn.Module | None = None,
    ) -> float:
        """`train_pass` with the run's optimiser, scaler and setup; `model`, when given, computes in place of the
        run's model (the same model compiled: it shares the parameters)."""
        return train_pass(
            self.model if model is None else model,
            batches,
            loss_of,
            optimizer=self.optimizer,
            scaler=self.scaler,
            device=self.device,
            max_batches=self.setup.max_batches,
            desc=desc,
            total=total,
            compute=self.compute,
        )

    def state(self) -> dict:
        return {
            "config": self.cfg.to_dict(),
            "epoch": self.epoch,
            "best_score": self.best_score,
            "best_epoch": self.best_epoch,
            "history": self.history,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "compute": self.compute_record(),
        }

    def compute_record(self) -> dict:
        """The memory format and precision the run computes in, as its checkpoint records them."""
        return asdict(self.compute)

    def load(self, path: Path) -> None:
        """Resume from a checkpoint written by the same configuration; a finished run's checkpoint
        (`finish_checkpoint`) gives back its epochs and history, with nothing left to train."""
        state = torch.load(path, map_location=self.device, weights_only=False)
        differing = self.cfg.differences(state["config"])
        if differing:
            raise ValueError(
                f"{path} was written by a different configuration ({', '.join(differing)}); delete the run "
                "folder or rerun with --force to start it again"
            )
        self.finished = bool(state.get(FINISHED))
        if not self.finished:
            self.load_training_state(state, path)
        self.epoch, self.best_score, self.best_epoch = state["epoch"], best_score_of(state), state["best_epoch"]
        self.history = state["history"]

    def load_training_state(self, state: dict, path: Path) -> None:
        """The weights, optimiser, schedule and loss scaler of a checkpoint that is still training."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        for group in self.optimizer.param_groups:  # a checkpoint of another device keeps this device's SGD kernel
            group["fused"] = self.optimizer.defaults.get("fused")
        self.scheduler.load_state_dict(state.get("scheduler", state.get("schedule")))
        if "scaler" in state:
            self.scaler.load_state_dict(state["scaler"])
        if state.get("compute") not in (None, self.compute_record()):
            warnings.warn(
                f"{path} was trained in {state['compute']}; it resumes in {self.compute_record()} (here `auto` "
                "chose differently): set train.precision and train.memory_format to keep one",
                stacklevel=3,
            )


def best_score_of(state: dict) -> float:
    """A checkpoint's best selection score (0.1.0 named it per track: `best_map`, `best_accuracy`)."""
    return state.get("best_score", state.get("best_map", state.get("best_accuracy")))


FINISHED = "finished"  # the key that marks a finished run's checkpoint (`finish_checkpoint`)
KEPT = ("config", "epoch", "best_epoch", "history", "compute")  # what a finished checkpoint holds, with its best score


def finish_checkpoint(path: Path, keep_weights: bool) -> bool:
    """Replace a finished run's resume checkpoint by what a rerun still reads: its configuration, epochs, best
    score and history, and the last epoch's weights only when its evaluation reads them (`keep_weights`); the
    optimiser's, schedule's and loss scaler's states go (for SGD with momentum about half the file, all of it
    without the weights). Written atomically; True when the file was replaced (False: already finished)."""
    state = torch.load(path, map_location="cpu", weights_only=False)
    if state.get(FINISHED):
        return False
    kept = {key: state[key] for key in KEPT if key in state} | {"best_score": best_score_of(state), FINISHED: True}
    if keep_weights:
        kept["model"] = state["model"]
    atomic_torch_save(kept, path)
    return True


def resumable(path: Path) -> bool:
    """Whether a run resumes from the checkpoint at `path`. One that does not read back whole was damaged from
    outside (it is written atomically): the run starts again from its first epoch, with a warning naming it."""
    if not path.is_file():
        return False
    if damaged_checkpoint(path):
        warnings.warn(
            f"{path} is damaged (it does not read back whole): the run starts again from its first epoch", stacklevel=3
        )
        return False
    return True


def learning_rates(optimizer) -> dict:
    """`lr_<group name>` per named parameter group, `lr` for an unnamed single group."""
    return {f"lr_{g['name']}" if "name" in g else "lr": g["lr"] for g in optimizer.param_groups}


def fit(
    run: Fit,
    run_dir: Path,
    epoch: Epoch,
    *,
    score: str,
    epochs: int,
    source: str,
    patience: int | None = None,
    on_epoch_end: Callable[[dict], None] | None = None,
) -> pd.DataFrame:
    """Train `run` to `epochs` (or until `patience` epochs bring no better `score`), resuming from its
    checkpoint (refused when another configuration wrote it; a damaged one is passed over); config.json and
    environment.json (data from `source`) first, then after every epoch: the best model (by `score`, higher
    is better), the checkpoint and history.csv. Epoch e draws from `epoch_seed` of the run's seed. Returns the
    history."""
    run_dir = Path(run_dir)
    if resumable(run_dir / layout.CHECKPOINT):
        run.load(run_dir / layout.CHECKPOINT)
    write_run_records(run_dir, run.cfg, run.device, source, run.compute)
    while not run.finished and run.epoch < epochs and (patience is None or run.epoch - run.best_epoch < patience):
        number = run.epoch + 1
        seed_everything(epoch_seed(run.setup.seed, number))
        lrs, start = learning_rates(run.optimizer), time.perf_counter()
        trained = epoch.train(number, f"{run.cfg.name} epoch {number}/{epochs}")
        validated = epoch.validate()
        run.scheduler.step()
        row = {"epoch": number, **trained, **validated, **lrs, "seconds": time.perf_counter() - start}
        run.epoch, run.history = number, run.history + [row]
        if row[score] > run.best_score:
            run.best_score, run.best_epoch = row[score], number
            atomic_torch_save(
                {"epoch": number, score: row[score], "model": run.model.state_dict()}, run_dir / layout.BEST_MODEL
            )
        atomic_torch_save(run.state(), run_dir / layout.CHECKPOINT)
        atomic_write_text(run_dir / layout.HISTORY, pd.DataFrame(run.history).to_csv(index=False))
        if on_epoch_end is not None:
            on_epoch_end(row)
    return pd.DataFrame(run.history)


def write_run_records(run_dir: Path, cfg, device: torch.device, source: str, compute: Compute | None = None) -> None:
    """config.json and environment.json of a run, before it trains."""
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / layout.CONFIG, cfg.to_dict())
    write_json(run_dir / layout.ENVIRONMENT, run_record(device, source, compute))
