"""Regenerate a profile of the single-label track: teachers, the grid choice, students, report, index.

Called from `lsml_core.pipeline` when the profile says `track: multiclass`. Every run goes through
notebook 6.0 (train and evaluate), the report through notebook 7.0; finished runs are skipped unless
`force`, and a failed run does not stop the others.
"""
import fnmatch
import time
from dataclasses import asdict
from pathlib import Path

import yaml

from lsml_core.multiclass.config import Profile, RunConfig
from lsml_core.multiclass.data import load_splits
from lsml_core.multiclass.evaluation import is_complete
from lsml_core.multiclass.index_page import write_index
from lsml_core.multiclass.selection import student_runs
from lsml_core.pipeline import Failure, execute, run_each
from lsml_core.records import REPO_ROOT, atomic_write_text, environment_record, write_json

TRAIN, REPORT = "6.0-multiclass-train", "7.0-multiclass-report"


def matching(runs: list[RunConfig], patterns: list[str] | None) -> list[RunConfig]:
    """The runs whose names match one of the glob patterns (all without patterns)."""
    return [r for r in runs if not patterns or any(fnmatch.fnmatch(r.name, p) for p in patterns)]


def run_all(runs: list[RunConfig], out: Path, data_dir: Path, force: bool, kernel: str) -> list[Failure | None]:
    """Each run through notebook 6.0 (train and evaluate), skipping finished ones."""
    def train_and_evaluate(cfg: RunConfig, run_dir: Path) -> Failure | None:
        params = {"config": cfg.to_dict(), "run_dir": str(run_dir), "data_dir": str(data_dir)}
        return execute(TRAIN, run_dir / f"{TRAIN}.ipynb", params, kernel)
    return run_each(runs, out, force, is_complete, train_and_evaluate)


def run_multiclass_profile(profile: Profile, results_dir: Path, data_dir: Path, force: bool = False,
                           patterns: list[str] | None = None, kernel: str = "lsml") -> list[Failure]:
    """Everything for one profile of the track; returns the failures."""
    out = results_dir / profile.name
    out.mkdir(parents=True, exist_ok=True)
    source = load_splits(profile.data, data_dir).source
    print(f"data: {source}", flush=True)
    write_json(out / "environment.json", environment_record(REPO_ROOT))
    atomic_write_text(out / "profile.yaml", yaml.safe_dump({"track": "multiclass", **asdict(profile)}, sort_keys=False))
    start = time.perf_counter()
    failures = run_all(matching(profile.teacher_runs(), patterns), out, data_dir, force, kernel)
    failures += run_all(matching(student_runs(profile, out / "runs"), patterns), out, data_dir, force, kernel)
    print(f"runs: {time.perf_counter() - start:.0f} s", flush=True)
    params = {"profile_dir": str(out), "data_dir": str(data_dir)}
    failures.append(execute(REPORT, out / "notebooks" / f"{REPORT}.ipynb", params, kernel, hide_code=True))
    failures = [f for f in failures if f is not None]
    write_index(out, profile, failures, source)
    return failures
