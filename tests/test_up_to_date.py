"""A profile's notebooks and the front page are executed again only when what they read changed or what they
wrote was damaged: the inputs' digest, the record of what they wrote, and the record removed before they run."""

import json

from lsml_core import layout
from lsml_core.pipeline.up_to_date import (
    code_digest,
    forget,
    is_up_to_date,
    profile_inputs,
    remember,
    study_inputs,
)

WRITTEN = ["notebooks/report.html", "answer.json"]


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


def test_the_inputs_digest_changes_with_each_thing_the_notebooks_read(tmp_path):
    out = a_profile(tmp_path / "p")
    first = profile_inputs(out, "data", "lsml")
    assert profile_inputs(out, "data", "lsml") == first
    assert profile_inputs(out, "other data", "lsml") != first
    (out / layout.RUNS / "b" / layout.OUTPUTS).write_text(json.dumps({"metrics.json": "changed"}))
    changed_run = profile_inputs(out, "data", "lsml")
    assert changed_run != first
    (out / layout.RUNS / "c").mkdir()  # a run folder without a record (unfinished) counts too
    assert profile_inputs(out, "data", "lsml") != changed_run
    (out / layout.PROFILE).write_text("name: p\nseeds: [0, 1]\n")
    assert len({first, changed_run, profile_inputs(out, "data", "lsml")}) == 3


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
    assert not is_up_to_date(out, "digest", WRITTEN)  # never ran to completion
    remember(out, "digest", WRITTEN)
    assert is_up_to_date(out, "digest", WRITTEN)
    assert not is_up_to_date(out, "another digest", WRITTEN)
    (out / "notebooks" / "report.html").write_text("<html>damaged")
    assert not is_up_to_date(out, "digest", WRITTEN)
    remember(out, "digest", WRITTEN)
    (out / layout.ANSWER).unlink()
    assert not is_up_to_date(out, "digest", WRITTEN)


def test_forgotten_before_the_notebooks_execute_so_a_kill_leaves_no_record(tmp_path):
    out = a_profile(tmp_path / "p")
    remember(out, "digest", WRITTEN)
    forget(out)
    assert not (out / layout.REPORTED).exists() and not is_up_to_date(out, "digest", WRITTEN)
    forget(out)  # nothing to remove: no error


def test_a_record_that_does_not_read_or_holds_nothing_is_not_up_to_date(tmp_path):
    out = a_profile(tmp_path / "p")
    (out / layout.REPORTED).write_text("{trunc")
    assert not is_up_to_date(out, "digest", WRITTEN)
    remember(out, "digest", ["nothing/written.html"])
    assert not is_up_to_date(out, "digest", ["nothing/written.html"])


def test_the_front_page_inputs_change_with_a_profile_answer_a_run_or_the_study(tmp_path):
    configs, results = tmp_path / "configs", tmp_path / "results"
    configs.mkdir()
    (configs / "p.yaml").write_text("name: p\n")
    out = a_profile(results / "p")
    (results / "not-a-profile").mkdir()
    first = study_inputs(results, configs, "lsml")
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
    assert len({first, answered, ran, listed, linked, study_inputs(results, configs, "lsml")}) == 6
    assert study_inputs(results, configs, "another kernel") != study_inputs(results, configs, "lsml")
