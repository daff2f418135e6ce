"""Every registered track meets the contract of lsml_core/tracks.py (its `TRACK`'s fields, the modules of `MODULES`,
the files of `FILES`), a track that misses a duty is refused naming it, docs/extending.md lists the same duties and
the pipeline gives the notebooks the parameters the contract names."""

import ast
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from importlib import import_module
from inspect import signature
from pathlib import Path
from types import SimpleNamespace, UnionType

import nbformat
import pytest

from lsml_core import tracks
from lsml_core.answers import Answer
from lsml_core.outputs import RUN_OUTPUTS
from lsml_core.pipeline import run_task, runner
from lsml_core.pipeline.executors import LocalExecutor
from lsml_core.pipeline.notebook_list import Notebook
from lsml_core.profiles import ProfileBase, RunConfigBase, read_profile_yaml
from lsml_core.threads import on_run_threads
from lsml_core.tracks import FILES, MODULES, PROFILE_PARAMETERS, RUN_PARAMETERS, Track

REPO = Path(__file__).resolve().parent.parent
THREADED = on_run_threads(lambda cfg: None).__code__  # the code of every step `on_run_threads` wraps
MISSING = object()


@dataclass(frozen=True)
class Candidate:
    """A track to check: its name, its modules (`load("train")`) and the checkout its files live in."""

    name: str
    load: Callable[[str], object]
    root: Path = REPO

    def path(self, template: str) -> Path:
        return self.root / template.replace("<track>", self.name)


def registered(name: str) -> Candidate:
    """A registered track, its modules imported from lsml_core/<name>/."""
    return Candidate(name, lambda module: import_module(f"lsml_core.{name}.{module}"))


def members(protocol: type) -> list[str]:
    """The names a protocol declares: its annotated attributes and its methods."""
    return [
        name for name in {**vars(protocol).get("__annotations__", {}), **vars(protocol)} if not name.startswith("_")
    ]


def callable_problem(value, hint) -> str | None:
    """Why `value` cannot be called as the `Callable[[...], R]` hint says (with that many arguments)."""
    if not callable(value):
        return f"is {value!r}, not callable"
    arguments = typing.get_args(hint)[0]
    if arguments is Ellipsis:
        return None
    try:
        signature(value).bind(*[None] * len(arguments))
    except TypeError:
        return f"cannot be called with {len(arguments)} argument(s), as the contract's {hint} says"
    return None


def type_problem(value, hint) -> str | None:
    """Why `value` is not of the contract's type `hint` (None when it is)."""
    origin, arguments = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, UnionType):
        if value is None and type(None) in arguments:
            return None
        return type_problem(value, next(a for a in arguments if a is not type(None)))
    if origin is Callable:
        return callable_problem(value, hint)
    if origin is tuple:
        if not isinstance(value, tuple):
            return f"is {value!r}, not a tuple"
        each = arguments[:1] * len(value) if arguments[1:] == (Ellipsis,) else arguments
        if len(each) != len(value):
            return f"is {value!r}, not a tuple of {len(each)}"
        return next(filter(None, map(type_problem, value, each)), None)
    return None if isinstance(value, hint) else f"is {value!r}, not a {hint.__name__}"


def signature_problem(value, method) -> str | None:
    """Why a module's function does not take the arguments of the protocol's `method` first, in its order."""
    expected = list(signature(method).parameters)[1:]
    given = list(signature(value).parameters)
    if given[: len(expected)] != expected:
        return f"takes ({', '.join(given)}), not ({', '.join(expected)}, ...)"
    return None


def threaded(value) -> str | None:
    """A run step computes on its run's CPU threads."""
    if getattr(value, "__code__", None) is not THREADED:
        return "is not decorated with @threads.on_run_threads (its numbers would depend on the caller's threads)"
    return None


def returns_answer(value) -> str | None:
    """The answer writer's return type."""
    if typing.get_type_hints(value).get("return") is not Answer:
        return "is not annotated to return an answers.Answer (what answers.write_answer writes)"
    return None


MEMBER_CHECKS = {"train.train_run": threaded, "evaluate.evaluate_run": threaded, "answer.answer": returns_answer}


