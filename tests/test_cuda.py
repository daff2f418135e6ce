"""The CUDA path (skipped without a GPU): batch transforms equal the CPU's, channels_last inputs, mixed
precision training (fp16, bf16, fp32) and resume, the side stream, splits held on the GPU, a training pass that waits for
the device only to read its losses back, torch.compile, and the single-label track."""

import json
import warnings
from dataclasses import replace

import numpy as np
import pytest
import torch

from lsml_core import fit
from lsml_core.compute import Compute
from lsml_core.multiclass import evaluate as multiclass_evaluation
from lsml_core.multiclass import train as multiclass
from lsml_core.multilabel.evaluate import evaluate_run
from lsml_core.multilabel.images.batch_transforms import FiveCropBatch, TrainBatch
from lsml_core.multilabel.images.loaders import DeviceBatches, ResidentBatches, make_loader
from lsml_core.multilabel.images.transforms import scaled_recipe
from lsml_core.multilabel.losses import MultiLabelLoss
from lsml_core.multilabel.models import build_model
from lsml_core.multilabel.splits import build_splits
from lsml_core.multilabel.train import make_optimizer, train_run
from tests.multiclass.test_training import run, tiny_splits
from tests.multilabel.test_data_path import data_config
from tests.multilabel.test_training import Interrupt, interrupt_after_first_epoch, tiny_config

pytestmark = [
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
    pytest.mark.filterwarnings("ignore:class .* has no positive examples"),
]
CUDA = torch.device("cuda")


