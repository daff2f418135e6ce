"""Run folders as data, for every track: finished runs, their records, predictions files, histories, mean +- std.

A run is finished when its metrics.json holds every split its track reports. Predictions are CSV
files: a track's label columns, then one float32 score column per class (`<prefix><class>`).
"""

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from lsml_core import layout
from lsml_core.records import atomic_write_text, read_json


def is_complete(run_dir: Path, splits) -> bool:
    """Whether the run's metrics.json holds every split of `splits`."""
    try:
        return set(splits) <= set(read_json(Path(run_dir) / layout.METRICS)["splits"])
    except (OSError, ValueError, KeyError):
        return False


def config_differences(run_dir: Path, cfg) -> list[str]:
    """The keys where the configuration that wrote the run folder differs from `cfg` (none for a new folder)."""
    path = Path(run_dir) / layout.CONFIG
    return cfg.differences(read_json(path)) if path.is_file() else []


def finished_runs(profile_dir: Path) -> Iterator[tuple[Path, dict, dict]]:
    """(run folder, config.json, metrics.json) of every run of a profile with metrics, in name order."""
    for path in sorted((Path(profile_dir) / layout.RUNS).glob(f"*/{layout.METRICS}")):
        yield path.parent, read_json(path.parent / layout.CONFIG), read_json(path)


def write_predictions(path: Path, labels: pd.DataFrame, scores: np.ndarray, columns: list[str]) -> None:
    """The label columns, then the scores as float32 columns named `columns`, atomically."""
    frame = pd.concat([labels.reset_index(drop=True), pd.DataFrame(scores.astype(np.float32), columns=columns)], axis=1)
    atomic_write_text(path, frame.to_csv(index=False, float_format="%.9g"))


def read_predictions(
    path: Path, prefix: str, score_dtype=np.float32, **read_csv
) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """(label columns, scores [N, K] as `score_dtype`, class names) of a predictions CSV whose score columns
    start with `prefix`; `read_csv`: pandas' options for the label columns."""
    frame = pd.read_csv(path, **read_csv)
    columns = [c for c in frame.columns if c.startswith(prefix)]
    return frame.drop(columns=columns), frame[columns].to_numpy(score_dtype), [c.removeprefix(prefix) for c in columns]


def histories(profile_dir: Path, columns: Callable[[dict], dict] | None = None) -> pd.DataFrame:
    """Every run's history.csv stacked, with its run name and `columns(config.json)` as extra columns."""
    frames = []
    for path in sorted(Path(profile_dir, layout.RUNS).glob(f"*/{layout.HISTORY}")):
        extra = columns(read_json(path.parent / layout.CONFIG)) if columns else {}
        frames.append(pd.read_csv(path).assign(run=path.parent.name, **extra))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def mean_std_text(mean: float, std: float, n: int, digits: int = 3) -> str:
    """`mean ± std (n=N)`, or `mean (one seed)`: one value has no spread to show."""
    if int(n) == 1:
        return f"{mean:.{digits}f} (one seed)"
    return f"{mean:.{digits}f} ± {std:.{digits}f} (n={int(n)})"


def mean_std_table(frame: pd.DataFrame, keys: list[str], values, digits: int = 3) -> pd.DataFrame:
    """`mean ± std (n=N)` of each column of `values` per group of `keys` (groups in order of appearance)."""
    stats = frame.groupby(keys, sort=False)[list(values)].agg(["mean", "std", "count"])
    return pd.DataFrame(
        {
            v: [mean_std_text(r[(v, "mean")], r[(v, "std")], r[(v, "count")], digits) for _, r in stats.iterrows()]
            for v in values
        },
        index=stats.index,
    )
