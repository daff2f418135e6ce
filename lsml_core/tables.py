"""Tables as every track's report shows them: no index column, words for booleans and missing values,
no raw Python objects, numbers formatted.

A frame's index becomes ordinary columns (a default 0..n-1 index is dropped); True/False read `yes`/`no`;
None and NaN read as the caller's `missing` text (e.g. "n/a (one seed)"); dicts and lists become
`key=value, ...` text; floats are formatted per column (`formats`) or with `precision` digits.
"""

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

MISSING = "n/a"
SHORT = 20  # characters: a text column no longer than this is kept on one line


def is_missing(value) -> bool:
    """None, NaN or pandas' NA."""
    return value is None or value is pd.NA or (isinstance(value, (float, np.floating)) and math.isnan(value))


def as_text(value, missing: str = MISSING):
    """A cell as a reader should see it: bools and containers as words, missing as `missing`, else unchanged."""
    if is_missing(value):
        return missing
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={as_text(v, missing)}" for k, v in value.items())
    if isinstance(value, (list, tuple, set)):
        return ", ".join(str(as_text(v, missing)) for v in value)
    return value


def flat(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its index as columns (an unnamed integer index, row numbers, dropped) and one-level
    column names."""
    frame = frame.copy()
    if isinstance(frame.columns, pd.MultiIndex):
        frame.columns = [" ".join(str(part) for part in col if str(part)) for col in frame.columns]
    named = any(name is not None for name in frame.index.names)
    if named or frame.index.nlevels > 1 or not pd.api.types.is_integer_dtype(frame.index):
        names = [
            n if n is not None else ("" if frame.index.nlevels == 1 else f"level {i}")
            for i, n in enumerate(frame.index.names)
        ]
        frame = frame.reset_index(names=names)
    return frame.reset_index(drop=True)


def readable(frame: pd.DataFrame, missing: str = MISSING) -> pd.DataFrame:
    """`flat(frame)` with every non-float cell passed through `as_text` (float columns keep their dtype)."""
    frame = flat(frame)
    for column in frame.columns:
        if not pd.api.types.is_float_dtype(frame[column]):
            frame[column] = [as_text(v, missing) for v in frame[column]]
    return frame


def styled(
    frame: pd.DataFrame, formats: Mapping[str, str] | None = None, precision: int = 3, missing: str = MISSING
) -> Styler:
    """The report's view of a table: `readable(frame)`, index hidden, floats with `formats[column]` (a format
    string such as '{:+.4f}') or `precision` digits, missing values as `missing`; text columns aligned left,
    short ones kept on one line."""
    frame = readable(frame, missing)
    style = frame.style.hide(axis="index").format(precision=precision, na_rep=missing)
    numeric = {c: f for c, f in (formats or {}).items() if c in frame.columns}
    if numeric:
        style = style.format(numeric, na_rep=missing, subset=list(numeric))
    text = [i for i, c in enumerate(frame.columns) if not pd.api.types.is_numeric_dtype(frame[c])]
    short = [frame.columns[i] for i in text if frame.iloc[:, i].astype(str).str.len().max() <= SHORT]
    headers = [{"selector": f"th.col_heading.col{i}", "props": "text-align: left"} for i in text]
    style = style.set_table_styles(headers, overwrite=False)
    if text:
        style = style.set_properties(subset=[frame.columns[i] for i in text], **{"text-align": "left"})
    return style.set_properties(subset=short, **{"white-space": "nowrap"}) if short else style
