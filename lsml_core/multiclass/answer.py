"""The single-label profile's answer for the study's front page (`lsml_core.answers`): the regime of its CE
baselines, each arm's headline metrics against CE exactly as the report's summary shows them (the paired
difference with its interval over seeds and images), and the replication of Maher & Kull's claims."""

from pathlib import Path

import pandas as pd

from lsml_core import regime
from lsml_core.answers import INTERVAL_METHOD, Answer, Effect, answer_of, finite, records, run_identities
from lsml_core.multiclass.config import Profile, RunConfig
from lsml_core.multiclass.replication import THEIR_ARCHITECTURE, replication_table
from lsml_core.multiclass.report import baseline_records, conclusion_caveat, regime_readings
from lsml_core.multiclass.summary import BASELINE, BETTER, HEADLINE_METRICS, difference_text
from lsml_core.multiclass.track import TRACK
from lsml_core.results import finished_runs


def answer(profile_dir: Path, profile: Profile, runs: pd.DataFrame, effects: pd.DataFrame) -> Answer:
    """The profile's answer: regime, the test effects of `summary.arm_effects`, THEIR claims beside ours."""
    readings = regime_readings(profile_dir, profile.name)
    summaries = {
        model: regime.summarise(r) if all(x is not None for x in r) else None
        for model, r in baseline_records(profile_dir).items()
    }
    return answer_of(
        profile,
        TRACK,
        regime=regime.axis(False, list(summaries.values())),
        baseline_regimes={model: regime.axis(False, [s]) for model, s in summaries.items()},
        runs=run_identities(finished_runs(profile_dir), RunConfig),
        readings=[sentence for sentence, _ in readings],
        caveat=conclusion_caveat(readings),
        interval=f"test, before temperature scaling; 95% interval over seeds and images, seeds paired ({INTERVAL_METHOD})",
        effects=answer_effects(effects),
        theirs_title=f"Maher & Kull's claims on Fashion-MNIST (THEIRS: {THEIR_ARCHITECTURE}) beside ours",
        theirs=records(replication_table(profile_dir, runs).reset_index()) if not runs.empty else [],
    )


def answer_effects(effects: pd.DataFrame) -> list[Effect]:
    """One effect per model, arm and headline metric, in the summary's order; the text as the summary shows it."""
    return [
        Effect(
            model=r["model"],
            arm=r["arm"],
            metric=HEADLINE_METRICS[r["metric"]],
            higher_is_better=BETTER[r["metric"]] == "higher",
            value=finite(r["mean"]),
            difference=finite(r["difference"]),
            low=finite(r["ci_low"]),
            high=finite(r["ci_high"]),
            text="baseline"
            if r["arm"] == BASELINE
            else difference_text(r["difference"], r["ci_low"], r["ci_high"], r["paired seeds"]),
            is_baseline=r["arm"] == BASELINE,
            seeds=int(r["paired seeds"]) or None,
        )
        for r in effects.to_dict("records")
    ]
