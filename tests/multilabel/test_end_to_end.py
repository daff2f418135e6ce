"""End to end: run_all.sh executes the real notebooks through papermill and renders real HTML."""

import json
import re
from pathlib import Path
from urllib.parse import unquote

import nbformat
import pandas as pd
import pytest

from lsml_core.multilabel.config import load_profile
from lsml_core.multilabel.evaluate import is_complete
from lsml_core.multilabel.summary import ECE_WIDTH, HEADLINE
from tests.commands import run_all
from tests.notebooks_as_opened import check_missing_results_named, check_track_as_opened, outputs_text, run_as_opened

REPO = Path(__file__).resolve().parents[2]
N_RUNS = 18  # the quick profile
pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """The quick profile, run once for the module into a temporary results folder.

    It is given as a YAML file outside configs/ under another name, as a user's own profile is: every
    notebook must read the profile the run recorded, not look the name up in configs/.
    """
    base = tmp_path_factory.mktemp("e2e")
    (base / "my-study.yaml").write_text(
        (REPO / "configs" / "quick.yaml").read_text().replace("name: quick", "name: my-study")
    )
    proc = run_all("--profile", base / "my-study.yaml", "--results-dir", base / "results", "--data-dir", base / "data")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return base, base / "results" / "my-study", proc


def executed_notebooks(out: Path) -> list[Path]:
    return sorted(out.rglob("*.ipynb"))


def test_every_notebook_executed_without_error(quick):
    _, out, _ = quick
    notebooks = executed_notebooks(out)
    assert len(notebooks) == 3 + 2 * N_RUNS
    for path in notebooks:
        book = nbformat.read(path, as_version=4)
        code = [c for c in book.cells if c.cell_type == "code"]
        assert all(c.execution_count for c in code), path
        assert not [o for c in code for o in c.outputs if o.output_type == "error"], path
        assert "papermill" in book.metadata and book.metadata.kernelspec.name == "lsml"


def test_html_rendered_with_figures_embedded(quick):
    _, out, _ = quick
    minimum = {"1.0-explore-labels": 4, "2.0-train": 1, "3.0-evaluate": 1, "4.0-precision-recall": 3, "5.0-report": 10}
    for path in executed_notebooks(out):
        html = path.with_suffix(".html").read_text()
        assert html.count("data:image/png;base64") >= minimum[path.stem], path
    report = (out / "notebooks" / "5.0-report.html").read_text()
    assert "from lsml_core" not in report  # the report hides its code
    assert "THEIRS" in report and "95% CI [" in report  # published numbers labelled; generated conclusions
    sections = ("Repeats and uncertainty", "Alpha sweep", "Calibration", "Dose against overconfidence", "Label noise")
    for section in (*sections, "Instance-based smoothing"):
        assert section in report
    # the dose section's generated sentence, per model and ECE binning
    assert re.search(
        r"ResNet-18, val, ECE \(15 equal-width bins\): lowest with [^(]+\([01]\.\d{4}; its dose - overconfidence",
        report,
    )
    assert "gain under noise is" in report and "best mAP" in report and "Temperature scaling changed mAP" in report
    assert "early stopping alone" in report and "at the last epoch" in report  # read at both epochs (val_last)
    assert "Learning rates searched on the selection part" in report  # MobileNetV2's focal loss at two rates


def test_report_leads_with_its_summary_and_conclusions_then_contents(quick):
    _, out, _ = quick
    report = (out / "notebooks" / "5.0-report.html").read_text()
    headings = re.findall(r"<h2[^>]*>(.*?)<", report)
    assert headings[:5] == ["Regime", "Summary", "Conclusions", "Contents", "Arms and metrics"]
    regime = report[report.index(">Regime<") : report.index(">Summary<")]
    assert "The ResNet-18 BCE baseline is" in regime and "The MobileNetV2 BCE baseline is" in regime
    summary = report[report.index(">Summary<") : report.index(">Conclusions<")]
    for metric in HEADLINE:  # ranking, decisions and calibration: ECE in both binnings, Brier, log loss
        assert f"{metric} - none [95% CI]" in summary
    for arm in ("symmetric a=0.1", "focal", "asymmetric + symmetric a=0.1"):
        assert f">{arm}<" in summary
    conclusions = report[report.index(">Conclusions<") : report.index(">Contents<")]
    assert "against the baseline" in conclusions and "95% CI [" in conclusions
    assert "These conclusions are read from" in conclusions or "chance level" in conclusions
    anchors = re.findall(r'href="#([^"]+)"', report)
    assert len(anchors) >= 10 and all(f'id="{unquote(a)}"' in report for a in anchors)
    assert not re.search(r">\s*(True|False|None|nan|NaN)\s*<", report)
    assert "PosixPath" not in report  # no object repr, no path of the machine it ran on


def test_index_page_shows_the_headline_before_the_links(quick):
    _, out, _ = quick
    index = (out / "index.html").read_text()
    assert (out / "headline.png").is_file()
    ece = f"{ECE_WIDTH} - none [95% CI]"
    assert index.index('<img src="headline.png"') < index.index(ece) < index.index("<h2>Report</h2>")


