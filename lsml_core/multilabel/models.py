"""torchvision classifiers (`lsml_core.backbones`) with a head for n classes, and backbone/head parameter groups."""

from torch import nn

from lsml_core.backbones import MODELS, check_model_name, head, load_imagenet_state, replace_head


def build_model(name: str, n_classes: int, pretrained: bool = False) -> nn.Module:
    """A torchvision model, optionally ImageNet-initialised, with a fresh Linear(features, n_classes) head."""
    check_model_name(name)
    model = MODELS[name][0](weights=None)
    if pretrained:
        model.load_state_dict(load_imagenet_state(name))
    return replace_head(model, nn.Linear(head(model).in_features, n_classes))


def parameter_groups(model: nn.Module, lr_backbone: float, lr_head: float) -> list[dict]:
    """Two optimiser groups that partition the parameters: the whole head, and everything else."""
    head_ids = {id(p) for p in head(model).parameters()}
    backbone = [p for p in model.parameters() if id(p) not in head_ids]
    return [
        {"params": backbone, "lr": lr_backbone, "name": "backbone"},
        {"params": list(head(model).parameters()), "lr": lr_head, "name": "head"},
    ]
