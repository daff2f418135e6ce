"""The multi-label profile's answer for the study's front page (`lsml_core.answers`): the regime of its BCE
baselines, the headline effects on val exactly as the report's summary shows them, THEIR numbers beside ours;
for runs read at their last epoch too, smoothing's gains under label noise at both epochs as the report's label
noise section shows them (`early_stopping`)."""

from pathlib import Path

import numpy as np
import pandas as pd

from lsml_core import regime
from lsml_core.answers import INTERVAL_METHOD, Answer, Effect, answer_of, finite, records, run_identities
from lsml_core.multilabel.config import Profile, RunConfig
from lsml_core.multilabel.early_stopping import noise_readings
from lsml_core.multilabel.learning_rates import kept_runs
from lsml_core.multilabel.report import ORIGINAL_PER_IMAGE_AP, baseline_of, model_name, original_comparison
from lsml_core.multilabel.summary import HEADLINE, interval_text
from lsml_core.multilabel.track import TRACK


def answer(
    profile_dir: Path,
    profile: Profile,
    effects: pd.DataFrame | None,
    long: pd.DataFrame,
    early: pd.DataFrame | None = None,
) -> Answer:
    """The profile's answer for the front page (`lsml_core.answers`): the regime of its BCE baselines, the
    headline effects on val as its summary table shows them, THEIR per-image AP beside ours; with `early`
    (`early_stopping.contrasts`, not empty) also the gains under label noise at both epochs, and every noise
    rate's baseline read with its arms' doses beside it."""
    summaries = regime.baseline_summaries(profile_dir, baseline_of, runs=kept_runs)
    pretrained = profile.train.pretrained != "none"
    readings = regime.profile_readings(profile_dir, baseline_of, runs=kept_runs, pretrained=pretrained)
    comparison = original_comparison(long) if not long.empty else pd.DataFrame()
    theirs = comparison if not comparison.empty else ORIGINAL_PER_IMAGE_AP
    noisy = early is not None and not early.empty
    where = "clean labels (training labels noisy where an arm names a noise rate)" if noisy else "clean labels"
    return answer_of(
        profile,
        TRACK,
        regime=regime.axis(pretrained, list(summaries.values())),
        baseline_regimes={name.removesuffix(" BCE"): regime.axis(pretrained, [s]) for name, s in summaries.items()},
        runs=run_identities(kept_runs(profile_dir), RunConfig),
        readings=[sentence for _, sentence in readings] + (noise_readings(profile_dir) if noisy else []),
        caveat=regime.conclusion_caveat([kind for kind, _ in readings]),
        interval=f"val, {where}; 95% interval over seeds and images, seeds paired ({INTERVAL_METHOD})",
        effects=([] if effects is None else answer_effects(effects)) + (noise_effects(early) if noisy else []),
        theirs_title="Per-image AP on Pascal VOC 2012, ImageNet-pretrained (the original study's README)",
        theirs=records(theirs),
    )


def answer_effects(effects: pd.DataFrame) -> list[Effect]:
    """The headline effects as the answer holds them: one per model, arm and metric, in the report's order."""
    columns = ("difference", "ci_low", "ci_high", "paired_seeds")
    effects = effects.assign(**{c: effects.get(c, np.nan) for c in columns})
    return [
        Effect(
            model=model_name(r.model),
            arm=r.arm,
            metric=r.metric,
            higher_is_better=HEADLINE[r.metric],
            value=finite(r.value),
            difference=finite(r.difference),
            low=finite(r.ci_low),
            high=finite(r.ci_high),
            text=interval_text(r.arm, r.difference, r.ci_low, r.ci_high),
            is_baseline=r.arm == "none",
            seeds=None if pd.isna(r.paired_seeds) else int(r.paired_seeds),
        )
        for r in effects.itertuples()
    ]


NOISE_ARMS = {  # contrast of `early_stopping.contrasts` -> how the front page names it
    "gain best": "{arm} at noise {noise:g}, best epoch",
    "gain last": "{arm} at noise {noise:g}, last epoch",
    "gain minus clean best": "{arm}: gain at noise {noise:g} minus at 0, best epoch",
    "gain minus clean last": "{arm}: gain at noise {noise:g} minus at 0, last epoch",
    "early stopping - smoothing": "{arm} at its last epoch against none at its best, noise {noise:g}",
}
SIGN = {"early stopping - smoothing": -1}  # shown from the arm's side: better when smoothing alone beats stopping early


def noise_effects(early: pd.DataFrame) -> list[Effect]:
    """Smoothing under label noise as the answer holds it: per model, arm and noise rate, its mAP gain at the best
    and at the last epoch (the clean best epoch's is the headline's), each gain at p minus its gain on clean labels,
    and the arm trained to its last epoch against the baseline stopped early (`NOISE_ARMS`, `SIGN`)."""
    repeated = (early.noise == 0) & (early.contrast == "gain best")  # the headline's effect on clean labels
    rows = early[early.contrast.isin(NOISE_ARMS) & ~repeated]
    effects = []
    for r in rows.itertuples():
        sign = SIGN.get(r.contrast, 1)
        difference, low, high = sign * r.difference, *sorted((sign * r.ci_low, sign * r.ci_high))
        effects.append(
            Effect(
                model=model_name(r.model),
                arm=NOISE_ARMS[r.contrast].format(arm=r.arm, noise=r.noise),
                metric="mAP",
                higher_is_better=True,
                value=None,
                difference=finite(difference),
                low=finite(low),
                high=finite(high),
                text=interval_text(r.arm, difference, low, high),
                seeds=int(r.seeds),
            )
        )
    return effects
