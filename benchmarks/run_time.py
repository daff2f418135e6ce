"""Where a profile's run time goes, from what its runs recorded: per run, the whole execution
(`execution.json`), the epochs (`history.csv`), and each executed notebook's time and its slowest cell
(papermill's per-cell durations); the rest is kernel starts, imports, evaluation and rendering.

    python -m benchmarks.run_time results/demo [results/demo-other ...]

Prints one row per run and a mean per model, for each results folder given.
"""

import argparse
import json
from pathlib import Path

import pandas as pd

from lsml_core import layout


def notebook_times(path: Path) -> tuple[float, float]:
    """(the notebook's execution seconds, its slowest cell's seconds) from papermill's metadata."""
    notebook = json.loads(path.read_text())
    cells = [c["metadata"].get("papermill", {}).get("duration") or 0.0 for c in notebook["cells"]]
    return float(notebook["metadata"]["papermill"]["duration"]), float(max(cells, default=0.0))


def run_row(run_dir: Path) -> dict:
    """One run's seconds: in all (its last execution), training epochs, and per notebook (whole and slowest
    cell). A run that resumed counts earlier executions' epochs too: `outside_epochs` is then too small."""
    row = {"run": run_dir.name, "seconds": json.loads((run_dir / layout.EXECUTION).read_text())["seconds"]}
    row["epochs"] = float(pd.read_csv(run_dir / layout.HISTORY).seconds.sum())
    for notebook in sorted(run_dir.glob(layout.notebook("*"))):
        step = notebook.stem.split("-", 1)[1]
        row[f"{step}_notebook"], row[f"{step}_slowest_cell"] = notebook_times(notebook)
    row["outside_epochs"] = row["seconds"] - row["epochs"]
    return row


def ended(run_dir: Path) -> bool:
    """Whether the run's last execution ended (its execution.json then holds its seconds)."""
    path = run_dir / layout.EXECUTION
    return path.is_file() and "seconds" in json.loads(path.read_text())


def runs_frame(profile_dir: Path) -> pd.DataFrame:
    """A row per run of a profile's results folder that has an execution record and a history."""
    runs = sorted(d for d in (profile_dir / layout.RUNS).iterdir() if ended(d) and (d / layout.HISTORY).is_file())
    return pd.DataFrame([run_row(d) for d in runs])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile_dirs", nargs="+", type=Path, help="results/<profile> folders")
    args = parser.parse_args(argv)
    for profile_dir in args.profile_dirs:
        frame = runs_frame(profile_dir)
        print(f"{profile_dir}:")
        print(frame.to_string(index=False, float_format="{:.1f}".format))
        means = frame.assign(model=frame.run.str.split("-").str[0]).groupby("model").mean(numeric_only=True)
        print(means.to_string(float_format="{:.1f}".format))


if __name__ == "__main__":
    main()
