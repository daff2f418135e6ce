"""The single-label and grouped report notebooks open with their summary, then link every section."""

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


@pytest.mark.parametrize("name", ["grouped/3.0-report", "multiclass/2.0-report"])
def test_report_notebook_opens_with_its_summary_then_links_every_section(name):
    book = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    markdown = [c.source for c in book.cells if c.cell_type == "markdown"]
    headings = [line[3:] for text in markdown for line in text.splitlines() if line.startswith("## ")]
    contents = [text for text in markdown if text.startswith("**Contents**")]
    assert headings[0] == "Summary" and len(contents) == 1
    assert markdown.index(contents[0]) == 2  # title, summary, contents, then the sections
    links = [re.fullmatch(r"- \[(.+)\]\(#(.+)\)", line).groups() for line in contents[0].splitlines()[2:]]
    # nbconvert's HTML gives a heading the id of its text with spaces as dashes
    assert links == [(heading, heading.replace(" ", "-")) for heading in headings[1:]]
    assert "parameters" in book.cells[1].metadata.tags
    assert not [c for c in book.cells if c.cell_type == "code" and (c.outputs or c.execution_count)]
