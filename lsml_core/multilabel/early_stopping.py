"""Smoothing under label noise read at two epochs of each run: the one the (noisy) selection part chose and the
last (`train.evaluate_last`, the split `val_last`), since early stopping is itself a guard against memorised noise.

Every contrast is in val mAP (clean labels), seeds paired, with its interval over seeds and images
(`lsml_core.bootstrap`), each run's two readings scored on the same images and resamples:

- smoothing's gain at noise p and epoch e: arm_p,e - none_p,e;
- the difference of differences: (arm_p,e - none_p,e) - (arm_0,e - none_0,e);
- early stopping's own gain: none_p,best - none_p,last;
- early stopping against smoothing: none_p,best - arm_p,last, the baseline stopped early against the smoothed arm
  trained to its last epoch. An interval that contains zero reads as early stopping alone recovering what
  smoothing does; one above zero as early stopping doing more; one below zero as it falling short.

Each noise rate's baseline is read here too (the report's regime section reads the clean ones), and each arm's
dose is set against its baseline's overconfidence on the selection part at its selected epoch and, where it was
read there, at its last: a dose within MATCH of a gap, relative to it, matches it.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from lsml_core import dose, layout, regime
from lsml_core.bootstrap import contrast_interval, verdict
from lsml_core.multilabel.evaluate import LAST_SPLIT, read_predictions
from lsml_core.multilabel.learning_rates import kept_runs
from lsml_core.multilabel.map_bootstrap import per_class_ap
from lsml_core.multilabel.report import arm, arm_order, model_name
from lsml_core.multilabel.summary import check_same_images

READINGS = {"best": "val", "last": LAST_SPLIT}  # the epoch a run is read at -> the split holding that reading
MATCH = 0.2  # a dose within this fraction of the baseline's overconfidence matches it
COLUMNS = ["model", "arm", "noise", "contrast", "seeds", "difference", "ci_low", "ci_high", "verdict"]


def has_last_epoch(runs: pd.DataFrame) -> bool:
    """Whether some run of the frame (`evidence.runs_frame`) was also read at its last epoch."""
    return not runs.empty and (runs.split == LAST_SPLIT).any()


def cells(runs: pd.DataFrame) -> dict[tuple[str, str, float], pd.Series]:
    """(model, arm, noise) -> seed -> run, for the runs read at both epochs."""
    rows = runs[runs.split == LAST_SPLIT]
    return {key: group.set_index("seed").run for key, group in rows.groupby(["model", "arm", "noise"])}


def map_of(profile_dir: Path, run: str, split: str):
    """The predictions of one run's reading, and its mAP as a function of draw counts [B, N] -> [B]."""
    pred = read_predictions(Path(profile_dir) / layout.RUNS / run / layout.predictions(split))
    return pred, lambda counts: np.nanmean(per_class_ap(pred.targets, pred.scores, pred.masks, counts), axis=1)


def combination(profile_dir: Path, terms: list[tuple[int, pd.Series, str]], n_boot: int = 1000) -> dict:
    """sum of sign x mAP(run of seed s, split) over `terms` (sign, seed -> run, split), per seed, over the seeds
    every term has; its mean over those seeds with its interval and verdict (empty without a common seed)."""
    seeds = sorted(set.intersection(*(set(runs.index) for _, runs, _ in terms)))
    if not seeds:
        return {}
    scored = {(run, split): map_of(profile_dir, run, split) for _, runs, split in terms for run in runs[seeds]}
    check_same_images({f"{run} ({split})": pred for (run, split), (pred, _) in scored.items()})
    contrasts = [
        lambda counts, s=s: sum(sign * scored[(runs[s], split)][1](counts) for sign, runs, split in terms)
        for s in seeds
    ]
    n_images = len(next(iter(scored.values()))[0].ids)
    result = contrast_interval(contrasts, n_images, n_boot=n_boot)
    return {
        "seeds": len(seeds),
        "difference": result["difference"],
        "ci_low": result["ci_low"],
        "ci_high": result["ci_high"],
        "verdict": verdict(result),
    }


