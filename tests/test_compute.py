"""Memory format and precision: the choice per device and model, bf16 training on CPU (deterministic, resumable),
and evaluation in the chosen format and precision against a plain float32 forward pass."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from lsml_core import compute, fit, layout
from lsml_core.compute import CPU_CHOICES, CPU_DEFAULT, CUDA_CHOICE, Compute, bf16_hazards, choose
from lsml_core.multilabel.config import TrainConfig
from lsml_core.multilabel.evaluate import evaluate_run, read_predictions
from lsml_core.multilabel.images.loaders import make_loader
from lsml_core.multilabel.models import build_model
from lsml_core.multilabel.splits import run_splits
from lsml_core.multilabel.train import forward_logits, run_compute, train_run
from lsml_core.records import read_json
from tests.multilabel.test_training import Interrupt, interrupt_after_first_epoch, tiny_config

CPU, CUDA = torch.device("cpu"), torch.device("cuda")
pytestmark = pytest.mark.filterwarnings("ignore:class .* has no positive examples")
needs_bf16 = pytest.mark.skipif(not compute.cpu_computes_bf16(), reason="this CPU has no bfloat16 instructions")


def config_32px(root, **train):
    """The tiny training fixture at 32 px, where no strided convolution of ResNet-18 sees a 1 x 1 input."""
    cfg = tiny_config(root, **train)
    return replace(cfg, data=replace(cfg.data, image_size=32))


@pytest.mark.parametrize("model", sorted(CPU_CHOICES))
def test_auto_takes_the_measured_choice_per_model_on_cpu_and_channels_last_fp16_on_cuda(model, monkeypatch):
    layout, precision = CPU_CHOICES[model]
    monkeypatch.setattr(compute, "cpu_computes_bf16", lambda: True)
    assert choose(CPU, model) == Compute(layout, precision)
    assert choose(CUDA, model) == Compute(*CUDA_CHOICE)
    monkeypatch.setitem(CPU_CHOICES, model, (layout, "bf16"))
    assert choose(CPU, model) == Compute(layout, "bf16")
    monkeypatch.setattr(compute, "cpu_computes_bf16", lambda: False)  # no bf16 instructions: float32
    assert choose(CPU, model) == Compute(layout, "fp32")


def test_explicit_settings_win_and_impossible_ones_are_refused():
    assert choose(CPU, "resnet18", "bf16", "contiguous") == Compute("contiguous", "bf16")
    assert choose(CPU, "resnet18", "fp32", "auto") == Compute(CPU_CHOICES["resnet18"][0], "fp32")
    assert choose(CUDA, "resnet18", "fp32", "contiguous") == Compute("contiguous", "fp32")
    assert choose(CPU, "a model nobody measured") == Compute(*CPU_DEFAULT)
    with pytest.raises(ValueError, match="fp16 needs a CUDA GPU"):
        choose(CPU, "resnet18", "fp16")
    with pytest.raises(ValueError, match="precision='fp64' is unknown"):
        TrainConfig(precision="fp64")
    with pytest.raises(ValueError, match="memory_format='nhwc' is unknown"):
        TrainConfig(memory_format="nhwc")


def test_autocast_and_scaler_follow_the_precision():
    layer, x = torch.nn.Linear(4, 2), torch.randn(3, 4)
    for precision, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        with Compute(precision=precision).autocast(CPU):
            assert layer(x).dtype == dtype
    assert not Compute(precision="bf16").grad_scaler(CPU).is_enabled()  # bf16 has float32's range
    assert not Compute(precision="fp32").grad_scaler(CPU).is_enabled()
    model = Compute("channels_last").prepare(build_model("resnet18", 3))
    assert model.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert Compute("channels_last").inputs(torch.randn(2, 3, 8, 8)).is_contiguous(memory_format=torch.channels_last)


def test_bf16_is_kept_off_the_sizes_where_its_cpu_backward_is_unsound(mosaic_voc, monkeypatch):
    assert bf16_hazards(build_model("resnet18", 4), 16) == ["layer4.0.conv1"]  # 1 x 1 input, stride 2
    assert bf16_hazards(build_model("resnet18", 4), 32) == [] and bf16_hazards(build_model("mobilenet_v2", 4), 16)
    with pytest.raises(ValueError, match="layer4.0.conv1 see a 1 x 1 input"):
        run_compute(tiny_config(mosaic_voc, precision="bf16"), CPU)  # 16 px
    monkeypatch.setattr(compute, "cpu_computes_bf16", lambda: True)
    monkeypatch.setitem(CPU_CHOICES, "resnet18", ("channels_last", "bf16"))
    assert run_compute(tiny_config(mosaic_voc), CPU).precision == "fp32"  # auto falls back at 16 px
    assert run_compute(config_32px(mosaic_voc), CPU).precision == "bf16"


@needs_bf16
def test_bf16_training_on_cpu_repeats_and_resumes_bit_for_bit(mosaic_voc, tmp_path):
    cfg = config_32px(mosaic_voc, precision="bf16", memory_format="channels_last")
    straight = train_run(cfg, tmp_path / "a", tmp_path)
    again = train_run(cfg, tmp_path / "b", tmp_path)
    with pytest.raises(Interrupt):
        train_run(cfg, tmp_path / "c", tmp_path, on_epoch_end=interrupt_after_first_epoch)
    resumed = train_run(cfg, tmp_path / "c", tmp_path)
    columns = ["epoch", "train_loss", "selection_loss", "selection_map"]
    pd.testing.assert_frame_equal(straight[columns], again[columns])
    pd.testing.assert_frame_equal(straight[columns], resumed[columns])
    states = [torch.load(tmp_path / r / layout.BEST_MODEL, weights_only=False)["model"] for r in "abc"]
    for name, tensor in states[0].items():
        assert torch.equal(tensor, states[1][name]) and torch.equal(tensor, states[2][name]), name
    assert evaluate_run(cfg, tmp_path / "a", tmp_path) == evaluate_run(cfg, tmp_path / "c", tmp_path)
    environment = read_json(tmp_path / "a" / "environment.json")
    assert (environment["memory_format"], environment["precision"]) == ("channels_last", "bf16")


def reference_test_logits(cfg, run_dir, data_dir) -> np.ndarray:
    """The val_fivecrop split's logits as plain float32 evaluation computes them: contiguous, one image's 5 crops at a time."""
    splits = run_splits(cfg, data_dir)
    model = build_model(cfg.train.model, len(splits.classes))
    fit.load_best(run_dir, model, CPU)
    model.eval()
    with torch.no_grad():
        return np.concatenate(
            [forward_logits(model, x).numpy() for x, _, _ in make_loader(splits.val_fivecrop, 1, CPU)]
        )


@pytest.mark.parametrize(
    "precision, memory_format, tolerance",
    [
        ("fp32", "contiguous", 1e-5),
        ("fp32", "channels_last", 1e-4),
        pytest.param("bf16", "auto", 0.1, marks=needs_bf16),
    ],
)
def test_evaluation_equals_plain_float32_evaluation_within_the_precisions_tolerance(
    mosaic_voc, tmp_path, precision, memory_format, tolerance
):
    trained = config_32px(mosaic_voc, epochs=1, precision="fp32", memory_format="contiguous")
    train_run(trained, tmp_path / "run", tmp_path)
    cfg = config_32px(mosaic_voc, epochs=1, precision=precision, memory_format=memory_format)
    evaluate_run(cfg, tmp_path / "run", tmp_path)  # batched FiveCrop, inference mode, the run's format and precision
    scores = read_predictions(tmp_path / "run" / "predictions_val_fivecrop.csv").scores
    reference = reference_test_logits(trained, tmp_path / "run", tmp_path)
    np.testing.assert_allclose(scores, reference, atol=tolerance * max(1.0, np.abs(reference).max()), rtol=0)


def grouped_model(**train):
    """A grouped run's fresh model and compute on the CPU, for 32 px canvases of a digit and an item."""
    from types import SimpleNamespace

    from lsml_core.grouped import config as grouped
    from lsml_core.grouped.train import model_for

    cfg = grouped.RunConfig(
        profile="p", data=grouped.DataConfig(image_size=32, symbol_size=16), train=grouped.TrainConfig(**train)
    )
    return model_for(cfg, SimpleNamespace(sizes=(10, 10)), CPU)


