"""The data-path benchmark at a tiny size: its table, CSV and plot; one way measured in its own process."""

import pandas as pd
import pytest
import torch

from benchmarks import data_path

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
N_CEILINGS = len(data_path.ceiling_computes(DEVICE))
TINY = [
    "--models",
    "resnet18",
    "--sizes",
    "16",
    "--batch-sizes",
    "2",
    "--steps",
    "1",
    "--warmup",
    "1",
    "--eval-images",
    "2",
    "--workers",
    "1",
    "--repeats",
    "2",
]


def test_benchmark_writes_every_way_with_its_ratio_to_the_fastest_ceiling(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(data_path, "run_isolated", data_path.measure)  # the same measurement, without new processes
    data_path.main([*TINY, "--out", str(tmp_path / "out")])
    frame = pd.read_csv(tmp_path / "out" / "data_path.csv")
    assert list(frame.way) == ["pil", "cached"] + ["ceiling"] * N_CEILINGS and (frame.rounds == 2).all()
    assert (frame.train_images_per_s_min <= frame.train_images_per_s).all()
    assert (frame.train_images_per_s <= frame.train_images_per_s_max).all()
    assert len(pd.read_csv(tmp_path / "out" / "data_path_rounds.csv")) == 2 * (2 + N_CEILINGS)
    assert (frame.train_images_per_s > 0).all() and (frame.eval_images_per_s > 0).all()
    ways = frame.drop_duplicates("way").set_index("way").loader_images_per_s
    assert ways.pil > 0 and ways.cached > 0 and pd.isna(ways.ceiling)  # the data path alone; none for the ceiling
    ceilings = frame[frame.way == "ceiling"]
    assert sorted(ceilings.compute) == sorted(f"{f}/{p}" for f, p in data_path.ceiling_computes(DEVICE))
    for step in ("train", "eval"):  # the fastest ceiling is the reference: ratio 1, every other ceiling at most 1
        assert ceilings[f"{step}_ratio_to_ceiling"].max() == 1 and (ceilings[f"{step}_ratio_to_ceiling"] <= 1).all()
    auto = data_path.compute_name(DEVICE, "resnet18")
    assert list(frame[frame.way != "ceiling"].compute) == [auto, auto]  # the pipeline's choice, as runs make it
    assert (tmp_path / "out" / "data_path.png").stat().st_size > 0 and (tmp_path / "out" / "machine.json").is_file()
    assert "train_ratio_to_ceiling" in capsys.readouterr().out
    assert (
        list(frame.loader)
        == [
            "DataLoader",
            "DeviceBatches" if frame.device[0] == "cpu" else "ResidentBatches",
        ]
        + ["list"] * N_CEILINGS
    )


def test_a_rerun_resumes_the_measured_rounds_and_new_settings_start_over(tmp_path, monkeypatch):
    calls = []

    def fake(spec):
        calls.append(spec["way"])
        return {
            "train_images_per_s": 10.0,
            "eval_images_per_s": 5.0,
            "loader_images_per_s": 20.0,
            "peak_rss_mb": 1.0,
            "workers_peak_rss_mb": 0.0,
            "device": "cpu",
            "compute": f"{spec['memory_format']}/{spec['precision']}",
        }

    monkeypatch.setattr(data_path, "run_isolated", fake)
    out = ["--out", str(tmp_path / "out")]
    per_round = 2 + N_CEILINGS
    data_path.main([*TINY[:-1], "1", *out])
    assert len(calls) == per_round
    data_path.main([*TINY, *out])  # round 1 is kept, round 2 is measured
    assert len(calls) == 2 * per_round and len(pd.read_csv(tmp_path / "out" / "data_path_rounds.csv")) == 2 * per_round
    data_path.main([*TINY, "--steps", "2", *out])  # other settings: every round again
    assert len(calls) == 4 * per_round
    assert len(pd.read_csv(tmp_path / "out" / "data_path_rounds.csv")) == 2 * per_round


def tiny_spec(way: str, voc, work) -> dict:
    """One way measured for one step of batch 2 at 16 px, in the measured defaults of format and precision."""
    return {
        "way": way,
        "model": "resnet18",
        "size": 16,
        "batch_size": 2,
        "steps": 1,
        "warmup": 1,
        "workers": 0,
        "cached_workers": 0,
        "precision": "auto",
        "memory_format": "auto",
        "voc": str(voc),
        "work": str(work),
    }


def test_one_way_is_measured_in_a_fresh_process(tmp_path):
    voc = data_path.write_voc_like(tmp_path / "voc", n_train=8, n_val=2)
    spec = tiny_spec("cached", voc, tmp_path)
    result = data_path.run_isolated(spec)
    assert result["train_images_per_s"] > 0 and result["peak_rss_mb"] > 0 and result["device"] in ("cpu", "cuda")


def test_the_streamed_way_is_measured_and_names_its_loader(tmp_path):
    voc = data_path.write_voc_like(tmp_path / "voc", n_train=12, n_val=3)
    spec = tiny_spec("streamed", voc, tmp_path)
    result = data_path.measure(spec)
    assert result["train_images_per_s"] > 0 and result["loader_images_per_s"] > 0
    assert result["loader"] == "DeviceBatches"
