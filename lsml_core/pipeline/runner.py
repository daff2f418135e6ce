"""Regenerate a profile, for every track: data, records, the runs (by `scheduler` on an executor), then the
profile's exploration notebooks, the track's summary, the report notebooks and index.html.

A track describes itself with a `tracks.Track`; `run_profile` does the rest in the same order for all. The
steps every invocation shares (data, the profile's notebooks, the report) are done under locks, so two
invocations on one results folder never write the same file at once.
"""

from pathlib import Path

import yaml

from lsml_core import layout
from lsml_core.answers import clear_answer
from lsml_core.index_page import Link, clear_headline, write_index
from lsml_core.pipeline.executors import LocalExecutor
from lsml_core.pipeline.locks import held
from lsml_core.pipeline.notebooks import KERNEL, Failure, execute_all
from lsml_core.pipeline.provenance import write_provenance
from lsml_core.pipeline.renaming import rename_run_folders
from lsml_core.pipeline.run_task import train_run
from lsml_core.pipeline.scheduler import Scheduler, check_patterns
from lsml_core.pipeline.up_to_date import forget, profile_inputs, reasons, remember, shown
from lsml_core.profiles import profile_with_threads
from lsml_core.records import REPO_ROOT, atomic_write_text, environment_record, write_json
from lsml_core.tracks import Track

DATA_LOCK = "data"
PROFILE_LOCK = "profile"


def run_profile(
    track: Track,
    profile,
    results_dir: Path,
    data_dir: Path,
    *,
    force: bool = False,
    patterns: list[str] | None = None,
    kernel: str = KERNEL,
    executor=None,
    context: str = "",
    threads: int | None = None,
) -> list[Failure]:
    """Everything for one profile of a track, its runs on `executor` (local by default); returns the failures.
    `context` opens every progress line (`--all`: which profile of how many); `threads` (--threads)
    replaces the profile's CPU threads per run, recorded in each run's configuration."""
    check_patterns(track.run_names(profile), patterns)
    profile = profile_with_threads(profile, threads)
    cpus = profile.train.threads
    executor = executor or LocalExecutor(train_run)
    out = results_dir / profile.name
    out.mkdir(parents=True, exist_ok=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    with held(data_dir, DATA_LOCK, f"data in {data_dir}"):
        source = track.prepare(profile, data_dir)
    print(f"data: {source}", flush=True)
    scheduler = Scheduler(track, profile, out, data_dir, force=force, kernel=kernel, context=context)
    with held(out, PROFILE_LOCK, f"the records of {out}"):
        for old, new in rename_run_folders(out / layout.RUNS, profile.run_config).items():
            print(f"renamed {old} -> {new}: written under its earlier name; evaluated again (nothing retrained)")
        changed = scheduler.changed_folders()
        if changed:
            raise ValueError(f"{out} holds runs of another profile than this one:\n  " + "\n  ".join(changed))
        write_json(out / layout.ENVIRONMENT, environment_record(REPO_ROOT))
        atomic_write_text(out / layout.PROFILE, yaml.safe_dump(profile.to_dict(), sort_keys=False))
    slots = executor.slots(cpus)
    print(f"runs on the {executor.name} executor, {slots} at once, {cpus} CPU thread(s) each", flush=True)
    failures, planned = scheduler.run(executor, patterns)
    order = {name: i for i, name in enumerate(track.run_names(profile))}
    planned = sorted(planned, key=lambda name: order.get(name, len(order)))
    with held(out, PROFILE_LOCK, f"the notebooks of {out}"):
        inputs = profile_inputs(out, f"{source}\n{data_dir}", kernel)
        changes = reasons(force, bool(failures), out, inputs, profile_written(track))
        executed = bool(changes)
        if executed:
            print(f"notebooks of {profile.name}: executed ({shown(changes)})", flush=True)
            failures += execute_profile_notebooks(track, out, data_dir, kernel, cpus)
        else:
            print(f"notebooks of {profile.name}: up to date (its runs, profile, data and code unchanged), not executed")
        write_index(
            out,
            name=profile.name,
            description=profile.description,
            links=index_links(track, out),
            rows=index_rows(track, planned, out),
            failures=failures,
            source=source,
            warn=track.warning(source),
            title=track.title,
            score=track.index_score[0],
        )
        if executed and not failures:  # last, so the front page never reads a profile recorded without its index
            write_provenance(out)
            remember(out, inputs, profile_written(track))
    return failures


def execute_profile_notebooks(track: Track, out: Path, data_dir: Path, kernel: str, cpus: int) -> list[Failure]:
    """The profile's exploration notebooks, the track's summary, then its report notebooks; their failures."""
    forget(out)
    params = {"profile_dir": str(out), "data_dir": str(data_dir)}
    failures = execute_all(
        track.notebook_dir, track.profile_notebooks, out / layout.NOTEBOOKS, params, kernel=kernel, threads=cpus
    )
    if track.summarise is not None:
        track.summarise(out)
    clear_headline(out)
    clear_answer(out)
    (out / layout.PROVENANCE).unlink(missing_ok=True)
    failures += execute_all(
        track.notebook_dir, track.report_notebooks, out / layout.NOTEBOOKS, params, kernel=kernel, threads=cpus
    )
    return [f for f in failures if f is not None]


def profile_written(track: Track) -> list[str]:
    """The files a profile's notebooks and summary write, relative to the profile folder."""
    notebooks = [
        f"{layout.NOTEBOOKS}/{name}"
        for nb in track.profile_notebooks + track.report_notebooks
        for name in (layout.notebook(nb.name), layout.rendered(nb.name))
    ]
    return notebooks + list(layout.PROFILE_WRITTEN)


def index_links(track: Track, out: Path) -> list[Link]:
    """The reader-facing reports first, then the profile's other notebooks."""
    notebooks = sorted(track.report_notebooks + track.profile_notebooks, key=lambda nb: not nb.hide_code)
    return [Link(out / layout.NOTEBOOKS / layout.rendered(nb.name), nb.label) for nb in notebooks]


def index_rows(track: Track, planned: list[str], out: Path) -> list[tuple[str, str, str, list[Link]]]:
    """(run, status, score, notebook links) of every run the profile planned, then of any other run folder there."""
    names = planned + sorted(p.name for p in (out / layout.RUNS).glob("*/") if p.name not in planned)
    rows = []
    for name in names:
        run_dir = out / layout.RUNS / name
        status = "finished" if track.is_complete(run_dir) else ("incomplete" if run_dir.exists() else "not run")
        score = track.index_score[1](run_dir) if status == "finished" else ""
        rows.append(
            (name, status, score, [Link(run_dir / layout.rendered(nb.name), nb.label) for nb in track.run_notebooks])
        )
    return rows
