"""Checks of configuration values, shared by every track: each raises ValueError naming the bad value and
what is allowed (or the fix), never a value that is fine."""

from collections.abc import Callable

PRECISIONS = ("auto", "fp32", "bf16", "fp16")  # how a run computes (lsml_core.compute)
MEMORY_FORMATS = ("auto", "channels_last", "contiguous")
BACKBONES = ("resnet18", "resnet34", "resnet50", "mobilenet_v2")  # lsml_core.backbones builds them


def check_choice(name: str, value, allowed) -> None:
    """Raise ValueError naming the allowed values unless `value` is one of them."""
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}: choose one of {', '.join(map(str, allowed))}")


def check_each(rule: str, test: Callable, **values) -> None:
    """Raise ValueError naming the first of `values` that fails `test` (`name=value must <rule>`): each message
    names one problem, never a value that is fine."""
    for name, value in values.items():
        if not test(value):
            raise ValueError(f"{name}={value!r} must {rule}")


def check_max_batches(max_batches: int | None) -> None:
    """`max_batches` caps the batches of a training pass: null (all) or at least 1."""
    if max_batches is not None and max_batches < 1:
        raise ValueError(f"max_batches={max_batches} must be at least 1, or null for every batch")


def check_teacher(what: str, name: str, teacher: str | None, registry: dict) -> None:
    """A run names a teacher run exactly when its scheme (or loss) `name` learns from one (`needs_teacher`)."""
    if registry[name].needs_teacher != (teacher is not None):
        taught = [n for n, entry in registry.items() if entry.needs_teacher]
        raise ValueError(
            f"{what} {name!r} with teacher={teacher!r}: exactly the runs of {what} {taught} learn from a "
            "teacher run, and each of them needs one (the profile names it)"
        )


def check_compute(precision: str, memory_format: str) -> None:
    """Raise ValueError for a precision or memory format the study does not know."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r} is unknown: choose one of {', '.join(PRECISIONS)}")
    if memory_format not in MEMORY_FORMATS:
        raise ValueError(f"memory_format={memory_format!r} is unknown: choose one of {', '.join(MEMORY_FORMATS)}")


def check_model_name(name: str) -> None:
    """Raise ValueError for a backbone the study does not know (`lsml_core.backbones` builds each)."""
    if name not in BACKBONES:
        raise ValueError(f"unknown model {name!r}: choose one of {', '.join(BACKBONES)}")
