"""The grouped report's readings of its control, computed from the runs' metrics.json: the regime of the
control (`lsml_core.regime.reading`), which opens the report, each smoothed arm's dose beside the control's
overconfidence, and the caveat its conclusions open with (`lsml_core.regime.conclusion_caveat`). Its tables
are in `runs`, `ablations` and `table_one`, its figure in `plots`."""

from pathlib import Path

import pandas as pd

from lsml_core import dose, layout, regime
from lsml_core.grouped.config import load_profile
from lsml_core.grouped.runs import FACTORS, arm_regime, control_runs, groups_of


def profile_name(profile_dir: Path) -> str:
    """The name of the profile whose results are in `profile_dir` (its recorded profile.yaml)."""
    return load_profile(Path(profile_dir) / layout.PROFILE).name


def control_regime(profile_dir: Path, runs: pd.DataFrame, control_factors: dict) -> tuple[str, str]:
    """(the generated sentence on the control's regime, its kind: `regime.kind`'s, or unknown (no finished
    run) or unrecorded (finished by an older revision))."""
    test = control_runs(runs, control_factors)
    test = test[test.split == "test"]
    summary = arm_regime(test.regime.tolist())
    if summary is None:
        if test.empty:
            return "The control has no finished run: its regime is unknown.", "unknown"
        return (
            "The regime of the control is not recorded (its runs were finished by an older revision): "
            f"`./run_all.sh --profile {profile_name(profile_dir)} --force` redoes them with it.",
            "unrecorded",
        )
    pretrained = bool(load_profile(Path(profile_dir) / layout.PROFILE).train.pretrained)
    return regime.reading(summary, "control", pretrained), regime.kind(summary, pretrained)


def dose_readings(runs: pd.DataFrame, control_factors: dict) -> list[str]:
    """Per smoothed arm and group, the arm's mean dose over its seeds beside the control's overconfidence in that
    group on the selection part (`lsml_core.dose.sentence`); an arm is named by the factors it changes."""
    if runs.empty:
        return []
    rows, groups = runs[runs.split == "test"], groups_of(runs)
    control = control_runs(rows, control_factors)
    gaps = {}
    for g in groups:
        found = [dose.selection_gap({"regime": r}, g) if r is not None else None for r in control.regime]
        gaps[g] = dose.mean_recorded(found)
    sentences = []
    for key, arm in rows[rows.smoothing != "nosmooth"].groupby(list(FACTORS), sort=False):
        changed = {f: v for f, v in zip(FACTORS, key) if v != control_factors.get(f)}
        name = ", ".join(f"{f} {v}" for f, v in changed.items()) or "control"
        for g in groups:
            value = dose.mean_recorded(dose.recorded({"dose": d}, g) for d in arm.dose)
            sentences.append(dose.sentence(f"{name}, {g}", value, gaps[g], baseline="the control"))
    return sentences


def caveat(kind: str) -> str:
    """The sentence the conclusions open with: `regime.conclusion_caveat` of the control's kind."""
    return regime.conclusion_caveat([kind])