def multiclass_model(**train):
    """A single-label run's fresh model and compute on the CPU, for 28 px grey images of 10 classes."""
    from types import SimpleNamespace

    from lsml_core.multiclass import config as multiclass
    from lsml_core.multiclass.train import model_for

    cfg = multiclass.RunConfig(profile="p", data=multiclass.DataConfig(), train=multiclass.TrainConfig(**train))
    splits = SimpleNamespace(fit=SimpleNamespace(images=torch.zeros(1, 1, 28, 28)), classes=tuple("abcdefghij"))
    return model_for(cfg, splits, CPU)


@pytest.mark.parametrize("make, model", [(grouped_model, "resnet18"), (multiclass_model, "resnet8")])
def test_every_track_computes_as_its_run_asks_through_the_same_choice(make, model):
    default_net, default = make(model=model)
    assert default == Compute("contiguous", "fp32")  # the format and precision of the study's recorded runs
    net, chosen = make(model=model, memory_format="channels_last")
    assert chosen == Compute("channels_last", "fp32")

    def kernel(network):  # a convolution kernel whose two layouts differ (more than one input channel, k > 1)
        return next(p for p in network.parameters() if p.ndim == 4 and p.shape[1] > 1 and p.shape[-1] > 1)

    assert kernel(net).is_contiguous(memory_format=torch.channels_last) and not kernel(net).is_contiguous()
    assert kernel(default_net).is_contiguous()
    assert make(model=model, memory_format="auto")[1] == choose(CPU, model)
    with pytest.raises(ValueError, match="precision fp16 needs a CUDA GPU"):
        make(model=model, precision="fp16")
