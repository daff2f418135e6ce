"""results/<profile>/index.html for the single-label track: the report and every run's notebook."""
import html
from pathlib import Path

from lsml_core.index_page import PAGE, _link
from lsml_core.multiclass.config import Profile
from lsml_core.multiclass.evaluation import METRICS, is_complete
from lsml_core.records import atomic_write_text, read_json


def _run_row(out: Path, run_dir: Path) -> str:
    status = "finished" if is_complete(run_dir) else "incomplete"
    accuracy = f"{read_json(run_dir / METRICS)['splits']['val']['before']['accuracy']:.4f}" if status == "finished" else ""
    return (f"<tr><td>{html.escape(run_dir.name)}</td><td>{status}</td><td>{accuracy}</td>"
            f"<td>{_link(out, run_dir / '6.0-multiclass-train.html', 'train and evaluate')}</td></tr>")


def write_index(out: Path, profile: Profile, failures: list, source: str) -> Path:
    """Write the index page of a profile's results folder (runs: every run folder present)."""
    page = PAGE.format(
        name=html.escape(profile.name), description=html.escape(profile.description),
        warning=f"<p>Data: {html.escape(source)}.</p>",
        profile_links=f"<li>{_link(out, out / 'notebooks' / '7.0-multiclass-report.html', 'Report: single-label track')}</li>",
        run_rows="\n".join(_run_row(out, d) for d in sorted((out / "runs").glob("*/"))),
        failures="<h2>Failures</h2><ul class=\"warn\">" + "".join(
            f"<li>{html.escape(f.what)}: {html.escape(f.error)}<br>{_link(out, f.notebook.with_suffix('.html'), str(f.notebook))}</li>"
            for f in failures) + "</ul>" if failures else "")
    page = page.replace("Label smoothing for multi-label classification", "Label smoothing, single-label track")
    page = page.replace("<th>val mAP (VOC2010)</th>", "<th>val accuracy</th>")
    atomic_write_text(out / "index.html", page)
    return out / "index.html"
