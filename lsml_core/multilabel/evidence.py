"""The evidence sections of the report: effects with intervals over seeds and images, alpha sweep, calibration,
label noise and instance-based smoothing, all computed from the runs' metrics and predictions."""

from pathlib import Path

import numpy as np
import pandas as pd

from lsml_core import dose, layout, results
from lsml_core.bootstrap import covers, difference_of_differences, verdict
from lsml_core.multilabel import early_stopping
from lsml_core.multilabel.calibration import reliability
from lsml_core.multilabel.decisions import NAMES as DECISION_NAMES
from lsml_core.multilabel.evaluate import Predictions, read_predictions
from lsml_core.multilabel.learning_rates import kept_runs
from lsml_core.multilabel.map_bootstrap import paired_bootstrap
from lsml_core.multilabel.report import MODEL_NAMES, arm, arm_order, by_model_and_arm, model_name, run_columns
from lsml_core.multilabel.summary import check_same_images, statistics
from lsml_core.smoothing import SCHEMES

CALIBRATION = ("ece_pooled", "ece_classwise", "brier", "nll")


def runs_frame(profile_dir: Path) -> pd.DataFrame:
    """One row per finished run x reported split: mAP, per-image AP, the decision metrics (`<name>_<rule>`),
    calibration before and after T."""
    rows = []
    for run_dir, config, metrics in kept_runs(profile_dir):
        train = config["train"]
        for split, table in metrics["splits"].items():
            calibration = table.get("calibration", {})
            row = {
                **run_columns(run_dir, train),
                "arm": arm(train["scheme"], train["alpha"], train.get("loss", "bce")),
                "split": split,
                "map": table["voc2010"]["mAP"],
                "sample_ap": table["sample_ap"],
                "temperature": metrics.get("temperature", np.nan),
                "map_after_T": calibration.get("map_after_temperature", np.nan),
                "dose": nan_for_none(dose.recorded(metrics)),
                "selection_gap": nan_for_none(dose.selection_gap(metrics)),
            }
            for rule, scores in table.get("decisions", {}).items():
                row.update({f"{name}_{rule}": np.nan if v is None else v for name, v in scores.items()})
            for name in CALIBRATION:
                row[name] = calibration.get("before", {}).get(name, np.nan)
                row[f"{name}_after_T"] = calibration.get("after", {}).get(name, np.nan)
                row[f"{name}_after_platt"] = calibration.get("after_platt", {}).get(name, np.nan)
            rows.append(row)
    return pd.DataFrame(rows).astype({"map": float, "sample_ap": float}) if rows else pd.DataFrame()


def nan_for_none(value: float | None) -> float:
    """A recorded number, NaN where a run has none."""
    return np.nan if value is None else value


def arm_table(runs: pd.DataFrame, split: str, value: str = "map", noise: float = 0.0) -> pd.DataFrame:
    """`value`'s `mean ± std (n=seeds)` per model (rows) x arm (columns, in the reports' order)."""
    rows = runs[(runs.split == split) & (runs.noise == noise)].sort_values("model")
    table = results.mean_std_table(rows, ["model", "arm"], [value])[value].unstack("arm").rename(index=MODEL_NAMES)
    return table[arm_order(rows)]


def _predictions(profile_dir: Path, runs: pd.DataFrame, split: str) -> dict[str, Predictions]:
    return {
        name: read_predictions(Path(profile_dir) / layout.RUNS / name / layout.predictions(split))
        for name in runs.run.unique()
    }


