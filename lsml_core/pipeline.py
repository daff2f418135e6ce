"""Regenerate a profile: every notebook through papermill, rendered to HTML, linked from index.html.

Called by run_all.sh (`python -m lsml_core.pipeline --profile demo`). Finished runs are skipped
unless --force; a failed run does not stop the others; failures are listed at the end and make
the exit status non-zero.
"""
import argparse
import fnmatch
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import nbformat
import papermill as pm
import yaml
from nbconvert import HTMLExporter

from lsml_core.config import Profile, RunConfig, load_profile
from lsml_core.data import prepare
from lsml_core.evaluation import is_complete, same_config
from lsml_core.index_page import write_index
from lsml_core.multiclass import config as multiclass
from lsml_core.records import REPO_ROOT, atomic_write_text, environment_record, file_sha256, read_json, write_json
from lsml_core.report import summary_frame
from lsml_core.training import BEST_MODEL

KERNEL = "lsml"
TEACHER_STAMP = "teacher.json"   # in a run that learnt from a teacher: which teacher model it saw
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
EXPLORE, TRAIN, EVALUATE, PR_CURVES, REPORT = (
    "1.0-explore-labels", "2.0-train", "3.0-evaluate", "4.0-precision-recall", "5.0-report")


@dataclass
class Failure:
    """A notebook execution that raised: what, where its executed notebook is, and the error."""
    what: str
    notebook: Path
    error: str


def render_html(notebook: Path, hide_code: bool = False) -> Path:
    """Render an executed notebook to HTML beside it (figures embedded); `hide_code` for reader-facing pages."""
    exporter = HTMLExporter(exclude_input=hide_code, exclude_input_prompt=hide_code, exclude_output_prompt=hide_code)
    body, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4))
    target = notebook.with_suffix(".html")
    atomic_write_text(target, body)
    return target


def execute(name: str, output: Path, parameters: dict, kernel: str, hide_code: bool = False) -> Failure | None:
    """Execute one notebook with typed parameters and render it; a failure is returned, not raised."""
    output.parent.mkdir(parents=True, exist_ok=True)
    print(f"  {name} -> {output}", flush=True)
    failure = None
    try:
        pm.execute_notebook(NOTEBOOK_DIR / f"{name}.ipynb", output, parameters=parameters, kernel_name=kernel,
                            cwd=str(REPO_ROOT), progress_bar=False, start_timeout=300)
    except pm.PapermillExecutionError as exc:
        failure = Failure(name, output, f"{exc.ename}: {exc.evalue}")
    if output.is_file():
        render_html(output, hide_code)
    return failure


def run_experiment(cfg: RunConfig, run_dir: Path, data_dir: Path, kernel: str) -> Failure | None:
    """Train then evaluate one run through notebooks 2 and 3."""
    params = {"config": cfg.to_dict(), "run_dir": str(run_dir), "data_dir": str(data_dir)}
    return (execute(TRAIN, run_dir / f"{TRAIN}.ipynb", params, kernel)
            or execute(EVALUATE, run_dir / f"{EVALUATE}.ipynb", params, kernel))


def teacher_fingerprint(cfg, run_dir: Path) -> dict | None:
    """For a run that learns from a teacher run: its name and a hash of its best model (None without one)."""
    teacher = getattr(getattr(cfg, "train", None), "teacher", None)
    if not teacher:
        return None
    best = run_dir.parent / teacher / BEST_MODEL
    return {"teacher": teacher, "model_best_sha256": file_sha256(best) if best.is_file() else None}


def teacher_changed(cfg, run_dir: Path) -> bool:
    """True when a finished run's teacher was retrained (by --force) after the run learnt from it."""
    stamp = run_dir / TEACHER_STAMP
    return stamp.is_file() and read_json(stamp) != teacher_fingerprint(cfg, run_dir)