def member_problem(value, protocol: type, member: str) -> str | None:
    """Why a module's `member` does not meet its protocol: missing, of another type or signature, or its extra check."""
    if value is MISSING:
        return "is missing"
    declared = vars(protocol).get(member)
    if callable(declared):
        problem = signature_problem(value, declared) if callable(value) else f"is {value!r}, not a function"
    else:
        problem = type_problem(value, typing.get_type_hints(protocol)[member])
    return problem or MEMBER_CHECKS.get(f"{protocol_module(protocol)}.{member}", lambda value: None)(value)


def protocol_module(protocol: type) -> str:
    return next(module for module, p in MODULES.items() if p is protocol)


def module_problems(track: Candidate) -> list[str]:
    """Every duty of `MODULES` the track's modules miss."""
    found = []
    for module, protocol in MODULES.items():
        where = f"lsml_core/{track.name}/{module}.py"
        try:
            loaded = track.load(module)
        except ModuleNotFoundError:
            owed = ", ".join(f"`{member}`" for member in members(protocol))
            found.append(f"{where} is missing: it owes {owed}, {protocol.__doc__.split(': ', 1)[-1]}")
            continue
        for member in members(protocol):
            problem = member_problem(getattr(loaded, member, MISSING), protocol, member)
            if problem:
                found.append(f"{where}: `{member}` {problem}")
    return found


def first_profile(track: Candidate, value: Track) -> ProfileBase | None:
    """The track's first profile in configs/, as its `load_profile` reads it (None without one: `FILES` says so)."""
    paths = [p for p in sorted((track.root / "configs").glob("*.yaml")) if read_profile_yaml(p)[0] == track.name]
    return value.load_profile(paths[0]) if paths else None


def parameters(notebook: Path) -> set[str] | None:
    """The names a notebook's `parameters` cell assigns (None without such a cell)."""
    cells = nbformat.read(notebook, as_version=4).cells
    cell = next((c for c in cells if "parameters" in c.metadata.get("tags", [])), None)
    if cell is None:
        return None
    assigned = [node.targets for node in ast.walk(ast.parse(cell.source)) if isinstance(node, ast.Assign)]
    return {target.id for targets in assigned for target in targets if isinstance(target, ast.Name)}


def notebook_problems(track: Candidate, notebooks: tuple[Notebook, ...], names: tuple[str, ...]) -> str | None:
    """Why the notebooks of a `Track` field are not all there with a `parameters` cell assigning `names`."""
    for notebook in notebooks:
        path = track.path(f"notebooks/<track>/{notebook.name}.ipynb")
        if not path.is_file():
            return f"names {path.relative_to(track.root)}, which is missing"
        assigned = parameters(path)
        if assigned is None or not set(names) <= assigned:
            return f"names {path.relative_to(track.root)}, whose `parameters` cell does not assign {', '.join(names)}"
    return None


