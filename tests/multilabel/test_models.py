"""Models: heads for n classes, parameter groups that partition the parameters, clear weight errors."""

import urllib.error

import pytest
import torch

from lsml_core import backbones
from lsml_core.backbones import MODELS, WeightsMissingError, head
from lsml_core.multilabel.models import build_model, parameter_groups


@pytest.mark.parametrize("name", list(MODELS))
def test_head_and_groups_partition_parameters(name):
    model = build_model(name, n_classes=7)
    assert head(model).out_features == 7
    groups = parameter_groups(model, lr_backbone=1e-3, lr_head=1e-1)
    ids = [[id(p) for p in g["params"]] for g in groups]
    everything = [id(p) for p in model.parameters()]
    assert sorted(ids[0] + ids[1]) == sorted(everything)  # a partition: nothing missing
    assert not set(ids[0]) & set(ids[1])  # nothing twice
    assert {id(p) for p in head(model).parameters()} == set(ids[1])  # weight AND bias in the head group
    assert [g["lr"] for g in groups] == [1e-3, 1e-1]


def test_forward_shape_on_small_images():
    assert build_model("mobilenet_v2", 10)(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_unknown_model():
    with pytest.raises(ValueError, match="resnet18, resnet34, resnet50, mobilenet_v2"):
        build_model("vgg16", 20)


def test_offline_weights_error_names_file_and_folder(monkeypatch):
    weights = MODELS["resnet18"][1]

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no internet")

    monkeypatch.setattr(type(weights), "get_state_dict", offline)
    with pytest.raises(WeightsMissingError) as error:
        build_model("resnet18", 20, pretrained=True)
    message = str(error.value)
    assert "resnet18-f37072fd.pth" in message and str(backbones.weights_path("resnet18").parent) in message