def contrasts(profile_dir: Path, runs: pd.DataFrame, n_boot: int = 1000) -> pd.DataFrame:
    """One row per model, smoothed arm, noise rate and contrast of the module docstring (`gain best`, `gain last`,
    `gain minus clean best`, `gain minus clean last` at p > 0, `early stopping`, `early stopping - smoothing`),
    with its interval; runs read at both epochs only."""
    found = cells(runs)
    rows = []
    for (model, name, rate), other in found.items():
        base = found.get((model, "none", rate))
        if name == "none" or base is None:
            continue
        clean = (found.get((model, name, 0.0)), found.get((model, "none", 0.0)))
        wanted = {f"gain {e}": [(1, other, s), (-1, base, s)] for e, s in READINGS.items()}
        if rate and clean[0] is not None and clean[1] is not None:
            for e, s in READINGS.items():
                wanted[f"gain minus clean {e}"] = [*wanted[f"gain {e}"], (-1, clean[0], s), (1, clean[1], s)]
        wanted["early stopping"] = [(1, base, READINGS["best"]), (-1, base, LAST_SPLIT)]
        wanted["early stopping - smoothing"] = [(1, base, READINGS["best"]), (-1, other, LAST_SPLIT)]
        for contrast, terms in wanted.items():
            result = combination(profile_dir, terms, n_boot)
            if result:
                rows.append({"model": model, "arm": name, "noise": rate, "contrast": contrast, **result})
    frame = pd.DataFrame(rows, columns=COLUMNS)
    order = {a: i for i, a in enumerate(arm_order(runs))}
    return frame.sort_values(["model", "noise", "arm"], key=lambda c: c.map(order) if c.name == "arm" else c)


def interval(row) -> str:
    """`+0.012 [+0.003, +0.020]`."""
    return f"{row.difference:+.4f} [{row.ci_low:+.4f}, {row.ci_high:+.4f}]"


def seeds_note(seeds: int) -> str:
    """What an interval covers, as a sentence's closing words."""
    return f"{seeds} paired seeds" if seeds > 1 else "one seed: training randomness not covered"


GAIN_WORDS = {"higher": "a gain", "lower": "a loss", "no clear difference": "no clear difference"}
MORE_WORDS = {"higher": "larger than", "lower": "smaller than", "no clear difference": "not clearly different from"}
STOPPING_WORDS = {
    "higher": "early stopping alone does more than smoothing without it",
    "lower": "early stopping alone falls short of what smoothing does without it",
    "no clear difference": "early stopping alone recovers what smoothing does (no clear difference between them)",
}


def sentences(found: pd.DataFrame) -> list[str]:
    """Per model, smoothed arm and noise rate: its gain at the best and at the last epoch, the gain at p minus the
    gain on clean labels at each, and whether early stopping alone recovers what smoothing does; each read off its
    interval."""
    out = []
    for (model, name, rate), group in found.groupby(["model", "arm", "noise"], sort=False):
        by = group.set_index("contrast")
        who = f"{model_name(model)}, {name} - none at label noise {rate:g} (val mAP, {seeds_note(group.seeds.min())})"
        parts = [
            f"at the {e} epoch {interval(by.loc[f'gain {e}'])}, {GAIN_WORDS[by.loc[f'gain {e}'].verdict]}"
            for e in READINGS
            if f"gain {e}" in by.index
        ]
        out.append(f"{who}: smoothing's gain {'; '.join(parts)}.")
        for e in READINGS:
            key = f"gain minus clean {e}"
            if key in by.index:
                r = by.loc[key]
                out.append(
                    f"{who}, {e} epoch: the gain at noise {rate:g} minus the gain on clean labels is {interval(r)}: "
                    f"the gain under noise is {MORE_WORDS[r.verdict]} the gain on clean labels."
                )
        if "early stopping - smoothing" in by.index:
            stop, versus = by.loc["early stopping"], by.loc["early stopping - smoothing"]
            out.append(
                f"{who}: early stopping gives the baseline {interval(stop)} (best epoch minus last); the baseline at "
                f"its best epoch minus {name} at its last is {interval(versus)}: {STOPPING_WORDS[versus.verdict]}."
            )
    return out


