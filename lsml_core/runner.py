"""Regenerate a profile, for every track: notebooks executed by papermill and rendered to HTML, the run
loop (skip finished runs, refuse a folder of another configuration, redo runs whose teacher was
retrained), the run selection, the failures, the index page.

A track describes itself with a `Track`; `run_profile` does the rest in the same order for all:
data, records, the profile's first notebooks, the runs (in phases: a later phase may depend on the
runs of an earlier one), the track's summary, the report notebooks, index.html.
"""

import fnmatch
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import papermill as pm
import yaml
from nbconvert import HTMLExporter

from lsml_core.fit import BEST_MODEL
from lsml_core.index_page import Link, clear_headline, write_index
from lsml_core.profiles import PROFILE_FILE
from lsml_core.records import REPO_ROOT, atomic_write_text, environment_record, file_sha256, read_json, write_json
from lsml_core.results import same_config

KERNEL = "lsml"
TEACHER_STAMP = "teacher.json"  # in a run that learnt from a teacher: which teacher model it saw
NOTEBOOK_DIR = REPO_ROOT / "notebooks"


@dataclass
class Failure:
    """A notebook execution that raised: what, where its executed notebook is, and the error."""

    what: str
    notebook: Path
    error: str


@dataclass(frozen=True)
class Notebook:
    """A notebook of a track (`notebooks/<track>/<name>.ipynb`) and what the index page calls it."""

    name: str
    label: str
    hide_code: bool = False


@dataclass(frozen=True)
class Track:
    """What the runner needs to know of a track.

    - `prepare(profile, data_dir)`: make sure the data exist; returns where they came from.
    - `phases(profile, runs_dir)`: callables, each giving the runs of one phase once the earlier ones ran.
    - `run_names(profile)`: every run the profile can have (for checking `--runs` patterns).
    - `summarise(profile_dir)`: tables written after the runs (e.g. summary.csv), or None.
    - `index_score`: (column header, run folder -> text) of the index page.
    """

    name: str
    title: str
    load_profile: Callable
    prepare: Callable
    phases: Callable
    run_names: Callable
    is_complete: Callable[[Path], bool]
    run_notebooks: tuple[Notebook, ...]
    profile_notebooks: tuple[Notebook, ...] = ()
    report_notebooks: tuple[Notebook, ...] = ()
    summarise: Callable | None = None
    index_score: tuple[str, Callable[[Path], str]] = ("", lambda run_dir: "")
    warning: Callable[[str], bool] = field(default=lambda source: False)


def render_html(notebook: Path, hide_code: bool = False) -> Path:
    """Render an executed notebook to HTML beside it (figures embedded); `hide_code` for reader-facing pages."""
    exporter = HTMLExporter(exclude_input=hide_code, exclude_input_prompt=hide_code, exclude_output_prompt=hide_code)
    body, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4))
    target = notebook.with_suffix(".html")
    atomic_write_text(target, body)
    return target


def execute(source: Path, output: Path, parameters: dict, kernel: str, hide_code: bool = False) -> Failure | None:
    """Execute one notebook with typed parameters and render it; a failure is returned, not raised."""
    output.parent.mkdir(parents=True, exist_ok=True)
    print(f"  {source.stem} -> {output}", flush=True)
    failure = None
    try:
        pm.execute_notebook(
            source,
            output,
            parameters=parameters,
            kernel_name=kernel,
            cwd=str(REPO_ROOT),
            progress_bar=False,
            start_timeout=300,
        )
    except pm.PapermillExecutionError as exc:
        failure = Failure(source.stem, output, f"{exc.ename}: {exc.evalue}")
    if output.is_file():
        render_html(output, hide_code)
    return failure


def execute_all(
    track: Track,
    notebooks: tuple[Notebook, ...],
    folder: Path,
    parameters: dict,
    kernel: str,
    stop_on_failure: bool = False,
) -> list[Failure | None]:
    """Execute a track's notebooks into `folder` one after the other (up to the first failure if asked)."""
    failures = []
    for notebook in notebooks:
        failures.append(
            execute(
                NOTEBOOK_DIR / track.name / f"{notebook.name}.ipynb",
                folder / f"{notebook.name}.ipynb",
                parameters,
                kernel,
                notebook.hide_code,
            )
        )
        if stop_on_failure and failures[-1] is not None:
            break
    return failures


def teacher_fingerprint(cfg, run_dir: Path) -> dict | None:
    """For a run that learns from a teacher run: its name and a hash of its best model (None without one)."""
    teacher = getattr(cfg.train, "teacher", None)
    if not teacher:
        return None
    best = run_dir.parent / teacher / BEST_MODEL
    return {"teacher": teacher, "model_best_sha256": file_sha256(best) if best.is_file() else None}


