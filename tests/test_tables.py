"""Tables as the reports show them, and the index page's headline."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from lsml_core import tables  # noqa: E402
from lsml_core.index_page import clear_headline, write_headline, write_index  # noqa: E402
from lsml_core.layout import HEADLINE_FIGURE, HEADLINE_TABLE  # noqa: E402


def test_readable_words_for_booleans_missing_values_and_objects():
    frame = pd.DataFrame(
        {
            "same direction": [True, False, None],
            "grid": [{"alpha": 0.1, "T": 2}, None, [1, 2]],
            "value": [0.5, np.nan, 1.25],
        }
    )
    view = tables.readable(frame, missing="n/a (one seed)")
    assert view["same direction"].tolist() == ["yes", "no", "n/a (one seed)"]
    assert view["grid"].tolist() == ["alpha=0.1, T=2", "n/a (one seed)", "1, 2"]
    assert view["value"].dtype == float


def test_flat_turns_named_indexes_into_columns_and_drops_row_numbers():
    frame = pd.DataFrame({"x": [1.0, 2.0]}, index=pd.Index(["a", "b"], name="arm"))
    assert list(tables.flat(frame).columns) == ["arm", "x"]
    assert list(tables.flat(frame.reset_index().iloc[::-1]).columns) == ["arm", "x"]
    pivot = pd.DataFrame(
        {"none": [0.5]}, index=pd.MultiIndex.from_tuples([("val", "ResNet-18")], names=["split", "model"])
    )
    assert list(tables.flat(pivot).columns) == ["split", "model", "none"]
    assert list(tables.flat(pd.DataFrame({"x": [1.0]}, index=["row"])).columns) == ["", "x"]


def test_styled_hides_the_index_and_formats_numbers():
    frame = pd.DataFrame({"arm": ["LS"], "difference": [0.01234], "ci": [np.nan], "ok": [True]})
    html = tables.styled(frame, {"difference": "{:+.3f}"}, missing="n/a (one seed)").to_html()
    assert "+0.012" in html and "n/a (one seed)" in html and ">yes<" in html
    assert "True" not in html and "nan" not in html.lower().replace("n/a", "")
    assert "row_heading" not in html


def empty_index(out) -> str:
    """The index page of a profile folder without runs, links or failures."""
    fields = dict(name="p", description="d", links=[], rows=[], failures=[], source="source", warn=False)
    return write_index(out, **fields, title="Title", score="score").read_text()


def test_index_page_leads_with_the_headline(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    write_headline(tmp_path, fig, tables.styled(pd.DataFrame({"summary": ["summary row"]})))
    assert (tmp_path / HEADLINE_FIGURE).read_bytes()[:4] == b"\x89PNG" and (tmp_path / HEADLINE_TABLE).is_file()
    page = empty_index(tmp_path)
    assert page.index(f'<img src="{HEADLINE_FIGURE}"') < page.index("summary row") < page.index("<h2>Report</h2>")


def test_index_page_without_a_headline_has_no_summary(tmp_path):
    page = empty_index(tmp_path)
    assert "<h2>Summary</h2>" not in page


def test_formats_apply_to_their_columns_only_and_text_is_aligned_left():
    frame = pd.DataFrame({"arm": ["LS"], "difference": [0.01234], "value": [0.123456]})
    html = tables.styled(frame, {"difference": "{:+.4f}"}).to_html()
    assert "+0.0123" in html and "0.123<" in html and "0.123456" not in html
    assert "text-align: left" in html and "white-space: nowrap" in html


def test_headline_table_is_the_same_file_for_the_same_numbers(tmp_path):
    fig, _ = plt.subplots()
    frame = pd.DataFrame({"arm": ["none", "LS"], "value": [0.5, 0.25]})
    write_headline(tmp_path / "a", fig, tables.styled(frame))
    write_headline(tmp_path / "b", fig, tables.styled(frame))
    for name in (HEADLINE_TABLE, HEADLINE_FIGURE):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_clear_headline_removes_a_previous_reports_headline(tmp_path):
    fig, _ = plt.subplots()
    write_headline(tmp_path, fig, tables.styled(pd.DataFrame({"x": [1.0]})))
    clear_headline(tmp_path)
    assert not (tmp_path / HEADLINE_FIGURE).exists() and not (tmp_path / HEADLINE_TABLE).exists()


def test_unnamed_multi_index_and_float32_nan():
    frame = pd.DataFrame({"x": [np.float32("nan"), 1.0]}, index=pd.MultiIndex.from_tuples([("a", 1), ("b", 2)]))
    assert list(tables.flat(frame).columns) == ["level 0", "level 1", "x"]
    assert tables.as_text(np.float32("nan"), "missing") == "missing"
