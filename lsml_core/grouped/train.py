"""Training of one grouped run in the source's three phases: labeled images unaugmented, then augmented,
then augmented with pseudo-labeled unlabeled images (or, with `pseudo: false`, without them).

Adam; the learning rate is multiplied by `lr_drop` at the start of phases 2 and 3 (torch's MultiStepLR:
the drops the source made by hand). The best epoch is chosen on the selection part exact match. The epoch
loop, checkpoints and resume are `lsml_core.fit`'s; the pseudo-labels are chosen once, at the start of
phase 3, and saved in the run folder, so a resumed run reuses them.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lsml_core import dose, fit, layout
from lsml_core.compute import Compute, choose_for_run
from lsml_core.grouped.config import RunConfig
from lsml_core.grouped.data import Splits, batches, in_order, load_splits
from lsml_core.grouped.losses import group_doses, loss_parts
from lsml_core.grouped.metrics import group_probabilities, split_metrics
from lsml_core.grouped.models import GroupedNet, group_logits
from lsml_core.grouped.pseudo import pseudo_labels
from lsml_core.records import atomic_write_npz, read_json, write_json
from lsml_core.splits import Split
from lsml_core.threads import on_run_threads

EVAL_BATCH = 500
SCORE = "selection_exact_match"  # the history column that chooses the best epoch


def model_for(cfg: RunConfig, splits: Splits, device: torch.device) -> tuple[GroupedNet, Compute]:
    """A fresh model of the run on `device`, in the memory format it computes in, and that compute
    (`compute.choose_for_run`)."""

    def build(pretrained: bool = False) -> GroupedNet:
        return GroupedNet(cfg.train.model, splits.sizes, pretrained)

    compute = choose_for_run(device, cfg.train, probe=build, image_size=cfg.data.image_size)
    return compute.prepare(build(cfg.train.pretrained).to(device)), compute


def predict(model: GroupedNet, split: Split, splits: Splits, device: torch.device, compute: Compute, desc: str = ""):
    """float32 outputs [N, sum K_g + 6] of a split, in order."""
    return fit.predict(model, in_order(split, splits, EVAL_BATCH), device, desc=desc, compute=compute)


def make_fit(cfg: RunConfig, splits: Splits, device: torch.device) -> fit.Fit:
    """The run's model, Adam, the phase drops of the learning rate, the scaler."""
    t = cfg.train
    model, compute = model_for(cfg, splits, device)
    optimizer = torch.optim.Adam(model.parameters(), lr=t.lr, weight_decay=t.weight_decay)
    starts = sorted({t.epochs_plain, t.epochs_plain + t.epochs_augmented} - {0, t.epochs})
    schedule = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=starts, gamma=t.lr_drop)
    setup = fit.Setup(device=device, compute=compute, seed=t.seed, max_batches=t.max_batches)
    return fit.Fit(cfg, model, optimizer, schedule, setup)


class Teacher:
    """A frozen trained run of the same architecture whose outputs feed instance-based targets; it computes in
    the student's memory format and precision."""

    def __init__(self, run_dir: Path, cfg: RunConfig, splits: Splits, device: torch.device):
        model, self.compute = model_for(cfg, splits, device)
        self.model = fit.load_teacher(run_dir, model, device)

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        with self.compute.autocast(images.device):
            return self.model(images).float()


def selection_scores(run: fit.Fit, cfg: RunConfig, splits: Splits, desc: str) -> dict:
    """Selection exact match (the selection score), accuracy and log loss per group."""
    logits = predict(run.model, splits.selection, splits, run.device, run.compute, desc)
    metrics = split_metrics(splits.selection.labels.numpy(), logits, splits.groups, splits.sizes, cfg.train.head)
    return {f"selection_{name}": value for name, value in metrics.items() if not name.startswith("ece")}


def weighted_log_loss(
    history: pd.DataFrame, cfg: RunConfig, groups: tuple[str, ...], split: str = "selection"
) -> pd.Series:
    """sum_g w_g log_loss_g of a split per epoch, from the history's per-group columns: the selection
    counterpart of `train_group_loss` (sum_g w_g L_g on the training batches, SESEMI left out)."""
    return sum(cfg.train.weight(g) * history[f"{split}_log_loss_{g}"] for g in groups)


