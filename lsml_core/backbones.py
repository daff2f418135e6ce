"""torchvision backbones for every track: the registry, ImageNet weights (cached or downloaded), grey input,
and the classifier layer that a track replaces with its own head(s)."""

from pathlib import Path

import torch
from torch import nn
from torchvision import models as tvm

from lsml_core.checks import check_model_name

MODELS = {
    "resnet18": (tvm.resnet18, tvm.ResNet18_Weights.IMAGENET1K_V1),
    "resnet34": (tvm.resnet34, tvm.ResNet34_Weights.IMAGENET1K_V1),
    "resnet50": (tvm.resnet50, tvm.ResNet50_Weights.IMAGENET1K_V1),
    "mobilenet_v2": (tvm.mobilenet_v2, tvm.MobileNet_V2_Weights.IMAGENET1K_V1),
}


class WeightsMissingError(FileNotFoundError):
    """ImageNet weights are neither cached nor downloadable."""


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
            "or set pretrained: none (or stage, a backbone pretrained here)."
        ) from exc


def head(model: nn.Module) -> nn.Linear:
    """The final linear layer of a ResNet (`fc`) or a MobileNetV2 (`classifier[-1]`)."""
    return model.fc if hasattr(model, "fc") else model.classifier[-1]


def replace_head(model: nn.Module, new: nn.Module) -> nn.Module:
    """`model` with its final linear layer replaced by `new`."""
    if hasattr(model, "fc"):
        model.fc = new
    else:
        model.classifier[-1] = new
    return model


def first_conv(model: nn.Module) -> tuple[nn.Module, str, nn.Conv2d]:
    """(parent module, attribute name, the convolution) of a ResNet's or MobileNetV2's first layer."""
    if hasattr(model, "conv1"):
        return model, "conv1", model.conv1
    return model.features[0], "0", model.features[0][0]


def grey_input(model: nn.Module) -> nn.Module:
    """`model` taking one input channel: its first convolution's weights summed over RGB (ImageNet weights
    then see a grey image as they saw the same image in colour)."""
    parent, name, conv = first_conv(model)
    grey = nn.Conv2d(1, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, bias=conv.bias is not None)
    with torch.no_grad():
        grey.weight.copy_(conv.weight.sum(dim=1, keepdim=True))
    setattr(parent, name, grey)
    return model


def build_backbone(name: str, pretrained: bool = False, in_channels: int = 3) -> tuple[nn.Module, int]:
    """(a torchvision model whose classifier layer is the identity, its feature width): image -> feature vector."""
    check_model_name(name)
    model = MODELS[name][0](weights=None)
    if pretrained:
        model.load_state_dict(load_imagenet_state(name))
    if in_channels == 1:
        grey_input(model)
    elif in_channels != 3:
        raise ValueError(f"in_channels={in_channels}: the backbones take 1 (grey) or 3 (colour) channels")
    width = head(model).in_features
    return replace_head(model, nn.Identity()), width
