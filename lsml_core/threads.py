"""The CPU threads a run computes on, part of its configuration (`train.threads`): the same run gives the same
numbers wherever it is computed (a pipeline kernel, a notebook opened in JupyterLab, a test) and whatever
the machine's core count."""

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch


@contextmanager
def cpu_threads(threads: int) -> Iterator[None]:
    """torch computes on `threads` CPU threads inside the block; the caller's count is restored after it."""
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


def on_run_threads(step: Callable) -> Callable:
    """A run's step `step(cfg, ...)` (train or evaluate) computes on `cfg.train.threads` CPU threads."""

    @functools.wraps(step)
    def on_threads(cfg, *args, **kwargs):
        with cpu_threads(cfg.train.threads):
            return step(cfg, *args, **kwargs)

    return on_threads
