"""The grouped runs of a profile as data: one row per finished run and split with the factors an ablation
varies, the control's factors and rows, an arm's regime record, and the tables of runs, pseudo-labels and
confusion matrices the report shows."""

from pathlib import Path

import pandas as pd

from lsml_core import layout, regime
from lsml_core.grouped.config import TrainConfig, load_profile
from lsml_core.records import read_json
from lsml_core.results import finished_runs

FACTORS = ("model", "head", "sesemi", "weights", "smoothing", "pseudo")


def factors(train: dict, groups: tuple[str, ...]) -> dict:
    """The factors an ablation varies, as text, from a saved train config."""
    t = TrainConfig(**train)
    return {
        "model": t.model,
        "head": t.head,
        "sesemi": t.sesemi,
        "weights": ", ".join(f"{g} {t.weight(g):g}" for g in groups),
        "smoothing": t.smoothing_name(groups),
        "pseudo": "on" if t.pseudo else "off",
    }


def runs_frame(profile_dir: Path) -> pd.DataFrame:
    """One row per finished run x split: the run's factors, group weights and smoothing schemes, seed, epochs, best epoch,
    pseudo-labels, regime record (None when an older revision finished the run) and every metric."""
    rows = []
    for run_dir, config, metrics in finished_runs(profile_dir):
        groups, train = tuple(metrics["groups"]), TrainConfig(**config["train"])
        pseudo = metrics.get("pseudo_labels") or {}
        for split, values in metrics["splits"].items():
            rows.append(
                {
                    "run": run_dir.name,
                    **factors(config["train"], groups),
                    **{f"weight_{g}": train.weight(g) for g in groups},
                    **{f"scheme_{g}": train.scheme(g) for g in groups},
                    "seed": train.seed,
                    "epochs": train.epochs,
                    "best_epoch": metrics["best_epoch"],
                    "pseudo_threshold": pseudo.get("threshold"),
                    "pseudo_selection_count": pseudo.get("selection_count"),
                    "pseudo_kept": pseudo.get("kept"),
                    "pseudo_kept_right": pseudo.get("kept_right"),
                    "pseudo_fraction_kept": pseudo.get("fraction_kept"),
                    "pseudo_accuracy": pseudo.get("accuracy_of_kept"),
                    "regime": metrics.get("regime"),
                    "dose": metrics.get("dose"),
                    "split": split,
                    **values,
                }
            )
    return pd.DataFrame(rows)


def groups_of(runs: pd.DataFrame) -> list[str]:
    """The label groups, from the frame's `accuracy_<group>` columns."""
    return [c.removeprefix("accuracy_") for c in runs.columns if c.startswith("accuracy_")]


def control_runs(runs: pd.DataFrame, control_factors: dict) -> pd.DataFrame:
    """The control's rows (every seed and split)."""
    return runs[(runs[list(FACTORS)] == pd.Series(control_factors)).all(axis=1)]


def control(profile_dir: Path) -> dict:
    """The control's factors (the profile's `train` section)."""
    profile = load_profile(Path(profile_dir) / layout.PROFILE)
    return factors(vars(profile.train), profile.data.groups)


def arm_regime(records: list) -> dict | None:
    """`regime.summarise` of an arm's runs (its seeds); None when any run lacks its record."""
    return regime.summarise(records) if records and all(r is not None for r in records) else None


PSEUDO_COLUMNS = {
    "pseudo_threshold": "threshold",
    "pseudo_selection_count": "selection images at or above it",
    "pseudo_kept": "unlabeled images kept",
    "pseudo_kept_right": "kept and exactly right",
    "pseudo_fraction_kept": "fraction kept",
    "pseudo_accuracy": "exact accuracy of the kept",
}


def pseudo_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per run with pseudo-labels: the threshold chosen on the selection part, how many selection images it rests on,
    how many unlabeled images it kept and how many of those were exactly right (withheld labels), the fraction
    kept and their accuracy (missing where none was kept, or where an older revision did not record it)."""
    rows = runs[(runs.split == "test") & (runs.pseudo == "on")]
    return rows[["run", *PSEUDO_COLUMNS]].rename(columns=PSEUDO_COLUMNS).reset_index(drop=True)


def runs_on_test(runs: pd.DataFrame) -> pd.DataFrame:
    """Every run's factors, seed, best epoch and test metrics (pseudo-labels: see `pseudo_table`)."""
    test = runs[runs.split == "test"].reset_index(drop=True)
    hidden = [
        "split",
        "regime",
        "dose",
        "epochs",
        *[c for c in test.columns if c.startswith(("pseudo_", "weight_", "scheme_"))],
    ]
    return test.drop(columns=[c for c in hidden if c in test])  # a frame from an older revision has no dose


def confusion_frames(run_dir: Path) -> dict[str, pd.DataFrame]:
    """group -> the run's test confusion matrix as a frame (rows true, columns predicted)."""
    metrics = read_json(Path(run_dir) / layout.METRICS)
    return {
        group: pd.DataFrame(matrix, index=classes, columns=classes)
        for (group, matrix), classes in zip(metrics["confusion_matrices"].items(), metrics["classes"])
    }
