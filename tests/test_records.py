"""Atomic writes: whole files or none, with the mode an ordinary `open` gives (0666 less the umask), not 0600."""

import os
import stat

import numpy as np
import pytest

from lsml_core.multilabel.images.image_cache import ensure_cache
from lsml_core.multilabel.images.transforms import scaled_recipe
from lsml_core.records import (
    atomic_torch_save,
    atomic_write_bytes,
    atomic_write_npz,
    atomic_write_text,
    write_json,
)
from tests.multilabel.test_image_cache import paths_of, voc_like

WRITERS = {
    "answer.json": lambda path: write_json(path, {"regime": "overconfident"}),
    "index.html": lambda path: atomic_write_text(path, "<html></html>"),
    "summary.bin": lambda path: atomic_write_bytes(path, b"\x00\x01"),
    "predictions.npz": lambda path: atomic_write_npz(path, compressed=True, scores=np.zeros(3)),
    "checkpoint.pt": lambda path: atomic_torch_save({"epoch": 1}, path),
}


@pytest.fixture
def umask():
    """Set the umask for one test, and put the old one back after it."""
    old = os.umask(0o022)
    yield os.umask
    os.umask(old)


@pytest.mark.parametrize("name", sorted(WRITERS))
@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_an_atomic_write_has_the_mode_open_gives_under_the_umask(tmp_path, umask, name, mask, mode):
    umask(mask)
    path = tmp_path / name
    WRITERS[name](path)
    assert stat.S_IMODE(path.stat().st_mode) == mode
    WRITERS[name](path)  # replacing a file keeps that mode too
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left behind


def test_the_image_cache_has_the_mode_open_gives_under_the_umask(tmp_path, umask):
    root = voc_like(tmp_path / "voc", [(40, 40)])
    for mask, mode in ((0o022, 0o644), (0o077, 0o600)):
        umask(mask)
        target = ensure_cache(paths_of(root), tmp_path / f"cache-{mask:o}.npy", scaled_recipe(16), "train")
        assert stat.S_IMODE(target.stat().st_mode) == mode


@pytest.mark.parametrize("name", ["answer.json", "checkpoint.pt"])
def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary_one(tmp_path, monkeypatch, name):
    path = tmp_path / name
    WRITERS[name](path)
    before = path.read_bytes()

    def full(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(OSError):
        WRITERS[name](path)
    monkeypatch.undo()
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == [name]
