"""A run's steps compute on its configuration's CPU threads wherever they are called, and leave the caller's."""

from importlib import import_module
from types import SimpleNamespace

import pytest
import torch

from lsml_core import tracks
from lsml_core.threads import cpu_threads, on_run_threads


def test_threads_are_set_inside_the_block_and_restored_after_it_even_on_error():
    before = torch.get_num_threads()
    with cpu_threads(before + 1):
        assert torch.get_num_threads() == before + 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError, match="inside"), cpu_threads(before + 1):
        raise RuntimeError("inside")
    assert torch.get_num_threads() == before


def test_a_run_step_computes_on_the_threads_its_configuration_names():
    @on_run_threads
    def step(cfg, run_dir, *, splits=None):
        """A stand-in for train_run."""
        return torch.get_num_threads(), run_dir, splits

    before = torch.get_num_threads()
    for threads in (1, 2):
        cfg = SimpleNamespace(train=SimpleNamespace(threads=threads))
        assert step(cfg, "folder", splits="given") == (threads, "folder", "given")
        assert torch.get_num_threads() == before
    assert step.__doc__ == "A stand-in for train_run."


@pytest.mark.parametrize("track", tracks.NAMES)
def test_every_track_trains_and_evaluates_on_its_run_threads(track):
    for module, step in (("train", "train_run"), ("evaluate", "evaluate_run")):
        wrapped = getattr(import_module(f"lsml_core.{track}.{module}"), step)
        assert wrapped.__code__ is on_run_threads(lambda cfg: None).__code__, f"{track}.{module}.{step}"
