"""Learning rates chosen on the selection part, so that no loss loses by its recipe.

Runs are grouped by model, loss, scheme, alpha and noise rate; a group whose runs were trained at several
rates (an arm's `lr` in the grid) keeps the rate whose runs reach the highest mean over seeds of their best
selection mAP (the score that also chooses each run's best epoch), and the report reads only the kept runs.
Val and test never choose.
"""

from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd

from lsml_core import layout
from lsml_core.results import finished_runs

GROUP = ["model", "loss", "scheme", "alpha", "noise"]


def grid_runs(profile_dir: Path) -> pd.DataFrame:
    """One row per finished run of a group trained at several rates: its group, lr, seed and best selection mAP."""
    rows = []
    for run_dir, config, _ in finished_runs(profile_dir):
        t = config["train"]
        rows.append(
            {
                "run": run_dir,
                "model": t["model"],
                "loss": t.get("loss", "bce"),
                "scheme": t["scheme"],
                "alpha": t["alpha"],
                "noise": t.get("label_noise", 0.0),
                "lr": t.get("lr_head"),
                "seed": t["seed"],
            }
        )
    runs = pd.DataFrame(rows, columns=["run", *GROUP, "lr", "seed"])
    runs = runs[runs.groupby(GROUP)["lr"].transform("nunique") > 1].reset_index(drop=True)
    best = [float(pd.read_csv(run_dir / layout.HISTORY)["selection_map"].max()) for run_dir in runs.run]
    return runs.assign(run=[run_dir.name for run_dir in runs.run], selection_map=best)


def choices(profile_dir: Path, runs: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per group and lr: the mean best selection mAP over seeds, the number of seeds, and whether it is chosen
    (`runs`: `grid_runs(profile_dir)` when the caller has read it already)."""
    runs = grid_runs(profile_dir) if runs is None else runs
    table = runs.groupby([*GROUP, "lr"], as_index=False).agg(
        selection_map=("selection_map", "mean"), seeds=("seed", "size")
    )
    best = table.groupby(GROUP)["selection_map"].transform("max")
    return table.assign(chosen=table.selection_map == best)


def kept_rates(table: pd.DataFrame) -> pd.DataFrame:
    """Per group of a `choices` table: the kept rate (the lowest of the best) and the lowest and highest searched."""
    kept = table[table.chosen].groupby(GROUP, as_index=False)["lr"].min()
    searched = table.groupby(GROUP, as_index=False)["lr"].agg(lowest="min", highest="max")
    return kept.merge(searched, on=GROUP)


def edge_sentences(table: pd.DataFrame, name: Callable[[str], str] = str) -> list[str]:
    """A sentence per group whose kept rate is the lowest or highest it searched: a rate beyond the grid may
    reach a higher selection mAP, so that arm may still lose by its recipe (`name`: a model's name in text)."""
    sentences = []
    for row in kept_rates(table).itertuples():
        side = "highest" if row.lr == row.highest else "lowest" if row.lr == row.lowest else None
        if side is None:
            continue
        beyond = "higher" if side == "highest" else "lower"
        arm = f"{name(row.model)} {row.loss} ({row.scheme}, alpha {row.alpha:g}, label noise {row.noise:g})"
        sentences.append(
            f"{arm}: the kept rate {row.lr:g} is the {side} searched ({row.lowest:g} to {row.highest:g}); a "
            f"{beyond} rate may reach a higher selection mAP, so this arm may still lose by its recipe."
        )
    return sentences


def unchosen(profile_dir: Path) -> set[str]:
    """Names of the grid runs at a rate their group did not choose (ties keep the lowest rate)."""
    runs = grid_runs(profile_dir)
    kept = kept_rates(choices(profile_dir, runs))[[*GROUP, "lr"]]
    merged = runs.merge(kept, on=GROUP, suffixes=("", "_kept"))
    return set(merged.loc[merged.lr != merged.lr_kept, "run"])


def kept_runs(profile_dir: Path) -> Iterator[tuple[Path, dict, dict]]:
    """`results.finished_runs` without the grid runs at unchosen learning rates: what the report reads."""
    dropped = unchosen(profile_dir)
    for run_dir, config, metrics in finished_runs(profile_dir):
        if run_dir.name not in dropped:
            yield run_dir, config, metrics