def test_metrics_complete_for_every_run(quick):
    _, out, _ = quick
    runs = sorted((out / "runs").iterdir())
    assert len(runs) == N_RUNS
    for run in runs:
        assert is_complete(run)
        metrics = json.loads((run / "metrics.json").read_text())
        assert len(metrics["thresholds"]) == 10 and all(0 <= t <= 1 for t in metrics["thresholds"].values())
        assert metrics["splits"]["val_last"]["epoch"] == 2  # evaluate_last: the last epoch's model on val too
        assert (run / "predictions_val_last.csv").is_file()
        read_last = {"epoch", "temperature", "platt", "thresholds", "confidence_gap"}  # the last model's own choices
        for split in ("fit", "val", "val_fivecrop", "val_last"):
            table = metrics["splits"][split]
            entry = {"voc2010", "voc2007", "sklearn", "sample_ap", "decisions", "calibration"}
            assert set(table) == entry | (read_last if split == "val_last" else set())
            assert len(table["voc2010"]["per_class"]) == 10
            assert set(table["decisions"]) == {"t0.5", "top3", "tuned"}
            for scores in table["decisions"].values():
                assert set(scores) == {"CP", "CR", "CF1", "OP", "OR", "OF1"}
                assert all(0 <= v <= 1 for v in scores.values())
        env = json.loads((run / "environment.json").read_text())
        assert env["git_revision"] and env["packages"]["torch"] != "not installed"
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == (N_RUNS - 1) * 4 * (4 + 3 * 6)  # the focal run at the rate not chosen is left out
    assert {"CF1_t0.5", "OF1_top3", "CP_tuned"} <= set(summary.metric) and set(summary["loss"]) == {
        "bce",
        "focal",
        "asymmetric",
    }


def test_index_links_everything(quick):
    _, out, proc = quick
    index = out / "index.html"
    assert f"report: {index}" in proc.stdout.splitlines()
    links = re.findall(r'href="([^"]+)"', index.read_text())
    assert len(links) == 3 + 2 * N_RUNS
    assert all((out / link).is_file() for link in links)


def test_every_notebook_runs_as_opened_in_jupyterlab_after_the_first_command(quick, tmp_path):
    """results/demo holds a finished profile, as the README's first command leaves it: every notebook runs
    with its default parameters (the front page too), and its scratch run repeats the first run."""
    base, out, _ = quick
    check_missing_results_named(tmp_path, "multilabel", "demo")
    first = load_profile(out / "profile.yaml").runs()[0].name
    home = check_track_as_opened(
        tmp_path, "multilabel", default="demo", finished=out, data=base / "data", scratch="run", first=first
    )
    assert "my-study" in outputs_text(run_as_opened(home / "notebooks" / "front-page.ipynb"))


def test_rerun_skips_finished_runs_then_notebooks_whose_inputs_did_not_change(quick):
    base, out, _ = quick
    command = ("--profile", base / "my-study.yaml", "--results-dir", base / "results", "--data-dir", base / "data")
    report = out / "notebooks" / "5.0-report.html"
    executed = (report.stat().st_mtime_ns, (base / "results" / "index.html").stat().st_mtime_ns)
    proc = run_all(*command, "--runs", "resnet18-*")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("finished, skipped") == 13  # the ResNet-18 runs
    again = run_all(*command)
    for printed in (proc.stdout, again.stdout):
        assert "notebooks of my-study: up to date" in printed and "front page: up to date" in printed, printed
    assert (report.stat().st_mtime_ns, (base / "results" / "index.html").stat().st_mtime_ns) == executed


def test_changed_profile_is_refused_before_it_is_mixed_with_old_results(quick, tmp_path):
    base, out, _ = quick
    recorded, report = (out / "profile.yaml").read_bytes(), (out / "notebooks" / "5.0-report.html").stat().st_mtime_ns
    changed = tmp_path / "my-study.yaml"
    changed.write_text((base / "my-study.yaml").read_text().replace("epochs: 2", "epochs: 3"))
    proc = run_all(
        "--profile",
        changed,
        "--results-dir",
        base / "results",
        "--data-dir",
        base / "data",
        "--runs",
        "resnet18-none-a0-s0",
    )
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "resnet18-none-a0-s0: the run folder holds results of a different configuration (train.epochs)" in (
        proc.stderr
    )
    assert (out / "profile.yaml").read_bytes() == recorded  # nothing written, nothing executed
    assert (out / "notebooks" / "5.0-report.html").stat().st_mtime_ns == report


def test_failed_run_is_listed_and_others_go_on(mosaic_voc, tmp_path):
    for image in (mosaic_voc / "JPEGImages").glob("train_*.jpg"):
        image.write_bytes(b"corrupt")
    profile = tmp_path / "broken.yaml"
    profile.write_text(f"""name: broken
data: {{dataset: voc, root: {mosaic_voc}, classes: [a, b, c, d], image_size: 16}}
train: {{epochs: 1, batch_size: 8}}
grid: {{arms: [{{model: resnet18, scheme: [none, uniform], alpha: 0.1}}]}}
""")
    proc = run_all("--profile", profile, "--results-dir", tmp_path / "results", "--data-dir", tmp_path)
    assert proc.returncode == 1
    # the exploration of the data and both runs tried, each listed with the cause
    assert proc.stderr.count("is corrupt or not an image") == 3
    for run in ("resnet18-none-a0-s0", "resnet18-uniform-a0.1-s0"):
        notebook = tmp_path / "results" / "broken" / "runs" / run / "2.0-train.ipynb"
        assert str(notebook) in proc.stderr and notebook.with_suffix(".html").is_file()
    assert str(tmp_path / "results" / "broken" / "notebooks" / "1.0-explore-labels.ipynb") in proc.stderr
    assert "Failures" in (tmp_path / "results" / "broken" / "index.html").read_text()


def test_help_and_bad_arguments():
    help_text = run_all("--help").stdout
    for option in (
        "--profile",
        "--results-dir",
        "--data-dir",
        "--force",
        "--verify",
        "--changes",
        "--runs",
        "--test",
        "--setup-only",
        "--help",
    ):
        assert option in help_text
    proc = run_all("--profile", "nope")
    assert proc.returncode == 2 and "unknown profile 'nope'" in proc.stderr
    assert run_all("--bogus").returncode == 2
