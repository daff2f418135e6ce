"""The study's answer in the repository: the README's numbers are those of the answer committed under results/
(generated, never typed), each answer names what produced it, and the front page reads as Markdown."""

import base64
import json
import subprocess
from dataclasses import replace

import nbformat
import pytest

from lsml_core import layout, regime
from lsml_core.answers import Answer, Effect, write_answer
from lsml_core.pipeline import readme
from lsml_core.pipeline.changes import list_changes, verdict_changes
from lsml_core.pipeline.notebooks import render_markdown
from lsml_core.pipeline.provenance import provenance, provenance_text
from lsml_core.records import write_json

PNG = base64.b64decode(  # a 1x1 image
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def test_the_readme_holds_the_answer_committed_under_results():
    text = readme.README.read_text()
    assert readme.with_sections(text, readme.sections()) == text, (
        "README.md's generated sections differ from the answer in results/: render the front page of this "
        "checkout's results/ (./run_all.sh --profile demo) or commit the results/ it was generated from"
    )


def effect(model, arm, metric, difference, low, high, text, baseline=False, seeds=3):
    return Effect(model, arm, metric, metric != "ECE", 0.5, difference, low, high, text, baseline, seeds)


def a_demo(results):
    effects = [
        effect("resnet18", "none", "mAP", None, None, None, "", baseline=True),
        effect("resnet18", "uniform", "mAP", 0.002, -0.010, 0.014, "+0.002 [-0.010, +0.014]"),
        effect("resnet18", "uniform", "ECE", -0.031, -0.037, -0.025, "-0.031 [-0.037, -0.025]"),
        effect("resnet18", "positive", "mAP", -0.018, -0.031, -0.006, "-0.018 [-0.031, -0.006]"),
    ]
    answer = Answer(
        "demo", "multilabel", "Label smoothing, multi-label track", "d", regime.AXIS[1],
        ["The ResNet-18 baseline is overconfident by 0.079."], "One seed: training randomness not covered.",
        "95% interval over images", effects,
    )  # fmt: skip
    write_answer(results / "demo", answer)
    return answer


def test_the_demo_section_shows_its_figure_readings_effects_verdicts_and_what_produced_them(tmp_path):
    (tmp_path / "demo" / "runs" / "a").mkdir(parents=True)
    a_demo(tmp_path)
    environment = {"git_revision": "4491f0cf" * 5, "cpu_threads": 1, "cpu": "AMD EPYC, 2 CPUs", "device": "cpu"}
    write_json(tmp_path / "demo" / "runs" / "a" / layout.ENVIRONMENT, environment)
    write_json(tmp_path / "demo" / layout.PROVENANCE, provenance(tmp_path / "demo", "8a1b2c3d" * 5 + "-dirty"))
    section = readme.demo_section(tmp_path)
    assert "![The demo profile's headline" in section and "(results/demo/headline.png)" in section
    assert "1 run(s) at git 4491f0c on AMD EPYC, 2 CPUs (cpu), 1 CPU thread(s) each; report at git 8a1b2c3-dirty" in (
        section
    )
    assert "One seed: training randomness not covered." in section and "One seed: the intervals" not in section
    assert "- The ResNet-18 baseline is overconfident by 0.079." in section
    assert "| model | arm | mAP | ECE |" in section
    assert (
        "| resnet18 | uniform | +0.002 [-0.010, +0.014] (no clear difference) | -0.031 [-0.037, -0.025] (better) |"
        in (section)
    )
    assert "| resnet18 | positive | -0.018 [-0.031, -0.006] (worse) |  |" in section
    study = readme.study_section(tmp_path)
    assert "**demo** (Label smoothing, multi-label track; " in study
    assert "1 better, 1 worse, 1 no clear difference (of 3 effects); 1 run(s) at git 4491f0c" in study


def test_a_one_seed_demo_says_its_intervals_cover_the_images_only(tmp_path):
    answer = a_demo(tmp_path)
    write_answer(tmp_path / "demo", replace(answer, effects=[replace(e, seeds=1) for e in answer.effects]))
    assert "One seed: the intervals cover the sampling of images, not training randomness." in (
        readme.demo_section(tmp_path)
    )


def test_without_answers_the_sections_say_how_to_make_them(tmp_path):
    assert readme.demo_section(tmp_path).startswith("The demo's answer is not in `results/` yet: `./run_all.sh`")
    study = readme.study_section(tmp_path)
    assert study.startswith("No profile's answer is in `results/` yet") and "Not finished here: " in study
    a_demo(tmp_path)
    assert "what produced it was not recorded" in readme.demo_section(tmp_path)


def test_sections_are_replaced_between_their_markers_only_and_a_missing_one_is_named(tmp_path):
    text = "# T\n\nhand\n<!-- results: demo -->\nold 0.041\n<!-- results: end -->\nafter\n"
    assert readme.with_sections(text, {"demo": "new"}) == (
        "# T\n\nhand\n<!-- results: demo -->\nnew\n<!-- results: end -->\nafter\n"
    )
    with pytest.raises(ValueError, match="no section `<!-- results: study -->`"):
        readme.with_sections(text, {"study": "x"})


def test_only_the_checkout_s_own_results_rewrite_the_readme(tmp_path, monkeypatch):
    page = tmp_path / "README.md"
    page.write_text("<!-- results: study -->\n<!-- results: end -->\n<!-- results: demo -->\n<!-- results: end -->\n")
    results = tmp_path / "results"
    a_demo(results)
    readme.update_readme(tmp_path / "elsewhere", page)
    assert "demo" not in page.read_text().replace("results: demo", "")
    monkeypatch.setattr(readme, "RESULTS", results)
    readme.update_readme(results, page)
    assert "(results/demo/headline.png)" in page.read_text() and "**demo**" in page.read_text()


def test_provenance_names_every_revision_thread_count_and_machine_of_the_runs(tmp_path):
    for run, revision, threads in (("a", "a" * 40, 1), ("b", "b" * 40 + "-dirty", 2), ("c", "a" * 40, 1)):
        (tmp_path / "runs" / run).mkdir(parents=True)
        write_json(tmp_path / "runs" / run / layout.ENVIRONMENT, {"git_revision": revision, "cpu_threads": threads})
    record = provenance(tmp_path, "c" * 40)
    assert record["runs"] == 3 and record["run_revisions"] == ["a" * 40, "b" * 40 + "-dirty"]
    assert record["cpu_threads"] == ["1", "2"] and record["machines"] == ["not recorded"]
    assert provenance_text(record).startswith("3 run(s) at git aaaaaaa, bbbbbbb-dirty on a machine not recorded (not")


def test_the_front_page_reads_as_markdown_with_its_figures_as_png_files(tmp_path):
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("show()")
    html = '<style type="text/css">#T th {text-align: left;}</style><table><tr><td>0.041</td></tr></table>'
    cell.outputs = [
        nbformat.v4.new_output("display_data", {"image/png": base64.b64encode(PNG).decode(), "text/plain": "fig"}),
        nbformat.v4.new_output("display_data", {"text/html": html, "text/plain": "table"}),
    ]
    notebook.cells = [nbformat.v4.new_markdown_cell("# The study's answer"), cell]
    page = tmp_path / "index.ipynb"
    nbformat.write(notebook, page)
    (tmp_path / "index_files").mkdir()
    (tmp_path / "index_files" / "output_9_9.png").write_bytes(PNG)  # an earlier rendering's figure
    text = render_markdown(page).read_text()
    figures = sorted(p.name for p in (tmp_path / "index_files").iterdir())
    assert len(figures) == 1 and figures[0] != "output_9_9.png"
    assert (tmp_path / "index_files" / figures[0]).read_bytes() == PNG and f"index_files/{figures[0]}" in text
    assert "# The study's answer" in text and "<td>0.041</td>" in text
    assert "show()" not in text and "<style" not in text and "text-align" not in text
    assert json.loads(json.dumps(text))  # plain text, nothing binary


def test_a_profile_whose_baselines_sit_in_different_regimes_names_each(tmp_path):
    converged, underfitted = regime.AXIS[1], regime.AXIS[0]
    both = {"ResNet-18": converged, "MobileNetV2": underfitted}
    answer = replace(a_demo(tmp_path), regime=underfitted, baseline_regimes=both)
    write_answer(tmp_path / "demo", answer)
    line = f"track; {underfitted} (ResNet-18: {converged}; MobileNetV2: {underfitted})): "
    assert line in readme.study_section(tmp_path)
    alike = replace(answer, baseline_regimes={"ResNet-18": underfitted, "MobileNetV2": underfitted})
    assert alike.regime_text() == underfitted
    assert verdict_changes(alike, answer) == [f"regime: {underfitted} -> {answer.regime_text()}"]


def test_changes_lists_the_verdicts_that_differ_from_the_committed_answer(tmp_path):
    repo, here = tmp_path / "repo", tmp_path / "here"
    committed = a_demo(repo / "results")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "add", "results"], check=True)
    subprocess.run([*git, "commit", "-qm", "answer"], check=True)
    said = []
    write_answer(here / "demo", committed)
    assert list_changes(here, said.append, repo) == 0 and said == ["demo: the committed verdicts, to the last one"]
    moved = [
        replace(e, difference=0.012, low=-0.001, high=0.025, text="+0.012 [-0.001, +0.025]")
        if e.arm == "positive"
        else e
        for e in committed.effects
        if e.metric != "ECE"
    ]
    write_answer(here / "demo", replace(committed, effects=moved, regime=regime.AXIS[0]))
    write_answer(here / "other", replace(committed, profile="other"))
    said.clear()
    assert list_changes(here, said.append, repo) == 1
    assert said == [
        "demo: 3 changed",
        "  resnet18 uniform ECE: not here",
        "  resnet18 positive mAP: worse -> no clear difference (-0.018 [-0.031, -0.006] committed, +0.012 [-0.001, "
        "+0.025] here)",
        f"  regime: {regime.AXIS[1]} -> {regime.AXIS[0]}",
        "other: no committed answer to compare with",
    ]
