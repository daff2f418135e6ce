"""results/<profile>/index.html, for every track: the report's headline figure and summary table, then links
to the reports, every notebook and every run.

A track's report notebook leaves its headline in the profile folder (`write_headline`): a figure
(`headline.png`) and a summary table (`headline.html`); the index page shows them when they are there.
"""

import html
import io
from dataclasses import dataclass
from pathlib import Path

from pandas.io.formats.style import Styler

from lsml_core import layout
from lsml_core.records import atomic_write_bytes, atomic_write_text

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>lsml: {name}</title>
<style>body{{font-family:sans-serif;max-width:72em;margin:2em auto}}.headline{{overflow-x:auto;font-size:.9em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.3em .6em}}.warn{{background:#fee;border:2px solid #c00;padding:1em}}
img{{max-width:100%}}</style>
</head><body>
<h1>{title}: profile <code>{name}</code></h1>
<p>{description}</p>
{data}
{headline}
<h2>Report</h2>
<ul>{links}</ul>
<h2>Runs</h2>
<table><tr><th>run</th><th>status</th><th>{score}</th><th>notebooks</th></tr>
{rows}
</table>
{failures}
<p>Data and run records: <code>environment.json</code>, <code>profile.yaml</code>, the track's tables
(<code>summary.csv</code> or <code>selection.json</code>), and in every run folder
<code>config.json</code>, <code>environment.json</code>, <code>history.csv</code>, <code>metrics.json</code>,
<code>predictions_*.csv</code>.</p>
</body></html>
"""


def write_headline(profile_dir: Path, figure, table: Styler) -> None:
    """Save a report's headline figure (a matplotlib Figure) and summary table (a pandas Styler, rendered
    with a fixed id so that the same numbers give the same file) for the index page."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    atomic_write_bytes(Path(profile_dir) / layout.HEADLINE_FIGURE, buffer.getvalue())
    atomic_write_text(Path(profile_dir) / layout.HEADLINE_TABLE, table.set_uuid("headline").to_html())


def clear_headline(profile_dir: Path) -> None:
    """Remove a previous report's headline, so that a report that fails leaves none behind."""
    for name in (layout.HEADLINE_FIGURE, layout.HEADLINE_TABLE):
        (Path(profile_dir) / name).unlink(missing_ok=True)


def headline(out: Path) -> str:
    """The headline section of the index page: the figure and the table a report left, or nothing."""
    parts = []
    if (out / layout.HEADLINE_FIGURE).is_file():
        parts.append(f'<img src="{layout.HEADLINE_FIGURE}" alt="headline figure of the report">')
    if (out / layout.HEADLINE_TABLE).is_file():
        parts.append(f'<div class="headline">{(out / layout.HEADLINE_TABLE).read_text()}</div>')
    return "<h2>Summary</h2>\n" + "\n".join(parts) if parts else ""


@dataclass(frozen=True)
class Link:
    """A file of the results folder and its label."""

    path: Path
    label: str

    def html(self, out: Path) -> str:
        """An anchor relative to `out`, or the label marked missing when the file is not there."""
        if not self.path.is_file():
            return f"{html.escape(self.label)} (missing)"
        return f'<a href="{html.escape(str(self.path.relative_to(out)))}">{html.escape(self.label)}</a>'


def write_index(
    out: Path,
    *,
    name: str,
    description: str,
    links: list[Link],
    rows: list[tuple[str, str, str, list[Link]]],
    failures: list,
    source: str,
    warn: bool,
    title: str,
    score: str,
) -> Path:
    """Write the index page of a profile's results folder: links, one row per run (name, status, score,
    notebooks), the failures with their executed notebooks; the data source, as a warning when `warn`."""
    data = (
        f'<p class="warn">WARNING: the data were made from {html.escape(source)}.</p>'
        if warn
        else f"<p>Data: {html.escape(source)}.</p>"
    )
    run_rows = "\n".join(
        f"<tr><td>{html.escape(run)}</td><td>{status}</td><td>{html.escape(value)}</td>"
        f"<td>{', '.join(link.html(out) for link in notebooks)}</td></tr>"
        for run, status, value, notebooks in rows
    )
    failure_items = "".join(
        f"<li>{html.escape(f.what)}: {html.escape(f.error)}<br>"
        f"{Link(f.notebook.with_suffix('.html'), str(f.notebook)).html(out)}</li>"
        for f in failures
    )
    page = PAGE.format(
        name=html.escape(name),
        description=html.escape(description),
        title=html.escape(title),
        data=data,
        headline=headline(out),
        links="".join(f"<li>{link.html(out)}</li>" for link in links),
        score=html.escape(score),
        rows=run_rows,
        failures=f'<h2>Failures</h2><ul class="warn">{failure_items}</ul>' if failures else "",
    )
    atomic_write_text(out / layout.INDEX, page)
    return out / layout.INDEX