def compare(
    profile_dir: Path,
    runs: pd.DataFrame,
    split: str,
    pairs: list[tuple[str, str]],
    *,
    noise: float = 0.0,
    n_boot: int = 1000,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Paired bootstrap of (arm - reference arm) per model, seeds paired; and per-class differences."""
    rows = runs[(runs.split == split) & (runs.noise == noise)]
    predictions = _predictions(profile_dir, rows, split)
    effects, per_class = [], []
    for model, group in rows.groupby("model"):
        by_arm = {a: g.set_index("seed").run for a, g in group.groupby("arm")}
        for other, reference in pairs:
            if other not in by_arm or reference not in by_arm:
                continue
            seeds = sorted(set(by_arm[other].index) & set(by_arm[reference].index))
            if not seeds:
                continue
            first = predictions[by_arm[reference][seeds[0]]]
            result = paired_bootstrap(
                first.targets,
                [predictions[by_arm[reference][s]].scores for s in seeds],
                [predictions[by_arm[other][s]].scores for s in seeds],
                mask=first.masks,
                n_boot=n_boot,
            )
            effects.append(
                {
                    "model": model,
                    "arm": other,
                    "reference": reference,
                    "noise": noise,
                    "seeds": len(seeds),
                    "difference": result["difference"],
                    "ci_low": result["ci_low"],
                    "ci_high": result["ci_high"],
                    "verdict": verdict(result),
                }
            )
            per_class.append(
                pd.Series(
                    result["per_class"]["difference"], index=first.classes, name=(model, f"{other} - {reference}")
                )
            )
    return pd.DataFrame(effects), (pd.DataFrame(per_class) if per_class else pd.DataFrame())


def baseline_pairs(runs: pd.DataFrame) -> list[tuple[str, str]]:
    """Every other arm (smoothed, or another loss) against the baseline `none`, in the reports' order."""
    return [(a, "none") for a in arm_order(runs) if a != "none"]


def instance_pairs(runs: pd.DataFrame) -> list[tuple[str, str]]:
    """Each arm of a scheme that learns from a teacher against the uniform arm of the same alpha and loss."""
    arms = set(runs.arm)
    taught = sorted(
        {
            (a, alpha, loss)
            for a, s, alpha, loss in zip(runs.arm, runs.scheme, runs.alpha, runs["loss"])
            if SCHEMES[s].needs_teacher
        }
    )
    return [(a, arm("uniform", alpha, loss)) for a, alpha, loss in taught if arm("uniform", alpha, loss) in arms]


def seeds_text(seeds: int) -> str:
    """What an interval from `seeds` paired seeds covers, for a sentence: `over 3 seeds and the images` or
    `over images only (one seed: training randomness not covered)`."""
    return f"over {seeds} seeds and the images" if seeds > 1 else f"over {covers(seeds)}"


def effect_sentences(effects: pd.DataFrame, split: str) -> list[str]:
    """One sentence per comparison, its verdict read off the interval."""
    return [
        f"{model_name(r.model)}, {split}{'' if not r.noise else f', label noise {r.noise:g}'}: "
        f"{r.arm} - {r.reference} = {r.difference:+.4f} mAP, 95% CI [{r.ci_low:+.4f}, {r.ci_high:+.4f}] "
        f"{seeds_text(r.seeds)}: {r.verdict}."
        for r in effects.itertuples()
    ]


def alpha_sweep(runs: pd.DataFrame, split: str) -> pd.DataFrame:
    """Mean over seeds of mAP and pooled ECE per model x scheme x alpha (BCE); alpha 0 is the baseline for all
    schemes."""
    rows = runs[(runs.split == split) & (runs.noise == 0) & (runs["loss"] == "bce")]
    base = rows[rows.scheme == "none"]
    frames = [rows[rows.scheme != "none"]]
    frames += [base.assign(scheme=s) for s in rows.scheme.unique() if s != "none"]
    swept = pd.concat(frames, ignore_index=True)
    return (
        swept.groupby(["model", "scheme", "alpha"])[["map", "ece_pooled", "ece_pooled_after_T"]]
        .agg(["mean", "std"])
        .reset_index()
    )


def alpha_sentences(sweep: pd.DataFrame, split: str) -> list[str]:
    """Best alpha per model and scheme, and the spread of mAP across alphas."""
    sentences = []
    for (model, scheme), group in sweep.groupby(["model", "scheme"]):
        if group.alpha.nunique() < 3:
            continue
        values = group.set_index("alpha")[("map", "mean")]
        eces = group.set_index("alpha")[("ece_pooled", "mean")]
        sentences.append(
            f"{model_name(model)}, {scheme}, {split}: best mAP {values.max():.3f} at alpha "
            f"{values.idxmax():g} (alpha 0: {values.get(0.0, np.nan):.3f}; range over alpha "
            f"{values.max() - values.min():.3f}); pooled ECE from {eces.get(0.0, np.nan):.3f} at alpha 0 "
            f"to {eces.iloc[-1]:.3f} at alpha {eces.index[-1]:g}."
        )
    return sentences


def calibration_table(runs: pd.DataFrame, split: str, noise: float = 0.0) -> pd.DataFrame:
    """Mean over seeds of every calibration metric before and after temperature scaling and after Platt scaling
    (NaN for runs evaluated before it was recorded), and mAP both ways; the
    arm's dose and its baseline's (`none`) overconfidence on the selection split (`lsml_core.dose`), NaN where a
    seed did not record it."""
    rows = runs[(runs.split == split) & (runs.noise == noise)]
    after = [f"{c}_after_{how}" for how in ("T", "platt") for c in CALIBRATION]
    columns = ["temperature", *CALIBRATION, *after, "map", "map_after_T"]
    groups = rows.groupby(["model", "arm"])
    table = groups[columns].mean()
    table["dose"] = groups["dose"].agg(lambda d: d.mean(skipna=False))
    baseline = rows[rows.arm == "none"].groupby("model")["selection_gap"].agg(lambda g: g.mean(skipna=False))
    table["baseline overconfidence"] = table.index.get_level_values("model").map(baseline).astype(float)
    table = by_model_and_arm(table.reset_index(), rows)
    return table.set_index(["model", "arm"]).rename(index=MODEL_NAMES, level=0)


def calibration_sentences(table: pd.DataFrame, split: str) -> list[str]:
    """What smoothing does to calibration before and after temperature scaling and after Platt scaling (slope and
    offset: one temperature cannot remove an offset), and that AP stays put."""
    sentences = []
    for model, group in table.groupby(level=0):
        group = group.droplevel(0)
        if "none" not in group.index:
            continue
        base = group.loc["none"]
        platt = group.ece_pooled_after_platt.notna().all()

        def steps(r) -> str:
            text = f"{r.ece_pooled:.3f} -> {r.ece_pooled_after_T:.3f}"
            return text + (f" -> {r.ece_pooled_after_platt:.3f}" if platt else "")

        parts = [f"{a}: {steps(r)}" for a, r in group.iterrows()]
        better = [a for a, r in group.iterrows() if a != "none" and r.ece_pooled < base.ece_pooled]
        how = "temperature scaling -> Platt scaling" if platt else "temperature scaling"
        sentences.append(
            f"{model}, {split}, pooled ECE before -> after {how}: {'; '.join(parts)}. "
            f"Before scaling, {len(better)} of {len(group) - 1} other arms are better calibrated "
            f"than the baseline."
        )
        if platt:
            after = [
                a for a, r in group.iterrows() if a != "none" and r.ece_pooled_after_platt < base.ece_pooled_after_platt
            ]
            sentences.append(
                f"{model}, {split}: after Platt scaling (a slope and an offset fitted on the selection part, which "
                f"can remove an offset that one temperature cannot), {len(after)} of {len(group) - 1} other arms are "
                f"better calibrated than the baseline (pooled ECE {base.ece_pooled_after_platt:.3f})."
            )
        else:
            sentences.append(
                f"{model}, {split}: one temperature rescales the logits but cannot remove an offset; these runs "
                "record no Platt scaling (evaluated by an older revision), so an offset left after temperature "
                "scaling is not separated from miscalibration smoothing could repair."
            )
    shift = (table["map_after_T"] - table["map"]).abs().max()
    sentences.append(f"Temperature scaling changed mAP by at most {shift:.1e}: AP depends only on the ranking.")
    return sentences


def noise_effects(profile_dir: Path, runs: pd.DataFrame, split: str, n_boot: int = 1000) -> pd.DataFrame:
    """Each smoothed arm minus the baseline at every label-noise rate, with their intervals."""
    frames = [
        compare(profile_dir, runs, split, baseline_pairs(runs[runs.noise == rate]), noise=rate, n_boot=n_boot)[0]
        for rate in sorted(runs.noise.unique())
    ]
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def noise_gains(profile_dir: Path, runs: pd.DataFrame, split: str, n_boot: int = 1000) -> pd.DataFrame:
    """Per model, smoothed arm and noise rate p > 0: the arm's mAP gain over the baseline at p minus its gain on
    clean labels, (arm_p - none_p) - (arm_0 - none_0), seeds paired, with its own interval (`lsml_core.bootstrap`);
    the reported split's labels are clean at every rate, so all four runs are scored on the same images."""
    rows = runs[runs.split == split]
    by = {key: g.set_index("seed").run for key, g in rows.groupby(["model", "arm", "noise"])}
    gains = []
    for (model, name, rate), other in by.items():
        keys = [(model, "none", rate), (model, name, 0.0), (model, "none", 0.0)]
        if name == "none" or rate == 0 or any(k not in by for k in keys):
            continue
        seeds = sorted(set(other.index).intersection(*(by[k].index for k in keys)))
        if not seeds:
            continue
        runs_of = [by[keys[0]], other, by[keys[2]], by[keys[1]]]
        predictions = {
            r: read_predictions(Path(profile_dir) / layout.RUNS / r / layout.predictions(split))
            for arm_runs in runs_of
            for r in arm_runs[seeds]
        }
        check_same_images(predictions)
        maps = [[statistics(predictions[arm_runs[s]])["mAP"] for s in seeds] for arm_runs in runs_of]
        n_images = len(next(iter(predictions.values())).ids)
        result = difference_of_differences(*maps, n_images, n_boot=n_boot)
        gains.append(
            {
                "model": model,
                "arm": name,
                "noise": rate,
                "seeds": len(seeds),
                "difference": result["difference"],
                "ci_low": result["ci_low"],
                "ci_high": result["ci_high"],
                "verdict": verdict(result),
            }
        )
    return pd.DataFrame(gains, columns=["model", "arm", "noise", "seeds", "difference", "ci_low", "ci_high", "verdict"])


def noise_sentences(gains: pd.DataFrame, split: str) -> list[str]:
    """Does smoothing help more under label noise? Each arm's gain at a noise rate minus its gain on clean
    labels, read off its own interval."""
    words = {"higher": "larger than", "lower": "smaller than", "no clear difference": "not clearly different from"}
    return [
        f"{model_name(r.model)}, {r.arm} - none on {split}: the mAP gain at noise {r.noise:g} minus the gain on clean "
        f"labels is {r.difference:+.4f}, 95% CI [{r.ci_low:+.4f}, {r.ci_high:+.4f}] {seeds_text(r.seeds)}: the gain "
        f"under noise is {words[r.verdict]} the gain on clean labels."
        for r in gains.itertuples()
    ]


def reliability_curves(profile_dir: Path, runs: pd.DataFrame, split: str, noise: float = 0.0) -> dict:
    """Reliability curves before and after temperature scaling, per model and arm (lowest seed)."""
    rows = runs[(runs.split == split) & (runs.noise == noise)].sort_values("seed")
    rows = by_model_and_arm(rows.drop_duplicates(["model", "arm"]), rows)
    curves: dict[str, dict] = {}
    for r in rows.itertuples():
        pred = read_predictions(Path(profile_dir) / layout.RUNS / r.run / layout.predictions(split))
        curves.setdefault(model_name(r.model), {})[r.arm] = {
            "before": reliability(pred.targets, pred.scores, pred.masks),
            "after": reliability(pred.targets, pred.scores, pred.masks, r.temperature),
            "temperature": r.temperature,
            "ece_before": r.ece_pooled,
            "ece_after": r.ece_pooled_after_T,
        }
    return curves


def findings(profile_dir: Path, runs: pd.DataFrame, n_boot: int = 1000) -> dict:
    """Every evidence section's tables and generated sentences, computed once so that the report can lead
    with its conclusions: {"effects": {split: (effects, per_class)}, "sweep", "calibration", "noise", "early
    stopping" (runs read at their last epoch too), "instance", "sentences": {section: [...]}}; a section the
    profile has no runs for is left out."""
    clean = runs[runs.noise == 0]
    found: dict = {"effects": {}, "sentences": {}}
    for split in ("val", "val_fivecrop"):
        effects, per_class = compare(profile_dir, runs, split, baseline_pairs(clean), n_boot=n_boot)
        found["effects"][split] = (effects, per_class)
        found["sentences"][f"effects {split}"] = effect_sentences(effects, split)
    sweep = alpha_sweep(runs, "val")
    if sweep.alpha.nunique() > 2:
        found["sweep"] = sweep
        found["sentences"]["alpha"] = alpha_sentences(sweep, "val")
    found["calibration"] = calibration_table(runs, "val")
    found["sentences"]["calibration"] = calibration_sentences(found["calibration"], "val")
    if runs.noise.nunique() > 1:
        found["sentences"]["noise regime"] = early_stopping.noise_readings(profile_dir)
        noisy = noise_effects(profile_dir, runs, "val", n_boot=n_boot)
        if not noisy.empty:  # a smoothed arm beside a baseline at some noise rate
            found["noise"] = noisy
            found["noise gains"] = noise_gains(profile_dir, runs, "val", n_boot=n_boot)
            found["sentences"]["noise"] = noise_sentences(found["noise gains"], "val")
    if early_stopping.has_last_epoch(runs):
        found["early stopping"] = early_stopping.contrasts(profile_dir, runs, n_boot)
        found["sentences"]["early stopping"] = early_stopping.sentences(found["early stopping"])
    pairs = instance_pairs(clean)
    if pairs:
        found["instance"] = compare(profile_dir, runs, "val", pairs, n_boot=n_boot)[0]
        found["sentences"]["instance"] = effect_sentences(found["instance"], "val")
    return found


def decision_table(runs: pd.DataFrame, split: str, rule: str) -> pd.DataFrame:
    """Mean over seeds of mAP and CP, CR, CF1, OP, OR, OF1 under one decision rule, per model x arm (clean labels)."""
    rows = runs[(runs.split == split) & (runs.noise == 0)]
    columns = {f"{name}_{rule}": name for name in DECISION_NAMES if f"{name}_{rule}" in rows}
    table = by_model_and_arm(rows.groupby(["model", "arm"])[["map", *columns]].mean().reset_index(), rows)
    table = table.rename(columns={"map": "mAP", **columns}).reset_index(drop=True)
    return table.assign(model=table.model.map(model_name))


def effects_view(effects: pd.DataFrame) -> pd.DataFrame:
    """A comparison table as the report shows it: models by name, the noise column only when some rate is not 0."""
    view = effects.assign(model=effects.model.map(model_name))
    return view if view.noise.any() else view.drop(columns="noise")
