"""Would training a recipe's seeds together in one process be faster? Training steps of one model against S
copies of it stacked side by side as one network, on one CPU thread, in the format runs compute in.

    python -m benchmarks.stacked_models --models resnet18 mobilenet_v2 --stack 2 3 --image-size 32

S models stacked: every convolution with in, out channels and g groups becomes one with S in, S out channels
and S g groups, each BatchNorm over C channels one over S C (per channel, so each copy keeps its own
statistics), the head one grouped 1 x 1 convolution; copy s reads channels [3 s, 3 s + 3) of the input, its own
batch. The copies share no parameter, so one optimiser step on their loss is S independent steps (the loss is the
mean over every copy's outputs: each copy's gradient is 1/S of its own, the same work). `torch.func.vmap` over
models would compute the same: its convolution batching rule folds the model dimension into the convolution's
groups. Prints, per model and S, the seconds per step of one model and of S stacked, and the speed-up
S t_1 / t_S (above 1: stacking is faster).
"""

import argparse
import time

import pandas as pd
import torch
from torch import nn

from lsml_core.compute import choose
from lsml_core.multilabel.models import build_model


def stacked(model: nn.Module, copies: int) -> nn.Module:
    """`model` rebuilt in place as `copies` independent copies side by side (grouped convolutions)."""
    for name, child in list(model.named_children()):
        if isinstance(child, nn.Conv2d):
            wide = nn.Conv2d(
                child.in_channels * copies,
                child.out_channels * copies,
                child.kernel_size,
                child.stride,
                child.padding,
                groups=child.groups * copies,
                bias=child.bias is not None,
            )
            setattr(model, name, wide)
        elif isinstance(child, nn.BatchNorm2d):
            setattr(model, name, nn.BatchNorm2d(child.num_features * copies))
        elif isinstance(child, nn.Linear):
            head = nn.Conv2d(child.in_features * copies, child.out_features * copies, 1, groups=copies)
            setattr(model, name, nn.Sequential(nn.Unflatten(1, (child.in_features * copies, 1, 1)), head, nn.Flatten()))
        else:
            stacked(child, copies)
    return model


def seconds_per_step(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, steps: int, warmup: int) -> float:
    """Median seconds of one SGD step (forward, BCE, backward, update) over `steps` after `warmup` steps."""
    optimiser = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss = nn.BCEWithLogitsLoss()
    times = []
    for _ in range(warmup + steps):
        start = time.perf_counter()
        optimiser.zero_grad()
        loss(model(images), targets).backward()
        optimiser.step()
        times.append(time.perf_counter() - start)
    return float(pd.Series(times[warmup:]).median())


def row(name: str, copies: int, args: argparse.Namespace) -> dict:
    """One model's step time alone and `copies` of it stacked, in the CPU's format for that model."""
    memory_format = (
        torch.channels_last if choose("cpu", name).memory_format == "channels_last" else torch.contiguous_format
    )
    torch.manual_seed(0)
    times = {}
    for n in (1, copies):
        model = build_model(name, args.classes)
        model = (stacked(model, n) if n > 1 else model).to(memory_format=memory_format).train()
        images = torch.randn(args.batch_size, 3 * n, args.image_size, args.image_size).to(memory_format=memory_format)
        targets = torch.randint(0, 2, (args.batch_size, args.classes * n)).float()
        times[n] = seconds_per_step(model, images, targets, args.steps, args.warmup)
    return {
        "model": name,
        "stacked": copies,
        "one_model_s": times[1],
        "stacked_s": times[copies],
        "speed_up": copies * times[1] / times[copies],
    }


def main() -> None:
    """Measure every model x stack size on one thread and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["resnet18", "mobilenet_v2"])
    parser.add_argument("--stack", nargs="+", type=int, default=[2, 3])
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    table = pd.DataFrame([row(name, copies, args) for name in args.models for copies in args.stack])
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))


if __name__ == "__main__":
    main()
