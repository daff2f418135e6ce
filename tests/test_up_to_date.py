"""A profile's notebooks and the front page are executed again only when what they read changed or what they
wrote was damaged: the inputs' digest, the record of what they wrote, and the record removed before they run."""

import json
import shutil

from lsml_core import layout
from lsml_core.pipeline.up_to_date import (
    code_digest,
    forget,
    profile_inputs,
    reasons,
    remember,
    shown,
    study_inputs,
    what_changed,
)

WRITTEN = ["notebooks/report.html", "answer.json"]
INPUTS = {"profile.yaml": "1", "code": "2"}


def a_profile(folder):
    """A profile folder with a profile, two runs' records and what its notebooks wrote."""
    (folder / layout.RUNS / "a").mkdir(parents=True)
    (folder / layout.RUNS / "b").mkdir()
    (folder / layout.NOTEBOOKS).mkdir()
    (folder / layout.PROFILE).write_text("name: p\n")
    for run in ("a", "b"):
        (folder / layout.RUNS / run / layout.OUTPUTS).write_text(json.dumps({"metrics.json": run}))
    (folder / "notebooks" / "report.html").write_text("<html>")
    (folder / layout.ANSWER).write_text("{}")
    return folder


def changed(before: dict, after: dict) -> set[str]:
    """The names of the inputs that differ."""
    return {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}


def test_the_inputs_name_each_thing_the_notebooks_read(tmp_path):
    out = a_profile(tmp_path / "p")
    first = profile_inputs(out, "data", "lsml")
    assert profile_inputs(out, "data", "lsml") == first
    assert changed(first, profile_inputs(out, "other data", "lsml")) == {"data"}
    assert changed(first, profile_inputs(out, "data", "another kernel")) == {"kernel"}
    moved = shutil.copytree(out, tmp_path / "moved")  # its pages name where it is
    assert changed(first, profile_inputs(moved, "data", "lsml")) == {"folder"}
    (out / layout.RUNS / "b" / layout.OUTPUTS).write_text(json.dumps({"metrics.json": "changed"}))
    changed_run = profile_inputs(out, "data", "lsml")
    assert changed(first, changed_run) == {"runs/b/outputs.json"}
    (out / layout.RUNS / "c").mkdir()  # a run folder without a record (unfinished) counts too
    assert changed(changed_run, profile_inputs(out, "data", "lsml")) == {"runs/c/outputs.json"}
    (out / layout.PROFILE).write_text("name: p\nseeds: [0, 1]\n")
    assert "profile.yaml" in changed(changed_run, profile_inputs(out, "data", "lsml"))


def test_the_code_digest_reads_every_module_and_notebook(tmp_path):
    for folder, name in (("lsml_core", "a.py"), ("lsml_core/track", "b.py"), ("notebooks", "c.ipynb")):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        (tmp_path / folder / name).write_text("x = 1")
    first = code_digest(tmp_path)
    assert code_digest(tmp_path) == first
    (tmp_path / "lsml_core" / "track" / "b.py").write_text("x = 2")
    second = code_digest(tmp_path)
    (tmp_path / "notebooks" / "notes.txt").write_text("not code")
    (tmp_path / "notebooks" / ".ipynb_checkpoints").mkdir()
    (tmp_path / "notebooks" / ".ipynb_checkpoints" / "c-checkpoint.ipynb").write_text("autosaved by JupyterLab")
    assert code_digest(tmp_path) == second
    (tmp_path / "notebooks" / "c.ipynb").write_text("{}")
    assert len({first, second, code_digest(tmp_path)}) == 3


def test_up_to_date_only_on_the_same_inputs_with_what_was_written_intact(tmp_path):
    out = a_profile(tmp_path / "p")
    assert what_changed(out, INPUTS, WRITTEN)  # never ran to completion
    remember(out, INPUTS, WRITTEN)
    assert not what_changed(out, INPUTS, WRITTEN)
    assert what_changed(out, INPUTS | {"code": "3"}, WRITTEN)
    (out / "notebooks" / "report.html").write_text("<html>damaged")
    assert what_changed(out, INPUTS, WRITTEN)
    remember(out, INPUTS, WRITTEN)
    (out / layout.ANSWER).unlink()
    assert what_changed(out, INPUTS, WRITTEN)


