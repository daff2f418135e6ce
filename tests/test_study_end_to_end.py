"""End to end: `run_all.sh --all` over tiny profiles of two tracks, killed once and resumed, then the front page."""

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import unquote

import pytest

from lsml_core.answers import read_answer

REPO = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

MULTILABEL = """name: ml-tiny
description: two runs of a few batches; numbers mean nothing
data: {dataset: demo, root: demo-tiny, image_size: 32, n_train: 64, n_val: 32, selection_fraction: 0.25}
train: {pretrained: none, epochs: 2, batch_size: 16, max_batches: 2}
grid: {arms: [{model: resnet18, scheme: [none, uniform], alpha: 0.1}]}
"""
GROUPED = """track: grouped
name: gr-tiny
description: two runs of a few batches; numbers mean nothing
data: {n_labeled: 80, n_selection: 16, n_unlabeled: 40, n_test: 40}
train: {model: resnet18, batch_size: 16, max_batches: 2, epochs_plain: 1, epochs_augmented: 1, epochs_pseudo: 1,
        group_weights: {item: 5}, pseudo_precision: 0.05, pseudo_min_count: 2}
grid:
  arms:
    - {}
    - {sesemi: none}
"""
LEFT_OUT = MULTILABEL.replace("name: ml-tiny", "name: left-out\nstudy: none")
ON_GPU = MULTILABEL.replace("name: ml-tiny", "name: on-gpu\nstudy: gpu")
PROFILES = ("ml-tiny", "gr-tiny")
NUMBER = re.compile(r"[+-]\d+\.\d+")


def command(base: Path) -> list[str]:
    return [
        str(REPO / "run_all.sh"),
        "--all",
        "--configs",
        str(base / "configs"),
        "--results-dir",
        str(base / "results"),
        "--data-dir",
        str(base / "data"),
    ]


def kill_once_training(base: Path, timeout: float = 900) -> None:
    """Start `--all` and SIGKILL it (with its kernels) once its first run has written a checkpoint."""
    proc = subprocess.Popen(command(base), cwd=REPO, start_new_session=True, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while not list((base / "results").glob("*/runs/*/checkpoint_last.pt")):
        assert proc.poll() is None, "run_all.sh --all ended before its first checkpoint"
        assert time.monotonic() < deadline, "no checkpoint within the timeout"
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    base = tmp_path_factory.mktemp("study-e2e")
    configs = base / "configs"
    configs.mkdir()
    for name, text in (("ml-tiny", MULTILABEL), ("gr-tiny", GROUPED), ("left-out", LEFT_OUT), ("on-gpu", ON_GPU)):
        (configs / f"{name}.yaml").write_text(text)
    kill_once_training(base)
    proc = subprocess.run(command(base), capture_output=True, text=True, timeout=1500, cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return base / "results", proc


def page_text(path: Path) -> str:
    return re.sub(r"<[^>]+>", " ", path.read_text())


def test_every_study_profile_ran_once_in_order_and_the_others_were_left_out(study):
    results, proc = study
    assert [line.split(": ")[1] for line in proc.stdout.splitlines() if line.startswith("== profile")] == [
        "ml-tiny",
        "gr-tiny",
    ]
    assert "[1/2 ml-tiny; runs:" in proc.stdout
    assert not (results / "left-out").exists() and not (results / "on-gpu").exists()
    assert proc.stdout.strip().endswith(f"the study's front page: {results / 'index.html'}")


def test_front_page_names_every_track_regime_and_missing_profile(study):
    results, _ = study
    text = page_text(results / "index.html")
    for name in PROFILES:
        answer = read_answer(results / name)
        assert answer.title in text and f"{answer.regime} ({name})" in text
        assert answer.readings and all(sentence.split(":")[0] in text for sentence in answer.readings)
    assert "on-gpu" in text and "left-out" not in text


def test_front_page_numbers_are_each_profile_s_own_summary(study):
    results, _ = study
    text = page_text(results / "index.html")
    for name in PROFILES:
        answer = read_answer(results / name)
        own = page_text(results / name / "headline.html")
        compared = [e for e in answer.effects if not e.is_baseline]
        assert compared, f"{name}: no arm compared with its baseline"
        for effect in compared:
            assert effect.text in text
            assert all(number in own for number in NUMBER.findall(effect.text)), (name, effect.text)


def test_front_page_links_are_valid(study):
    results, _ = study
    links = [unquote(link) for link in re.findall(r'href="([^"#][^"]*)"', (results / "index.html").read_text())]
    local = [link for link in links if "://" not in link]
    assert {f"{name}/index.html" for name in PROFILES} <= set(local)
    assert all((results / link).is_file() for link in local), local


def test_answers_record_the_regime_of_every_profile(study):
    results, _ = study
    for name in PROFILES:
        values = json.loads((results / name / "answer.json").read_text())
        assert values["profile"] == name and values["regime"] and values["effects"]
