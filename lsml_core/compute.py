"""How a model computes on its device: memory format (contiguous or channels_last) and precision (float32,
or bfloat16 / float16 autocast), set per run or chosen per device and model from measurements.

`auto` takes the measured choice (`python -m benchmarks.data_path`, whose ceiling is measured in every
format and precision; `python -m benchmarks.precision`; docs/performance.md): on CUDA, channels_last
with float16 autocast and a loss scaler; on a CPU, `CPU_CHOICES` per model, bfloat16 only where the CPU
computes it natively (avx512_bf16 or AMX), the demo profile showed its mAP within float32's seed spread, and
no strided convolution of the model sees a 1 x 1 input (`bf16_hazards`).
Autocast keeps the weights, the optimiser and the loss in float32: only the layers autocast lists run in the
lower precision, and the logits are cast back to float32 before any loss or metric.
"""

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace

import torch
from torch import nn

from lsml_core.checks import check_compute

AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
LAYOUTS = {"channels_last": torch.channels_last, "contiguous": torch.contiguous_format}
CUDA_CHOICE = ("channels_last", "fp16")
CPU_DEFAULT = ("contiguous", "fp32")  # a model the measurements did not cover
# model -> (memory format, precision) on a CPU: the faster format measured on the project's CPU; float32
# throughout, since ResNet-18's bfloat16 runs (1.6x faster) fell below float32's seed range on the demo
# profile (positive scheme) and MobileNetV2 trains slower in bfloat16 (docs/performance.md)
CPU_CHOICES = {
    "resnet18": ("channels_last", "fp32"),
    "resnet34": ("channels_last", "fp32"),
    "resnet50": ("contiguous", "fp32"),
    "mobilenet_v2": ("channels_last", "fp32"),
}


def cpu_computes_bf16() -> bool:
    """Whether this CPU has bfloat16 instructions (avx512_bf16 or AMX); without them bf16 is emulated, slowly."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


@dataclass(frozen=True)
class Compute:
    """A resolved memory format and precision of one model on one device."""

    memory_format: str = "contiguous"
    precision: str = "fp32"

    @property
    def layout(self) -> torch.memory_format:
        return LAYOUTS[self.memory_format]

    def prepare(self, model: torch.nn.Module) -> torch.nn.Module:
        """The model with its 4-D weights in this memory format."""
        return model.to(memory_format=self.layout)

    def inputs(self, images: torch.Tensor) -> torch.Tensor:
        """A 4-D image batch in this memory format (a no-op when it already is)."""
        return images.contiguous(memory_format=self.layout) if images.ndim == 4 else images

    def autocast(self, device: torch.device) -> AbstractContextManager:
        """The autocast context of this precision on `device` (a no-op for fp32)."""
        dtype = AUTOCAST_DTYPES.get(self.precision)
        return torch.autocast(device_type=torch.device(device).type, dtype=dtype, enabled=dtype is not None)

    def grad_scaler(self, device: torch.device) -> torch.amp.GradScaler:
        """The loss scaler float16 needs (its range is narrow); a pass-through for fp32 and bf16."""
        return torch.amp.GradScaler(torch.device(device).type, enabled=self.precision == "fp16")


def device_default(device: torch.device) -> Compute:
    """The compute of a step without a per-model choice (the pretraining stage): float16 autocast on CUDA,
    float32 on a CPU (contiguous)."""
    return Compute("contiguous", "fp16") if torch.device(device).type == "cuda" else Compute()


def choose(device: torch.device, model: str, precision: str = "auto", memory_format: str = "auto") -> Compute:
    """The run's compute: the measured choice for `model` on `device` wherever `auto` is given.

    fp16 is refused on a CPU (no fast kernels; bf16 is the CPU's half precision) and bf16 on a GPU without it.
    """
    check_compute(precision, memory_format)
    device = torch.device(device)
    if device.type == "cuda":
        measured = CUDA_CHOICE
    else:
        layout, fastest = CPU_CHOICES.get(model, CPU_DEFAULT)
        measured = (layout, fastest if fastest != "bf16" or cpu_computes_bf16() else "fp32")
    chosen = Compute(
        measured[0] if memory_format == "auto" else memory_format,
        measured[1] if precision == "auto" else precision,
    )
    if chosen.precision == "fp16" and device.type != "cuda":
        raise ValueError("precision fp16 needs a CUDA GPU; on a CPU use bf16 or fp32 (or auto)")
    if chosen.precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError("this GPU has no bfloat16: use precision fp16, fp32 or auto")
    return chosen


def choose_for_run(
    device: torch.device, train, *, probe: Callable[[], nn.Module], image_size: int, model: str | None = None
) -> Compute:
    """A run's memory format and precision on `device`, from its recipe's `precision` and `memory_format`
    (`auto`: the measured choice for its `model`, default `train.model`; on a CPU, bf16 only at image sizes
    where its backward is sound, see `bf16_hazards`; `probe()` builds the network, here on the meta device:
    shapes only, no weights, no random draws)."""
    chosen = choose(device, model or train.model, train.precision, train.memory_format)
    if torch.device(device).type != "cpu" or chosen.precision != "bf16":
        return chosen
    with torch.random.fork_rng(devices=[]), torch.device("meta"):
        network = probe()
    return checked_cpu_bf16(chosen, train.precision, network, image_size)


def bf16_hazards(model: nn.Module, image_size: int) -> list[str]:
    """The strided convolutions (kernel > 1) of `model` that see a 1 x 1 input at `image_size`: there torch's CPU
    bfloat16 backward leaves the gradient of the kernel taps that only meet padding uninitialised (garbage,
    different every run), so bf16 training would be neither deterministic nor sound."""
    hazards, hooks = [], []
    for name, layer in model.named_modules():
        if isinstance(layer, nn.Conv2d) and max(layer.stride) > 1 and max(layer.kernel_size) > 1:

            def record(module, args, output, name=name):
                if tuple(args[0].shape[-2:]) == (1, 1):
                    hazards.append(name)

            hooks.append(layer.register_forward_hook(record))
    channels = next(m.in_channels for m in model.modules() if isinstance(m, nn.Conv2d))
    device = next(model.parameters()).device
    training = model.training
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, channels, image_size, image_size, device=device))
    finally:
        model.train(training)
        for hook in hooks:
            hook.remove()
    return hazards


def checked_cpu_bf16(chosen: Compute, asked: str, model: nn.Module, image_size: int) -> Compute:
    """`chosen`, or float32 where `auto` chose bf16 for a model with `bf16_hazards` at `image_size` on a CPU;
    an explicit bf16 there is refused with the fix."""
    if chosen.precision != "bf16":
        return chosen
    hazards = bf16_hazards(model, image_size)
    if not hazards:
        return chosen
    if asked == "auto":
        return replace(chosen, precision="fp32")
    raise ValueError(
        f"precision bf16 on a CPU at image_size {image_size}: the strided convolution(s) {', '.join(hazards)} "
        "see a 1 x 1 input, where torch's bfloat16 backward gives garbage gradients. "
        "Use a larger image_size, or precision fp32 or auto."
    )
