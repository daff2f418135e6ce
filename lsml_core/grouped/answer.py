"""The grouped profile's answer for the study's front page (`lsml_core.answers`): the regime of its control,
each ablation's difference in test exact match with its interval over seeds and images exactly as the report's
summary shows it, the report's sentences on smoothing per group (`smoothing_effects`: each group's accuracy and
calibration, the pseudo-labels), and the source's Table 1 (THEIRS) beside ours."""

from pathlib import Path

import pandas as pd

from lsml_core import layout, regime
from lsml_core.answers import INTERVAL_METHOD, Answer, Effect, answer_of, finite, records, run_identities
from lsml_core.grouped.ablations import LEVEL, ablation_label, interval_text
from lsml_core.grouped.config import RunConfig, load_profile
from lsml_core.grouped.report import caveat, control_regime
from lsml_core.grouped.runs import arm_regime, control_runs
from lsml_core.grouped.smoothing_effects import SmoothingReading
from lsml_core.grouped.table_one import table_one
from lsml_core.grouped.track import TRACK
from lsml_core.results import finished_runs


def answer(
    profile_dir: Path, runs: pd.DataFrame, control: dict, table: pd.DataFrame, smoothing: SmoothingReading | None = None
) -> Answer:
    """The profile's answer from the report's frames: `runs_frame`, the control's factors, `ablations`, and the
    smoothing reading (`smoothing_effects.read`) where the report made one."""
    profile = load_profile(Path(profile_dir) / layout.PROFILE)
    sentence, kind = control_regime(profile_dir, runs, control)
    test = control_runs(runs, control)
    summary = arm_regime(test[test.split == "test"].regime.tolist())
    return answer_of(
        profile,
        TRACK,
        regime=regime.axis(bool(profile.train.pretrained), [summary]),
        runs=run_identities(finished_runs(profile_dir), RunConfig),
        readings=[sentence, *(smoothing.readings() if smoothing else [])],
        caveat=caveat(kind),
        interval=f"test exact match; {LEVEL:.0%} interval over seeds and test images, seeds paired ({INTERVAL_METHOD})",
        effects=[ablation_effect(row) for row in table.to_dict("records")],
        theirs_title="Table 1 of the source (THEIRS, exact match %) beside ours",
        theirs=records(table_one(runs, control)) if not runs.empty else [],
    )


def ablation_effect(row: dict) -> Effect:
    """An ablation as an effect: the changed arm against its control in test exact match."""
    verdict = row["verdict"] if row["verdict"].startswith("identical") else ""
    flags = [f for f in (verdict, "chance level" if row.get("chance level") else "") if f]
    return Effect(
        model="",
        arm=ablation_label(row),
        metric="exact match",
        higher_is_better=True,
        value=finite(row["exact match, changed"]),
        difference=finite(row["difference"]),
        low=finite(row["interval low"]),
        high=finite(row["interval high"]),
        text=f"{row['difference']:+.3f} {interval_text(row['interval low'], row['interval high'])}"
        + "".join(f" ({f})" for f in flags),
        seeds=int(row["seeds"]),
    )