def test_a_rerun_names_each_input_and_written_file_that_changed(tmp_path):
    out = a_profile(tmp_path / "p")
    assert what_changed(out, INPUTS, WRITTEN) == ["no record of a completed execution"]
    remember(out, INPUTS, WRITTEN)
    assert what_changed(out, INPUTS, WRITTEN) == []
    now = {"profile.yaml": "1", "code": "3", "runs/c/outputs.json": "4"}
    (out / layout.ANSWER).write_text('{"verdict": "edited"}')
    assert what_changed(out, now, WRITTEN) == [
        "code (input)",
        "runs/c/outputs.json (input)",
        "answer.json (written)",
    ]
    assert reasons(True, False, out, INPUTS, WRITTEN) == ["--force"]
    assert reasons(False, True, out, INPUTS, WRITTEN) == ["a run failed"]
    assert reasons(False, False, out, INPUTS, WRITTEN) == ["answer.json (written)"]
    assert shown(["a", "b", "c"], at_most=2) == "a; b; and 1 more" and shown(["a"]) == "a"


def test_forgotten_before_the_notebooks_execute_so_a_kill_leaves_no_record(tmp_path):
    out = a_profile(tmp_path / "p")
    remember(out, INPUTS, WRITTEN)
    forget(out)
    assert not (out / layout.REPORTED).exists() and what_changed(out, INPUTS, WRITTEN)
    forget(out)  # nothing to remove: no error


def test_a_record_that_does_not_read_or_holds_nothing_is_not_up_to_date(tmp_path):
    out = a_profile(tmp_path / "p")
    (out / layout.REPORTED).write_text("{trunc")
    assert what_changed(out, INPUTS, WRITTEN)
    remember(out, INPUTS, ["nothing/written.html"])
    assert what_changed(out, INPUTS, ["nothing/written.html"])
    (out / layout.REPORTED).write_text(json.dumps({"inputs": "an earlier digest", "written": {"a": 1}}))
    assert what_changed(out, INPUTS, WRITTEN) == ["a record of an earlier version, or of nothing written"]


def test_the_front_page_inputs_change_with_a_profile_answer_a_run_or_the_study(tmp_path):
    configs, results = tmp_path / "configs", tmp_path / "results"
    configs.mkdir()
    (configs / "p.yaml").write_text("name: p\n")
    out = a_profile(results / "p")
    (results / "not-a-profile").mkdir()
    first = study_inputs(results, configs, "lsml")
    assert study_inputs(results, configs, "lsml") == first
    (results / "index_files").mkdir()  # the front page's own figures (its Markdown's), written after it executed
    (results / "index_files" / "figure.png").write_bytes(b"png")
    assert study_inputs(results, configs, "lsml") == first
    (out / layout.ANSWER).write_text('{"verdict": "better"}')
    answered = study_inputs(results, configs, "lsml")
    (out / layout.RUNS / "a" / layout.OUTPUTS).write_text("{}")
    ran = study_inputs(results, configs, "lsml")
    (configs / "q.yaml").write_text("name: q\n")
    listed = study_inputs(results, configs, "lsml")
    (out / layout.INDEX).write_text("<html>")  # a page the front page links now exists
    linked = study_inputs(results, configs, "lsml")
    committed = results / "committed"  # a folder holding only a committed answer, no profile.yaml
    committed.mkdir()
    (committed / layout.ANSWER).write_text("{}")
    assert changed(first, answered) == {"p/answer.json"}
    assert changed(answered, ran) == {"p/runs/a/outputs.json"}
    assert changed(ran, listed) == {"profiles: q.yaml"}
    assert changed(listed, linked) == {"pages"}
    committed_parts = changed(linked, study_inputs(results, configs, "lsml"))  # its files, present or absent
    assert "committed/answer.json" in committed_parts and all(n.startswith("committed/") for n in committed_parts)
    assert changed(linked, study_inputs(results, configs, "another kernel")) == committed_parts | {"kernel"}