def with_pseudo_labels(run: fit.Fit, cfg: RunConfig, splits: Splits, run_dir: Path) -> Split:
    """The labeled training part plus the unlabeled images kept with their pseudo-labels (chosen once, then read)."""
    path = Path(run_dir) / layout.PSEUDO_LABELS
    if not path.is_file():
        head, sizes = cfg.train.head, splits.sizes
        selection = predict(run.model, splits.selection, splits, run.device, run.compute, "pseudo-labels: selection")
        unlabeled = predict(run.model, splits.unlabeled, splits, run.device, run.compute, "pseudo-labels: unlabeled")
        probs_sel, probs_unl = group_probabilities(selection, sizes, head), group_probabilities(unlabeled, sizes, head)
        record, keep, labels = pseudo_labels(
            probs_sel,
            splits.selection.labels.numpy(),
            probs_unl,
            splits.unlabeled.labels.numpy(),
            precision=cfg.train.pseudo_precision,
            min_count=cfg.train.pseudo_min_count,
        )
        write_json(Path(run_dir) / layout.PSEUDO_RECORD, record)
        atomic_write_npz(path, keep=keep, labels=labels)
    with np.load(path) as saved:
        keep, labels = torch.from_numpy(saved["keep"]), torch.from_numpy(saved["labels"])
    return Split(torch.cat([splits.fit.images, splits.unlabeled.images[keep]]), torch.cat([splits.fit.labels, labels]))


@on_run_threads
def train_run(cfg: RunConfig, run_dir: Path, data_dir: Path, splits: Splits | None = None) -> pd.DataFrame:
    """Train (or resume) one run into `run_dir` through its three phases."""
    run_dir, t = Path(run_dir), cfg.train
    splits = splits or load_splits(cfg.data, data_dir)
    device = fit.start_run(t.device, t.seed)
    run = make_fit(cfg, splits, device)
    teacher = Teacher(run_dir.parent / t.teacher, cfg, splits, device) if t.needs_teacher else None
    groups, sizes = splits.groups, splits.sizes

    def train(epoch: int, desc: str) -> dict:
        phase = t.phase(epoch)
        data = with_pseudo_labels(run, cfg, splits, run_dir) if phase == "pseudo" and t.pseudo else splits.fit
        right, seen, group_part, meters = [], [], [], {g: dose.Meter() for g in groups}

        def loss_of(outputs, images, labels, aux_labels):
            n = len(labels)
            right.append(
                torch.stack(
                    [(z.argmax(1) == labels[:, g]).sum() for g, z in enumerate(group_logits(outputs[:n], sizes))]
                )
            )
            seen.append(n)
            taught = teacher(images[:n]) if teacher else None
            moved = group_doses(labels, groups=groups, sizes=sizes, train=t, teacher_outputs=taught)
            for group, (mass, decisions) in zip(groups, moved):
                meters[group].add(mass, decisions)
            loss, groups_loss = loss_parts(
                outputs, labels, aux_labels, groups=groups, sizes=sizes, train=t, teacher_outputs=taught
            )
            group_part.append(groups_loss.detach() * n)
            return loss

        stream = batches(
            data,
            splits,
            batch_size=t.batch_size,
            seed=fit.epoch_seed(t.seed, epoch),
            augment=phase != "plain",
            sesemi=t.sesemi,
            unlabeled=splits.unlabeled,
        )
        n_batches = -(-len(data) // t.batch_size)
        loss = run.train_pass(stream, loss_of, desc=desc, total=n_batches)
        accuracy = (torch.stack(right).sum(0).cpu().numpy() / max(sum(seen), 1)) if right else np.zeros(len(groups))
        return {
            "phase": phase,
            "train_images": len(data),
            "train_loss": loss,
            "train_group_loss": float(torch.stack(group_part).sum()) / max(sum(seen), 1) if group_part else 0.0,
            **{f"train_accuracy_{g}": float(a) for g, a in zip(groups, accuracy)},
            **{dose.column(g): meter.value() for g, meter in meters.items()},
        }

    epoch = fit.Epoch(train, lambda: selection_scores(run, cfg, splits, f"{cfg.name}, selection part"))
    return fit.fit(run, run_dir, epoch, score=SCORE, epochs=t.epochs, source=splits.source)


def pseudo_record(run_dir: Path) -> dict | None:
    """What the pseudo-labels of a run were (threshold, fraction kept, their accuracy), None without them."""
    path = Path(run_dir) / layout.PSEUDO_RECORD
    return read_json(path) if path.is_file() else None
