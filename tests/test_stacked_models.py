"""The stacked-models benchmark times the work of S independent models: its network computes each copy's logits."""

import pytest
import torch

from benchmarks import stacked_models
from lsml_core.multilabel.models import build_model


def stacked_state(copies: list[torch.nn.Module], target: torch.nn.Module) -> dict:
    """The copies' weights laid side by side in `target`'s state: every tensor concatenated on its first axis."""
    sources = [c.state_dict() for c in copies]
    state = {}
    for key, value in target.state_dict().items():
        source_key = key if key in sources[0] else key.replace(".1.", ".", 1)  # the head: Linear -> [1] of Sequential
        parts = [s[source_key] for s in sources]
        state[key] = parts[0] if value.dim() == 0 else torch.cat(parts).reshape(value.shape)
    return state


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2"])
def test_stacked_copies_give_each_models_logits(name):
    torch.manual_seed(0)
    copies = [build_model(name, 5).eval() for _ in range(3)]
    wide = stacked_models.stacked(build_model(name, 5), 3).eval()
    wide.load_state_dict(stacked_state(copies, wide))
    images = [torch.randn(4, 3, 32, 32) for _ in copies]
    with torch.no_grad():
        logits = wide(torch.cat(images, dim=1))
        alone = torch.cat([model(x) for model, x in zip(copies, images)], dim=1)
    assert logits.shape == (4, 15)
    torch.testing.assert_close(logits, alone, rtol=1e-4, atol=1e-4)
