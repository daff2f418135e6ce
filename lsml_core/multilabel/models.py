"""torchvision classifiers with a head for n classes, and backbone/head parameter groups."""

from pathlib import Path

import torch
from torch import nn
from torchvision import models as tvm

MODELS = {
    "resnet18": (tvm.resnet18, tvm.ResNet18_Weights.IMAGENET1K_V1),
    "resnet34": (tvm.resnet34, tvm.ResNet34_Weights.IMAGENET1K_V1),
    "resnet50": (tvm.resnet50, tvm.ResNet50_Weights.IMAGENET1K_V1),
    "mobilenet_v2": (tvm.mobilenet_v2, tvm.MobileNet_V2_Weights.IMAGENET1K_V1),
}


class WeightsMissingError(FileNotFoundError):
    """ImageNet weights are neither cached nor downloadable."""


def check_model_name(name: str) -> None:
    """Raise ValueError for a model the study does not know."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}")


def weights_path(name: str) -> Path:
    """Where torchvision caches the ImageNet weights of `name`."""
    url = MODELS[name][1].url
    return Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]


def load_imagenet_state(name: str) -> dict:
    """ImageNet weights from torchvision's cache, downloading them when the internet allows."""
    try:
        return MODELS[name][1].get_state_dict(progress=False)
    except Exception as exc:  # URLError, HTTPError, or a partial file
        path = weights_path(name)
        raise WeightsMissingError(
            f"ImageNet weights for {name} are not available ({exc}). Without internet, download "
            f"{MODELS[name][1].url} elsewhere and put it at {path} (folder {path.parent}), "
            "or set pretrained: false."
        ) from exc


def head(model: nn.Module) -> nn.Linear:
    """The final linear layer of a ResNet (`fc`) or a MobileNetV2 (`classifier[-1]`)."""
    return model.fc if hasattr(model, "fc") else model.classifier[-1]


def build_model(name: str, n_classes: int, pretrained: bool = False) -> nn.Module:
    """A torchvision model, optionally ImageNet-initialised, with a fresh Linear(features, n_classes) head."""
    check_model_name(name)
    model = MODELS[name][0](weights=None)
    if pretrained:
        model.load_state_dict(load_imagenet_state(name))
    old = head(model)
    new = nn.Linear(old.in_features, n_classes)
    if hasattr(model, "fc"):
        model.fc = new
    else:
        model.classifier[-1] = new
    return model


def parameter_groups(model: nn.Module, lr_backbone: float, lr_head: float) -> list[dict]:
    """Two optimiser groups that partition the parameters: the whole head, and everything else."""
    head_ids = {id(p) for p in head(model).parameters()}
    backbone = [p for p in model.parameters() if id(p) not in head_ids]
    return [
        {"params": backbone, "lr": lr_backbone, "name": "backbone"},
        {"params": list(head(model).parameters()), "lr": lr_head, "name": "head"},
    ]