def uint8_batch(n: int, side: int) -> torch.Tensor:
    return torch.randint(0, 256, (n, 3, side, side), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


def test_train_batch_on_cuda_equals_the_cpu_recipe_with_the_same_draws():
    recipe, images = scaled_recipe(64), uint8_batch(32, 64)
    cpu = TrainBatch(recipe)(images, torch.Generator().manual_seed(5))
    gpu = TrainBatch(recipe)(images.to(CUDA), torch.Generator().manual_seed(5)).cpu()
    close = torch.isclose(cpu, gpu, atol=1e-4)
    assert close.float().mean() > 0.995  # nearest-neighbour rotation may pick the other pixel at a tie


def test_five_crop_batch_on_cuda_equals_the_cpu_one():
    recipe = scaled_recipe(48)
    images = uint8_batch(4, recipe.resize)
    assert torch.allclose(FiveCropBatch(recipe)(images), FiveCropBatch(recipe)(images.to(CUDA)).cpu(), atol=1e-6)


@pytest.mark.parametrize("resident, kind", [(None, ResidentBatches), (False, DeviceBatches)])
def test_cuda_batches_are_channels_last_float(mosaic_voc, tmp_path, resident, kind):
    fit = build_splits(data_config(mosaic_voc, "cached"), tmp_path).training
    loader = make_loader(fit, 8, CUDA, shuffle_seed=1, resident=resident)  # None: held on the GPU, as it fits
    assert isinstance(loader, kind) and (kind is ResidentBatches or loader.loader.pin_memory)
    images, targets, _ = next(iter(loader))
    assert images.device.type == targets.device.type == "cuda" and images.dtype == torch.float32
    assert images.is_contiguous(memory_format=torch.channels_last)


def test_a_training_pass_waits_for_the_gpu_only_to_read_its_losses_back(mosaic_voc, tmp_path, monkeypatch):
    monkeypatch.setattr(fit, "READBACK_EVERY", {"cuda": 4})
    fit_part = build_splits(data_config(mosaic_voc, "cached"), tmp_path).training
    loader = make_loader(fit_part, 2, CUDA, shuffle_seed=1)
    model = build_model("resnet18", 4).to(CUDA, memory_format=torch.channels_last)
    # bf16 needs no loss scaler, so SGD is fused and its step waits for nothing (float16's scaler keeps SGD
    # unfused, whose step reads the inf check back every batch: see make_optimizer)
    optimizer, scaler = (
        make_optimizer(model, lr_backbone=0.01, lr_head=0.01, momentum=0.9, weight_decay=0.0, device=CUDA),
        torch.amp.GradScaler("cuda", enabled=False),
    )
    compute = Compute("channels_last", "bf16")

    def one_pass():
        criterion = MultiLabelLoss("bce", "uniform", 0.1)
        fit.train_pass(
            model,
            loader,
            lambda z, x, y, m: criterion(z, y, m),
            optimizer=optimizer,
            scaler=scaler,
            device=CUDA,
            max_batches=None,
            desc="sync",
            compute=compute,
        )

    one_pass()  # first pass: cuDNN autotuning and lazy initialisation
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            one_pass()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    syncs = [w for w in caught if "synchronizing" in str(w.message)]
    # the loss read-backs (every 4 batches here and at the end) and the pass's order copied to the GPU once
    assert len(loader) > 8 and len(syncs) <= len(loader) // 4 + 2, [str(w.message) for w in syncs]


def test_a_step_the_loss_scaler_skips_leaves_sgd_untouched():
    """torch 2.11's fused SGD advanced its momentum on skipped steps (NaN from the second batch at 16 px)."""
    model = build_model("resnet18", 4).to(CUDA)
    optimizer, scaler = (
        make_optimizer(
            model, lr_backbone=0.01, lr_head=0.01, momentum=0.9, weight_decay=0.0, device=CUDA, loss_scaling=True
        ),
        torch.amp.GradScaler("cuda"),
    )
    before = [p.detach().clone() for p in model.parameters()]
    with torch.autocast("cuda", dtype=torch.float16):
        loss = model(torch.randn(2, 3, 16, 16, device=CUDA)).float().sum()
    scaler.scale(loss).backward()
    next(model.parameters()).grad.fill_(float("inf"))  # an overflow: the scaler must skip this step whole
    scaler.step(optimizer)
    scaler.update()
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert all(
        "momentum_buffer" not in optimizer.state[p] or optimizer.state[p]["momentum_buffer"] is None
        for p in model.parameters()
    )


@pytest.mark.parametrize("compile_model", [False, True])
def test_a_run_trains_and_evaluates_on_cuda_with_mixed_precision(mosaic_voc, tmp_path, compile_model):
    cfg = tiny_config(mosaic_voc, device="cuda", epochs=2, compile=compile_model)
    # 64 px, not 16: at 1 x 1 spatial size inductor mispredicts a channels_last convolution_backward's
    # strides and fails an assertion (pytorch/pytorch#171622); the profiles' sizes are 32 px and up
    cfg = replace(cfg, data=replace(cfg.data, image_size=64))
    history = train_run(cfg, tmp_path / "run", tmp_path)
    assert np.isfinite(history[["train_loss", "selection_loss", "selection_map"]].to_numpy()).all()
    assert json.loads((tmp_path / "run" / "environment.json").read_text())["device"] == "cuda"
    state = torch.load(tmp_path / "run" / "checkpoint_last.pt", weights_only=False)
    assert state["scaler"]["scale"] > 0  # the GradScaler of mixed precision was used and saved
    metrics = evaluate_run(cfg, tmp_path / "run", tmp_path)
    assert 0 <= metrics["splits"]["val_fivecrop"]["voc2010"]["mAP"] <= 1


@pytest.mark.parametrize("precision", ["fp16", "bf16", "fp32"])
def test_a_cuda_run_trains_in_each_precision_and_records_it(mosaic_voc, tmp_path, precision):
    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bfloat16")
    cfg = tiny_config(mosaic_voc, device="cuda", epochs=1, precision=precision)
    cfg = replace(cfg, data=replace(cfg.data, image_size=64))
    history = train_run(cfg, tmp_path / "run", tmp_path)
    assert np.isfinite(history[["train_loss", "selection_loss"]].to_numpy()).all()
    environment = json.loads((tmp_path / "run" / "environment.json").read_text())
    assert (environment["precision"], environment["memory_format"]) == (precision, "channels_last")
    state = torch.load(tmp_path / "run" / "checkpoint_last.pt", weights_only=False)
    assert bool(state["scaler"]) == (precision == "fp16")  # only float16 needs the loss scaler


@pytest.mark.parametrize("written_fused", [True, None])  # None: as written before SGD was fused on CUDA
def test_a_cuda_run_resumes_from_its_checkpoint(mosaic_voc, tmp_path, written_fused):
    cfg = tiny_config(mosaic_voc, device="cuda", epochs=2)
    with pytest.raises(Interrupt):
        train_run(cfg, tmp_path / "run", tmp_path, on_epoch_end=interrupt_after_first_epoch)
    state = torch.load(tmp_path / "run" / "checkpoint_last.pt", weights_only=False)
    for group in state["optimizer"]["param_groups"]:
        group["fused"] = written_fused
    torch.save(state, tmp_path / "run" / "checkpoint_last.pt")
    history = train_run(cfg, tmp_path / "run", tmp_path)
    assert list(history.epoch) == [1, 2] and np.isfinite(history.train_loss).all()


def test_the_single_label_track_trains_and_evaluates_on_cuda(tmp_path):
    cfg = run(device="cuda")
    history = multiclass.train_run(cfg, tmp_path / "run", tmp_path, tiny_splits())
    metrics = multiclass_evaluation.evaluate_run(cfg, tmp_path / "run", tmp_path, tiny_splits())
    assert np.isfinite(history.train_loss).all() and 0 <= metrics["splits"]["test"]["after"]["accuracy"] <= 1


def test_cuda_batches_prepared_on_the_side_stream_equal_the_cpu_batches_in_order(mosaic_voc, tmp_path):
    fit = build_splits(data_config(mosaic_voc, "cached"), tmp_path).training
    cpu = list(make_loader(fit, 8, torch.device("cpu"), shuffle_seed=1))
    for resident in (False, True):  # the side stream's and the GPU-held split's
        gpu = list(make_loader(fit, 8, CUDA, shuffle_seed=1, resident=resident))
        assert len(cpu) == len(gpu) > 1
        for (a, ta, _), (b, tb, _) in zip(cpu, gpu):
            assert torch.equal(ta, tb.cpu())
            assert torch.isclose(a, b.cpu(), atol=1e-4).float().mean() > 0.99