def table(found: pd.DataFrame) -> pd.DataFrame:
    """The contrasts as the report shows them: per model, arm and noise rate, one column per contrast."""
    if found.empty:
        return pd.DataFrame()
    texts = found.assign(text=[f"{interval(r)} ({r.verdict})" for r in found.itertuples()])
    wide = texts.pivot_table(
        index=["model", "arm", "noise"], columns="contrast", values="text", aggfunc="first", sort=False
    )
    wide = wide.reset_index()
    return wide.assign(model=wide.model.map(model_name))


def baselines(profile_dir: Path) -> dict[tuple[str, float], list[dict]]:
    """(model, noise rate) -> the metrics.json of each seed's BCE baseline on labels of that noise (0 included)."""
    found: dict[tuple[str, float], list[dict]] = {}
    for _, config, metrics in kept_runs(profile_dir):
        t = config["train"]
        if t["scheme"] == "none" and t.get("loss", "bce") == "bce":
            found.setdefault((t["model"], t.get("label_noise", 0.0)), []).append(metrics)
    return dict(sorted(found.items()))


def match_text(value: float | None, gap: float | None, where: str) -> str:
    """Whether a dose matches a baseline's overconfidence read `where` (within MATCH of it, relative to it)."""
    if gap is None or not np.isfinite(gap) or gap <= regime.TOLERANCE:
        return f"the baseline is not overconfident {where}: no overconfidence to match"
    ratio = value / gap
    if abs(ratio - 1) <= MATCH:
        return f"{ratio:.2f} times its overconfidence {gap:.3f} {where}: matched (within {MATCH:.0%})"
    side = "below" if ratio < 1 else "above"
    return f"{ratio:.2f} times its overconfidence {gap:.3f} {where}: {side} it by more than {MATCH:.0%}"


def last_gap(records: list[dict]) -> float | None:
    """The mean over a baseline's seeds of its overconfidence on the selection part at its last epoch (`val_last`'s
    record); None unless every seed was read there."""
    gaps = [m["splits"].get(LAST_SPLIT, {}).get("confidence_gap", {}).get("selection") for m in records]
    return None if any(g is None for g in gaps) else float(np.mean([regime.headline_gap(g) for g in gaps]))


def dose_text(value: float | None, gap: float | None, last_gap: float | None) -> str:
    """A dose against a baseline's overconfidence at its selected epoch, and at its last where it was read there."""
    if value is None:
        return "its dose is not recorded"
    text = f"dose {value:.3f}, {match_text(value, gap, 'at its selected epoch')}"
    return text + (f"; {match_text(value, last_gap, 'at its last epoch')}" if last_gap is not None else "")


def noise_readings(profile_dir: Path) -> list[str]:
    """Per BCE baseline at each noise rate (0 included): its regime sentence (`regime.reading`: overconfidence on
    the selection part, whose labels carry the same noise, at its selected epoch), then whether each smoothed arm's
    dose at that rate matches that overconfidence, and the overconfidence at its last epoch where it was read."""
    smoothed = []
    for _, config, metrics in kept_runs(profile_dir):
        t = config["train"]
        if t["scheme"] != "none":
            loss = t.get("loss", "bce")
            smoothed.append(
                {
                    "model": t["model"],
                    "noise": t.get("label_noise", 0.0),
                    "loss": loss,
                    "scheme": t["scheme"],
                    "alpha": t["alpha"],
                    "arm": arm(t["scheme"], t["alpha"], loss),
                    "dose": dose.recorded(metrics),
                }
            )
    frame = pd.DataFrame(smoothed, columns=["model", "noise", "loss", "scheme", "alpha", "arm", "dose"])
    out = []
    for (model, rate), records in baselines(profile_dir).items():
        name = f"{model_name(model)} BCE at label noise {rate:g}"
        if any(m.get("regime") is None for m in records):
            out.append(f"The regime of the {name} baseline is not recorded: rerun the profile with `--force`.")
            continue
        summary = regime.summarise([m["regime"] for m in records])
        out.append(regime.reading(summary, name))
        found = frame[(frame.model == model) & (frame.noise == rate)]
        for label in arm_order(found):
            value = dose.mean_recorded(found[found.arm == label].dose)
            text = dose_text(value, summary["gap"], last_gap(records))
            out.append(f"{model_name(model)}, {label} at label noise {rate:g}: {text}.")
    return out
