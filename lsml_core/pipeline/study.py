"""`run_all.sh --all`: every profile of the study in one invocation, the study's front page rewritten after each
(`render_front_page`, also after a single profile's run).

The profiles are those of `configs/` whose `study:` key is cpu (and gpu where a GPU is present), in an order that
shares work: by track, then by the data they read (a data set generated once, and a run computed once
(`sharing`), serve the next profile at once), then by name. Each profile runs as `run_all.sh --profile` would, so kills, reruns and concurrent invocations
behave the same; a profile that cannot start or whose notebooks fail does not stop the others, and every
failure is listed at the end.
"""

from pathlib import Path

import torch

from lsml_core import front_page, layout, tracks
from lsml_core.pipeline.locks import held
from lsml_core.pipeline.notebook_list import NOTEBOOK_DIR
from lsml_core.pipeline.notebooks import Failure, execute, render_markdown
from lsml_core.pipeline.readme import update_readme
from lsml_core.pipeline.runner import run_profile
from lsml_core.pipeline.up_to_date import forget, reasons, remember, shown, study_inputs
from lsml_core.profiles import CONFIG_DIR

FRONT_PAGE = NOTEBOOK_DIR / layout.notebook("front-page")
LOCK = "front-page"


def gpu_present(executor) -> bool:
    """Whether the runs can use a GPU: the Ray cluster's runs ask for one, or this machine has one (local)."""
    gpus = getattr(executor, "gpus", None)
    return bool(gpus) if gpus is not None else torch.cuda.is_available()


def study_order(config_dir: Path, gpu: bool) -> list[Path]:
    """The YAML files `--all` regenerates, in the order that shares work (module docstring); a profile that does
    not read comes last (its run names the problem)."""
    kinds = ("cpu", "gpu") if gpu else ("cpu",)
    paths = [Path(config_dir) / f"{n}.yaml" for n, k in front_page.study_profiles(config_dir).items() if k in kinds]
    rank = {name: i for i, name in enumerate(tracks.NAMES)}

    def key(path: Path) -> tuple:
        try:
            track, profile = tracks.load_profile(path)
        except (ValueError, FileNotFoundError):
            return len(rank), "", path.stem
        return rank[track.name], str(getattr(profile.data, "root", "")), profile.name

    return sorted(paths, key=key)


def run_study(
    results_dir: Path,
    data_dir: Path,
    *,
    executor,
    kernel: str,
    force: bool = False,
    config_dir: Path = CONFIG_DIR,
    threads: int | None = None,
) -> list[Failure]:
    """Every profile of `study_order` on one executor (`threads`: --threads), the front page rewritten
    after each; the failures of all."""
    paths = study_order(config_dir, gpu_present(executor))
    failures: list[Failure] = []
    for i, path in enumerate(paths, 1):
        print(f"\n== profile {i} of {len(paths)}: {path.stem}", flush=True)
        try:
            track, profile = tracks.load_profile(path)
            failures += run_profile(
                track,
                profile,
                results_dir,
                data_dir,
                force=force,
                kernel=kernel,
                executor=executor,
                context=f"{i}/{len(paths)} {path.stem}",
                threads=threads,
            )
        except (ValueError, FileNotFoundError) as exc:
            print(f"error: {exc}", flush=True)
            failures.append(Failure(f"profile {path.stem}", path, str(exc)))
        failures += [f for f in [render_front_page(results_dir, kernel, config_dir, force)] if f is not None]
    return failures


def front_page_written(results_dir: Path) -> list[str]:
    """The files the front page writes, relative to the results folder: its notebook, its HTML and Markdown
    renderings and the figures the Markdown shows."""
    figures = layout.markdown_figures(layout.STUDY_PAGE)
    figure_files = sorted(path.relative_to(results_dir).as_posix() for path in (results_dir / figures).glob("*"))
    pages = [layout.notebook(layout.STUDY_PAGE), layout.rendered(layout.STUDY_PAGE), layout.markdown(layout.STUDY_PAGE)]
    return pages + figure_files


def render_front_page(
    results_dir: Path, kernel: str, config_dir: Path = CONFIG_DIR, force: bool = False
) -> Failure | None:
    """Execute the front-page notebook into results_dir/index.ipynb and render index.html and index.md (its figures
    in index_files/) beside it, unless nothing it reads changed (`up_to_date`; `force` executes it), under the
    results folder's lock so that two invocations never write it together; then, in this checkout's own results/,
    bring the README's generated sections up to date. Its failure, or None."""
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    params = {"results_dir": str(results_dir), "config_dir": str(config_dir)}
    page = results_dir / layout.notebook(layout.STUDY_PAGE)
    with held(results_dir, LOCK, f"the front page of {results_dir}"):
        inputs = study_inputs(results_dir, config_dir, kernel)
        failure = None
        changes = reasons(force, False, results_dir, inputs, front_page_written(results_dir))
        if not changes:
            print("front page: up to date (the study's answers and the code unchanged), not executed")
        else:
            print(f"front page: executed ({shown(changes)})", flush=True)
            forget(results_dir)
            failure = execute(FRONT_PAGE, page, params, kernel, hide_code=True)
            if failure is None:
                render_markdown(page)
                remember(results_dir, inputs, front_page_written(results_dir))
        try:
            update_readme(results_dir)
        except (OSError, ValueError, KeyError) as exc:
            print(f"warning: README.md's generated sections were not written ({type(exc).__name__}: {exc})")
        return failure
