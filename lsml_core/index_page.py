"""results/<profile>/index.html: one page linking the report, every notebook and every run."""
import html
from pathlib import Path

from lsml_core.config import Profile
from lsml_core.evaluation import is_complete
from lsml_core.records import atomic_write_text, read_json

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>lsml: {name}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.3em .6em}}.warn{{background:#fee;border:2px solid #c00;padding:1em}}</style>
</head><body>
<h1>Label smoothing for multi-label classification: profile <code>{name}</code></h1>
<p>{description}</p>
{warning}
<h2>Report</h2>
<ul>{profile_links}</ul>
<h2>Runs</h2>
<table><tr><th>run</th><th>status</th><th>val mAP (VOC2010)</th><th>notebooks</th></tr>
{run_rows}
</table>
{failures}
<p>Data and run records: <code>summary.csv</code>, <code>environment.json</code>, <code>profile.yaml</code>,
and in every run folder <code>config.json</code>, <code>environment.json</code>, <code>history.csv</code>,
<code>metrics.json</code>, <code>predictions_*.csv</code>.</p>
</body></html>
"""


def _link(out: Path, path: Path, label: str) -> str:
    if not path.is_file():
        return f"{html.escape(label)} (missing)"
    return f'<a href="{html.escape(str(path.relative_to(out)))}">{html.escape(label)}</a>'


def _run_row(out: Path, name: str) -> str:
    run_dir = out / "runs" / name
    status = "finished" if is_complete(run_dir) else ("incomplete" if run_dir.exists() else "not run")
    val_map = ""
    if status == "finished":
        value = read_json(run_dir / "metrics.json")["splits"]["val"]["voc2010"]["mAP"]
        val_map = "n/a" if value is None else f"{value:.3f}"
    links = ", ".join(_link(out, run_dir / f"{nb}.html", label)
                      for nb, label in (("2.0-train", "train"), ("3.0-evaluate", "evaluate")))
    return f"<tr><td>{html.escape(name)}</td><td>{status}</td><td>{val_map}</td><td>{links}</td></tr>"


def write_index(out: Path, profile: Profile, failures: list, source: str) -> Path:
    """Write the index page of a profile's results folder."""
    notebooks = out / "notebooks"
    profile_links = "".join(f"<li>{_link(out, notebooks / f'{nb}.html', label)}</li>" for nb, label in (
        ("5.0-report", "Report: tables, loss curves, conclusions"), ("1.0-explore-labels", "Explore the labels"),
        ("4.0-precision-recall", "Precision-recall curves")))
    warning = (f'<p class="warn">WARNING: the demo data were made from {html.escape(source)}.</p>'
               if "fallback" in source else f"<p>Data: {html.escape(source)}.</p>")
    failure_items = "".join(f"<li>{html.escape(f.what)}: {html.escape(f.error)}<br>"
                            f"{_link(out, f.notebook.with_suffix('.html'), str(f.notebook))}</li>" for f in failures)
    page = PAGE.format(name=html.escape(profile.name), description=html.escape(profile.description),
                       warning=warning, profile_links=profile_links,
                       run_rows="\n".join(_run_row(out, r.name) for r in profile.runs()),
                       failures=f'<h2>Failures</h2><ul class="warn">{failure_items}</ul>' if failures else "")
    atomic_write_text(out / "index.html", page)
    return out / "index.html"