def teacher_changed(cfg, run_dir: Path) -> bool:
    """True when a finished run's teacher was retrained (by --force) after the run learnt from it."""
    stamp = run_dir / TEACHER_STAMP
    return stamp.is_file() and read_json(stamp) != teacher_fingerprint(cfg, run_dir)


def run_each(
    runs: list,
    out: Path,
    force: bool,
    complete: Callable[[Path], bool],
    run_one: Callable[[object, Path], Failure | None],
) -> list[Failure | None]:
    """`run_one(cfg, out/runs/<name>)` for each run: finished ones skipped and folders of another
    configuration refused unless `force`, which starts each run afresh. A finished run whose teacher
    was retrained since is redone too, so the runs built on a teacher never outlive it."""
    failures = []
    for i, cfg in enumerate(runs, 1):
        run_dir = out / "runs" / cfg.name
        if not force and not same_config(run_dir, cfg):
            failures.append(
                Failure(
                    cfg.name,
                    run_dir / "config.json",
                    "the run folder holds results of a different "
                    "configuration; rerun with --force to redo it, or use another --results-dir",
                )
            )
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


def check_patterns(names: list[str], patterns: list[str] | None) -> None:
    """Raise ValueError when `--runs` patterns match none of the profile's run names."""
    if patterns and not any(fnmatch.fnmatch(n, p) for n in names for p in patterns):
        raise ValueError(f"--runs {patterns} matches none of: {', '.join(names)}")


def matching(runs: list, patterns: list[str] | None) -> list:
    """The runs whose names match one of the glob patterns (all without patterns)."""
    return [r for r in runs if not patterns or any(fnmatch.fnmatch(r.name, p) for p in patterns)]


def run_profile(
    track: Track,
    profile,
    results_dir: Path,
    data_dir: Path,
    force: bool = False,
    patterns: list[str] | None = None,
    kernel: str = KERNEL,
) -> list[Failure]:
    """Everything for one profile of a track; returns the failures."""
    check_patterns(track.run_names(profile), patterns)
    out = results_dir / profile.name
    out.mkdir(parents=True, exist_ok=True)
    source = track.prepare(profile, data_dir)
    print(f"data: {source}", flush=True)
    write_json(out / "environment.json", environment_record(REPO_ROOT))
    atomic_write_text(out / PROFILE_FILE, yaml.safe_dump(profile.to_dict(), sort_keys=False))
    params = {"profile_dir": str(out), "data_dir": str(data_dir)}
    failures = execute_all(track, track.profile_notebooks, out / "notebooks", params, kernel)

    def run_one(cfg, run_dir: Path) -> Failure | None:
        run_params = {"config": cfg.to_dict(), "run_dir": str(run_dir), "data_dir": str(data_dir)}
        return next(filter(None, execute_all(track, track.run_notebooks, run_dir, run_params, kernel, True)), None)

    start, planned = time.perf_counter(), []
    for phase in track.phases(profile, out / "runs"):
        runs = phase()
        planned += [cfg.name for cfg in runs]
        failures += run_each(matching(runs, patterns), out, force, track.is_complete, run_one)
    print(f"runs: {time.perf_counter() - start:.0f} s", flush=True)
    if track.summarise is not None:
        track.summarise(out)
    clear_headline(out)
    failures += execute_all(track, track.report_notebooks, out / "notebooks", params, kernel)
    failures = [f for f in failures if f is not None]
    write_index(
        out,
        profile.name,
        profile.description,
        index_links(track, out),
        index_rows(track, planned, out),
        failures,
        source,
        track.warning(source),
        track.title,
        track.index_score[0],
    )
    return failures


def index_links(track: Track, out: Path) -> list[Link]:
    """The reader-facing reports first, then the profile's other notebooks."""
    notebooks = sorted(track.report_notebooks + track.profile_notebooks, key=lambda nb: not nb.hide_code)
    return [Link(out / "notebooks" / f"{nb.name}.html", nb.label) for nb in notebooks]


def index_rows(track: Track, planned: list[str], out: Path) -> list[tuple[str, str, str, list[Link]]]:
    """(run, status, score, notebook links) of every run the profile planned, then of any other run folder there."""
    names = planned + sorted(p.name for p in (out / "runs").glob("*/") if p.name not in planned)
    rows = []
    for name in names:
        run_dir = out / "runs" / name
        status = "finished" if track.is_complete(run_dir) else ("incomplete" if run_dir.exists() else "not run")
        score = track.index_score[1](run_dir) if status == "finished" else ""
        rows.append((name, status, score, [Link(run_dir / f"{nb.name}.html", nb.label) for nb in track.run_notebooks]))
    return rows
