"""Regenerate a profile: every notebook through papermill, rendered to HTML, linked from index.html.

Called by run_all.sh (`python -m lsml_core --profile demo`). The profile's `track:` chooses the track.
A finished run is checked against the record of what it produced: skipped when intact, repaired when
damaged (`--verify` only lists what a rerun would repair); --force redoes it. A failed run does not stop
the others; failures are listed at the end and make the exit status non-zero. `--executor ray` runs several runs at once on Ray (this
machine, or a cluster with --address).
"""

import argparse
import sys
from pathlib import Path

from lsml_core import front_page, layout, tracks
from lsml_core.pipeline.changes import list_changes
from lsml_core.pipeline.executors import ExecutorError, make_executor
from lsml_core.pipeline.notebooks import KERNEL, disk_full, explained
from lsml_core.pipeline.run_task import train_run
from lsml_core.pipeline.runner import run_profile
from lsml_core.pipeline.study import render_front_page, run_study, study_order
from lsml_core.pipeline.verify import verify_profile
from lsml_core.profiles import CONFIG_DIR, profile_with_threads
from lsml_core.records import REPO_ROOT


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m lsml_core", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", help="profile name in configs/ or a YAML path (default: demo)")
    parser.add_argument(
        "--all", action="store_true", help="every profile of the study (configs/ with study: cpu, and gpu with a GPU)"
    )
    parser.add_argument("--configs", type=Path, default=CONFIG_DIR, help="with --all: the folder of profiles")
    parser.add_argument(
        "--results-dir", type=Path, default=REPO_ROOT / "results", help="where results go (default: results/)"
    )
    parser.add_argument(
        "--data-dir", type=Path, default=REPO_ROOT / "data", help="where data sets live (default: data/)"
    )
    parser.add_argument("--force", action="store_true", help="redo finished runs")
    parser.add_argument(
        "--verify",
        action="store_true",
        help="check every run against the record of what it produced and list what a rerun would repair; "
        "change nothing (exit status 1 when something is damaged)",
    )
    parser.add_argument(
        "--changes",
        action="store_true",
        help="list the verdicts of the results folder that differ from the answer committed in git (results/); "
        "change nothing (exit status 1 when one differs)",
    )
    parser.add_argument("--runs", nargs="+", metavar="GLOB", help="only the runs whose names match, e.g. 'resnet18-*'")
    parser.add_argument("--kernel", default=KERNEL, help=f"Jupyter kernel for papermill (default: {KERNEL})")
    parser.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help="local: runs in this process, as many at once as the CPUs hold (default); ray: runs as Ray tasks",
    )
    parser.add_argument(
        "--address", help="with ray: a running Ray cluster to join ('auto' or HOST:PORT); default: start one here"
    )
    parser.add_argument(
        "--threads",
        type=int,
        help="CPU threads of each run, in place of the profile's train.threads (default 1), recorded in its configuration",
    )
    parser.add_argument("--cpus-per-run", type=int, help=argparse.SUPPRESS)  # renamed --threads: refused naming it
    parser.add_argument(
        "--gpus-per-run",
        type=float,
        help="with ray: GPUs of each run, fractions pack several on one GPU (default: 1 if the cluster has GPUs, else 0)",
    )
    args = parser.parse_args(argv)
    if args.all and (args.profile or args.runs):
        parser.error("--all regenerates every profile: leave out --profile and --runs")
    if args.cpus_per_run is not None:
        parser.error(
            f"--cpus-per-run was renamed --threads (the profile's train.threads): --threads {args.cpus_per_run}"
        )
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads {args.threads} must be at least 1")
    args.profile = args.profile or "demo"
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results_dir, data_dir = args.results_dir.resolve(), args.data_dir.resolve()
    executor = None
    try:
        if args.verify:
            return verify(args, results_dir, data_dir)
        if args.changes:
            return int(list_changes(results_dir) > 0)
        if args.all:
            front_page.study_profiles(args.configs)  # a bad `study:` key is refused before any work
            executor = make_executor(args.executor, train_run, args.address, args.gpus_per_run)
            failures = run_study(
                results_dir,
                data_dir,
                executor=executor,
                kernel=args.kernel,
                force=args.force,
                config_dir=args.configs,
                threads=args.threads,
            )
            index = results_dir / layout.rendered(layout.STUDY_PAGE)
        else:
            track, profile = tracks.load_profile(args.profile)
            executor = make_executor(args.executor, train_run, args.address, args.gpus_per_run)
            failures = run_profile(
                track,
                profile,
                results_dir,
                data_dir,
                force=args.force,
                patterns=args.runs,
                kernel=args.kernel,
                executor=executor,
                threads=args.threads,
            )
            failures += [f for f in [render_front_page(results_dir, args.kernel, force=args.force)] if f is not None]
            index = results_dir / profile.name / layout.INDEX
    except (ValueError, FileNotFoundError, ExecutorError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a record, summary or page written here on a full disk: said so, without a traceback
        if not disk_full(exc):
            raise
        print(f"error: {explained(exc, f'{type(exc).__name__}: {exc}', results_dir)}", file=sys.stderr)
        return 2
    finally:
        if executor is not None:
            executor.close()
    return report(failures, index, results_dir / layout.rendered(layout.STUDY_PAGE))


def verify(args: argparse.Namespace, results_dir: Path, data_dir: Path) -> int:
    """--verify: the state of every run of the profile (with --all, of every study profile) and of what its
    runs share in `data_dir` (pretraining stages); 1 when one is damaged."""
    paths = study_order(args.configs, gpu=True) if args.all else [args.profile]
    damaged = False
    for path in paths:
        track, profile = tracks.load_profile(path)
        if args.all:
            print(f"== {profile.name}")
        profile = profile_with_threads(profile, args.threads)  # the stages' names hash the runs' threads
        damaged |= verify_profile(track, profile, results_dir, args.runs, data_dir=data_dir)
    return int(damaged)


def report(failures: list, index: Path, front: Path) -> int:
    """List the failures (exit status 1) or name the pages to read (0)."""
    if failures:
        print(f"\n{len(failures)} failure(s):", file=sys.stderr)
        for failure in failures:
            print(f"  {failure.what}: {failure.error}\n    see {failure.notebook}", file=sys.stderr)
    state = " (incomplete)" if failures else ""
    if index != front:
        print(f"report{state}: {index}")
    print(f"the study's front page{state}: {front}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