def run_each(runs: list, out: Path, force: bool, complete: Callable[[Path], bool],
             run_one: Callable[[object, Path], Failure | None]) -> list[Failure | None]:
    """`run_one(cfg, out/runs/<name>)` for each run: finished ones skipped and folders of another
    configuration refused unless `force`, which starts each run afresh. A finished run whose teacher
    was retrained since is redone too, so instance-based runs and students never outlive their teacher."""
    failures = []
    for i, cfg in enumerate(runs, 1):
        run_dir = out / "runs" / cfg.name
        if not force and not same_config(run_dir, cfg):
            failures.append(Failure(cfg.name, run_dir / "config.json", "the run folder holds results of a different "
                                    "configuration; rerun with --force to redo it, or use another --results-dir"))
            continue
        finished = complete(run_dir)
        stale = finished and teacher_changed(cfg, run_dir)
        if finished and not force and not stale:
            print(f"[{i}/{len(runs)}] {cfg.name}: finished, skipped (--force redoes it)", flush=True)
            continue
        if force or stale:
            shutil.rmtree(run_dir, ignore_errors=True)
        print(f"[{i}/{len(runs)}] {cfg.name}" + (": its teacher was retrained, redone" if stale else ""), flush=True)
        start = time.perf_counter()
        failures.append(run_one(cfg, run_dir))
        fingerprint = teacher_fingerprint(cfg, run_dir) if failures[-1] is None else None
        if fingerprint is not None:
            write_json(run_dir / TEACHER_STAMP, fingerprint)
        print(f"  {time.perf_counter() - start:.0f} s", flush=True)
    return failures


def selected_runs(profile: Profile, patterns: list[str] | None) -> list[RunConfig]:
    """The profile's runs, kept to those whose names match one of the glob patterns."""
    runs = profile.runs()
    if not patterns:
        return runs
    kept = [r for r in runs if any(fnmatch.fnmatch(r.name, p) for p in patterns)]
    if not kept:
        raise ValueError(f"--runs {patterns} matches none of: {', '.join(r.name for r in runs)}")
    return kept


def run_profile(profile: Profile, results_dir: Path, data_dir: Path, force: bool = False,
                patterns: list[str] | None = None, kernel: str = KERNEL) -> list[Failure]:
    """Everything for one profile; returns the failures."""
    out = results_dir / profile.name
    out.mkdir(parents=True, exist_ok=True)
    root, _, source = prepare(profile.data, data_dir)
    print(f"data: {source} at {root}", flush=True)
    write_json(out / "environment.json", environment_record(REPO_ROOT))
    atomic_write_text(out / "profile.yaml", yaml.safe_dump(asdict(profile), sort_keys=False))
    profile_params = {"profile": profile.name, "profile_dir": str(out), "data_dir": str(data_dir)}
    failures = [execute(EXPLORE, out / "notebooks" / f"{EXPLORE}.ipynb", profile_params, kernel)]
    runs = selected_runs(profile, patterns)
    failures += run_each(runs, out, force, is_complete, lambda cfg, run_dir: run_experiment(cfg, run_dir, data_dir, kernel))
    atomic_write_text(out / "summary.csv", summary_frame(out).to_csv(index=False, float_format="%.4f"))
    failures.append(execute(PR_CURVES, out / "notebooks" / f"{PR_CURVES}.ipynb", profile_params, kernel))
    failures.append(execute(REPORT, out / "notebooks" / f"{REPORT}.ipynb", profile_params, kernel, hide_code=True))
    failures = [f for f in failures if f is not None]
    write_index(out, profile, failures, source)
    return failures


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m lsml_core.pipeline", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="demo", help="profile name in configs/ or a YAML path (default: demo)")
    parser.add_argument("--results-dir", type=Path, default=REPO_ROOT / "results", help="where results go (default: results/)")
    parser.add_argument("--data-dir", type=Path, default=REPO_ROOT / "data", help="where data sets live (default: data/)")
    parser.add_argument("--force", action="store_true", help="redo finished runs")
    parser.add_argument("--runs", nargs="+", metavar="GLOB", help="only the runs whose names match, e.g. 'resnet18-*'")
    parser.add_argument("--kernel", default=KERNEL, help=f"Jupyter kernel for papermill (default: {KERNEL})")
    return parser.parse_args(argv)


def load_any_profile(name_or_path: str):
    """A profile and the function that runs it: the single-label track when its YAML says `track: multiclass`."""
    if multiclass.is_multiclass(name_or_path):
        from lsml_core.multiclass.pipeline import run_multiclass_profile  # imported here: it imports this module
        return multiclass.load_profile(name_or_path), run_multiclass_profile
    return load_profile(name_or_path), run_profile


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        profile, runner = load_any_profile(args.profile)
        failures = runner(profile, args.results_dir.resolve(), args.data_dir.resolve(),
                          args.force, args.runs, args.kernel)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    index = args.results_dir.resolve() / profile.name / "index.html"
    if failures:
        print(f"\n{len(failures)} notebook(s) failed:", file=sys.stderr)
        for failure in failures:
            print(f"  {failure.what}: {failure.error}\n    see {failure.notebook}", file=sys.stderr)
        print(f"report (incomplete): {index}")
        return 1
    print(f"report: {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