def calls(notebook: Path, function: str) -> bool:
    """Whether a notebook's code calls `function` (by name or as a module's attribute)."""
    code = "\n".join(c.source for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code")
    return re.search(rf"\b{function}\(", code) is not None


def report_problems(track: Candidate, value: Track) -> str | None:
    """The reports: there, with their parameters, and one shown without code writing the answer and the headline."""
    problem = notebook_problems(track, value.report_notebooks, PROFILE_PARAMETERS)
    if problem:
        return problem
    shown = [track.path(f"notebooks/<track>/{nb.name}.ipynb") for nb in value.report_notebooks if nb.hide_code]
    if not any(calls(path, "write_answer") and calls(path, "write_headline") for path in shown):
        return "has no notebook shown without code (hide_code) that calls write_answer and write_headline"
    return None


def plan_problems(track: Candidate, value: Track) -> str | None:
    """The runs planned before any settled are run configurations named by `run_names`."""
    profile = first_profile(track, value)
    if profile is None:
        return None
    runs = value.plan(profile, track.root / "no-such-results" / "runs", lambda name: False)
    if not all(isinstance(run, RunConfigBase) for run in runs):
        return "plans runs that are not run configurations (profiles.RunConfigBase)"
    unnamed = sorted({run.name for run in runs} - set(value.run_names(profile)))
    return f"plans runs that `run_names` does not list: {unnamed}" if unnamed else None


def run_name_problems(track: Candidate, value: Track) -> str | None:
    """The run names of the track's first profile: a non-empty list of text."""
    profile = first_profile(track, value)
    names = value.run_names(profile) if profile is not None else ["fine"]
    return None if names and all(isinstance(n, str) for n in names) else f"gives {names!r}, not a list of run names"


def profile_problems(track: Candidate, value: Track) -> str | None:
    """The track's first profile in configs/ reads as a profile of this track."""
    profile = first_profile(track, value)
    if profile is None or (isinstance(profile, ProfileBase) and profile.track == track.name):
        return None
    return f"reads {profile!r}, not a profiles.ProfileBase whose `track` is {track.name!r}"


FIELD_CHECKS = {
    "name": lambda track, value: None if value.name == track.name else f"is {value.name!r}, not {track.name!r}",
    "title": lambda track, value: None if value.title.strip() else "is empty",
    "load_profile": profile_problems,
    "plan": plan_problems,
    "run_names": run_name_problems,
    "is_complete": lambda track, value: (
        "says a folder without results is a finished run" if value.is_complete(track.root / "no-such-run") else None
    ),
    "run_notebooks": lambda track, value: (
        notebook_problems(track, value.run_notebooks, RUN_PARAMETERS) if value.run_notebooks else "is empty"
    ),
    "profile_notebooks": lambda track, value: notebook_problems(track, value.profile_notebooks, PROFILE_PARAMETERS),
    "report_notebooks": report_problems,
    "index_score": lambda track, value: None if value.index_score[0] else "has no column header",
    "outputs": lambda track, value: (
        f"lacks {sorted(set(RUN_OUTPUTS) - set(value.outputs))} of outputs.RUN_OUTPUTS"
        if not set(RUN_OUTPUTS) <= set(value.outputs)
        else None
    ),
}


def field_problems(track: Candidate, value: Track) -> list[str]:
    """Every field of the track's `TRACK` of another type than the contract's, or failing its field's check."""
    hints, found = typing.get_type_hints(Track), []
    for f in fields(Track):
        check = FIELD_CHECKS.get(f.name, lambda track, value: None)
        problem = type_problem(getattr(value, f.name), hints[f.name]) or check(track, value)
        if problem:
            found.append(f"lsml_core/{track.name}/track.py: TRACK.{f.name} {problem}")
    return found


def architecture_problem(track: Candidate, path: Path) -> str | None:
    """docs/architecture.md has the track's row in the table of tracks and its folder in the layout."""
    text = path.read_text()
    if not re.search(rf"^\| `{track.name}` \|", text, flags=re.M):
        return f"has no row | `{track.name}` | in its table of tracks"
    if not re.search(rf"^  {track.name}/ ", text[text.index("## Layout") :], flags=re.M):
        return f"does not name the folder {track.name}/ in its layout"
    return None


def configs_problem(track: Candidate, path: Path) -> str | None:
    """A profile in configs/ is of the track."""
    if any(read_profile_yaml(p)[0] == track.name for p in sorted(path.parent.glob("*.yaml"))):
        return None
    return f"has no profile with `track: {track.name}`"


FILE_CHECKS = {"docs/architecture.md": architecture_problem, "configs/*.yaml": configs_problem}


def file_problems(track: Candidate) -> list[str]:
    """Every file of `FILES` the track lacks, or that lacks what it holds for the track."""
    found = []
    for duty in FILES:
        path = track.path(duty.path)
        check = FILE_CHECKS.get(duty.path)
        problem = check(track, path) if check else (None if path.is_file() else "is missing")
        if problem:
            found.append(f"{path.relative_to(track.root)} {problem} ({duty.holds})")
    return found


def problems(track: Candidate) -> list[str]:
    """Every duty of the contract the track misses, each named with where it lives and what is wrong."""
    found = module_problems(track)
    try:
        value = track.load("track").TRACK
    except (ModuleNotFoundError, AttributeError):
        value = None
    if isinstance(value, Track):
        found += field_problems(track, value)
    return found + file_problems(track)


@pytest.mark.parametrize("name", tracks.NAMES)
def test_each_registered_track_meets_every_duty_of_the_contract(name):
    missed = problems(registered(name))
    assert not missed, f"track {name} misses duties of lsml_core/tracks.py (docs/extending.md#a-track):\n" + "\n".join(
        missed
    )


def test_a_track_that_misses_duties_is_refused_naming_each():
    whole = tracks.get("multiclass")
    modules = {
        "track": SimpleNamespace(TRACK=replace(whole, name="fake", outputs=("metrics.json",), report_notebooks=())),
        "train": SimpleNamespace(train_run=lambda cfg, run_dir, data_dir, splits=None: None),
        "evaluate": import_module("lsml_core.multiclass.evaluate"),
    }

    def load(module: str):
        if module not in modules:
            raise ModuleNotFoundError(f"lsml_core.fake.{module}")
        return modules[module]

    missed = "\n".join(problems(Candidate("fake", load)))
    for duty in (
        "lsml_core/fake/train.py: `train_run` is not decorated with @threads.on_run_threads",
        "lsml_core/fake/answer.py is missing",
        f"TRACK.outputs lacks {sorted(set(RUN_OUTPUTS) - {'metrics.json'})} of outputs.RUN_OUTPUTS",
        f"TRACK.run_notebooks names notebooks/fake/{whole.run_notebooks[0].name}.ipynb, which is missing",
        "TRACK.report_notebooks has no notebook shown without code",
        "tests/fake/__init__.py is missing",
        "docs/architecture.md has no row | `fake` |",
        "docs/tracks/fake.md is missing",
        "configs/*.yaml has no profile with `track: fake`",
    ):
        assert duty in missed, f"{duty!r} not among:\n{missed}"
    assert "evaluate.py" not in missed and "TRACK.name" not in missed


def test_a_run_step_of_another_signature_is_named():
    def train_run(config, folder):
        """Neither the contract's arguments nor on the run's threads."""

    problem = member_problem(train_run, tracks.TrainModule, "train_run")
    assert problem == "takes (config, folder), not (cfg, run_dir, data_dir, splits, ...)"


def test_the_extending_page_lists_every_duty():
    page = (REPO / "docs" / "extending.md").read_text()
    checklist = page[page.index("## A track") :]
    duties = [f.name for f in fields(Track)] + [m for p in MODULES.values() for m in members(p)]
    missing = [d for d in duties if not re.search(rf"`{d}[`(]", checklist)]
    missing += [
        path
        for path in [f"lsml_core/<track>/{m}.py" for m in MODULES] + [d.path for d in FILES]
        if f"`{path}`" not in checklist
    ]
    assert not missing, f"docs/extending.md's checklist of a track does not name {missing}"


def test_the_pipeline_gives_the_notebooks_the_parameters_the_contract_names(monkeypatch, tmp_path):
    given = []
    record = lambda notebook_dir, notebooks, folder, params, **options: given.append(set(params)) or []
    monkeypatch.setattr(run_task, "execute_all", record)
    monkeypatch.setattr(runner, "execute_all", record)
    monkeypatch.setattr(runner, "environment_record", lambda repo: {})
    task = run_task.RunTask("a", {}, None, tmp_path / "a", tmp_path, tmp_path, tmp_path, (), lambda d: False, "k")
    run_task.execute_run_notebooks(task)
    track = Track(
        name="fake",
        title="fake",
        load_profile=None,
        prepare=lambda profile, data_dir: "nowhere",
        plan=lambda profile, runs_dir, settled: [],
        run_names=lambda profile: [],
        is_complete=lambda run_dir: False,
        run_notebooks=(Notebook("train", "train"),),
    )
    profile = SimpleNamespace(
        name="p", description="", train=SimpleNamespace(threads=1), to_dict=lambda: {}, run_config=None
    )
    runner.run_profile(track, profile, tmp_path / "results", tmp_path / "data", executor=LocalExecutor(None))
    assert given == [set(RUN_PARAMETERS), set(PROFILE_PARAMETERS), set(PROFILE_PARAMETERS)]
