"""Smoothing per group, read from a grouped profile's runs: the group the control is more overconfident in and
which groups each smoothing arm smoothed; each smoothing ablation's effect on every group's accuracy and
calibration on test; that effect with pseudo-labels on minus the same with them off; and what smoothing did to
the pseudo-labels (`pseudo_counts`).

A smoothing ablation is an ablation (`ablations.ablation_pairs`) whose factor is `smoothing`. Its differences
(changed - control) carry intervals over seeds and test images (`lsml_core.bootstrap`, seeds paired, the
statistics of `metrics.image_statistics`); the difference of differences (smoothing's effect with pseudo-labels
minus its effect without) gets its own interval the same way (`bootstrap.difference_of_differences`).
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from lsml_core import bootstrap, dose, layout
from lsml_core.grouped import ablations, pseudo_counts
from lsml_core.grouped.ablations import LEVEL, N_BOOT, ablation_label, ablation_pairs, interval_text
from lsml_core.grouped.config import load_profile
from lsml_core.grouped.evaluate import read_predictions
from lsml_core.grouped.metrics import image_statistics
from lsml_core.grouped.runs import FACTORS, control_runs, groups_of
from lsml_core.records import read_json

METRICS = {"accuracy": "accuracy", "ece": "ECE", "brier": "Brier", "log_loss": "log loss"}  # per group
SENTENCE_METRICS = ("accuracy", "ece")
INTERACTION_METRICS = ("accuracy", "ece")  # per group, after the exact match
NOT_MEASURED = (
    "No smoothing arm has its counterpart without pseudo-labels here, so whether smoothing's effect depends on them "
    "is not measured."
)


class TestStatistics:
    """The test statistics (`metrics.image_statistics`) of a profile's runs, read from their predictions once."""

    def __init__(self, profile_dir: Path):
        self.profile_dir, self.found, self.labels = Path(profile_dir), {}, None

    def __call__(self, run: str, head: str) -> dict:
        if run not in self.found:
            run_dir = self.profile_dir / layout.RUNS / run
            labels, logits = read_predictions(run_dir / layout.predictions("test"))
            metrics = read_json(run_dir / layout.METRICS)
            if self.labels is not None and not np.array_equal(labels, self.labels):
                raise ValueError(
                    f"run {run} was evaluated on other test images than the runs before it; pairing needs the same "
                    f"images: rerun it on the profile's data (./run_all.sh --profile {self.profile_dir.name} --force)"
                )
            sizes = tuple(len(c) for c in metrics["classes"])
            self.labels, self.found[run] = labels, image_statistics(labels, logits, metrics["groups"], sizes, head)
        return self.found[run]

    @property
    def n_images(self) -> int:
        return len(self.labels)


def arm_rows(test: pd.DataFrame, arm: tuple) -> pd.DataFrame:
    """The test rows of one arm (its values of FACTORS, in order), indexed by seed."""
    return test[test[list(FACTORS)].apply(tuple, axis=1) == arm].set_index("seed")


def ablation_row(factor: str, base: tuple, other: tuple, control_factors: dict) -> dict:
    """What `ablations.ablation_label` names an ablation by: its factor, both values, the factors both arms hold
    away from the control."""
    where = ", ".join(f"{f} {v}" for f, v in zip(FACTORS, base) if f != factor and v != control_factors[f])
    return {
        "factor": factor,
        "control": dict(zip(FACTORS, base))[factor],
        "changed to": dict(zip(FACTORS, other))[factor],
        "where": where or "control",
    }


def smoothing_ablations(test: pd.DataFrame, control_factors: dict) -> list[tuple[tuple, tuple]]:
    """(arm without the smoothing, arm with it) of every smoothing ablation, in `ablation_pairs`' order."""
    if test.empty:
        return []
    return [(base, other) for factor, base, other in ablation_pairs(test, control_factors) if factor == "smoothing"]


def smoothed_groups(rows: pd.DataFrame, groups: list[str]) -> list[str]:
    """The groups an arm's runs smooth (their `scheme_<group>` is not `none`)."""
    return [g for g in groups if (rows[f"scheme_{g}"] != "none").any()]


def overconfident_group(runs: pd.DataFrame, control_factors: dict) -> tuple[str, dict, int] | None:
    """(the group of the control's largest confidence gap on the selection part, each group's gap as the mean over
    its seeds, the seeds); None without a control run that recorded its regime."""
    test = control_runs(runs, control_factors) if not runs.empty else runs
    test = test[test.split == "test"] if not test.empty else test
    records = [r for r in (test.regime if not test.empty else []) if r is not None]
    if not records:
        return None
    gaps = {g: dose.mean_recorded(dose.selection_gap({"regime": r}, g) for r in records) for g in groups_of(runs)}
    if any(v is None for v in gaps.values()):
        return None
    return max(gaps, key=gaps.get), gaps, len(records)


def overconfidence_text(runs: pd.DataFrame, control_factors: dict) -> str:
    """Which group the control is more overconfident in (from its own runs), and whether each smoothing arm that
    smooths only some groups smoothed that one."""
    found = overconfident_group(runs, control_factors)
    if found is None:
        return "The control's confidence gaps per group are not recorded: which group it is more overconfident in is not known."
    group, gaps, seeds = found
    listed = ", ".join(f"{g} {v:+.3f}" for g, v in sorted(gaps.items(), key=lambda kv: -kv[1]))
    over = f"mean over {seeds} seeds" if seeds > 1 else "one seed"
    if gaps[group] <= 0:
        text = f"The control is overconfident in no group (confidence minus accuracy on the selection part: {listed}, {over})."
    else:
        text = (
            f"The control is more overconfident in the {group}: confidence minus accuracy on the selection part "
            f"{listed} ({over})."
        )
    test = runs[runs.split == "test"]
    groups = groups_of(runs)
    for key, arm in test[test.smoothing != "nosmooth"].groupby(list(FACTORS), sort=False):
        smoothed = smoothed_groups(arm, groups)
        if len(smoothed) == len(groups) or gaps[group] <= 0:
            continue
        name = pseudo_counts.arm_name(key, control_factors)
        which = (
            "smoothed that group" if group in smoothed else f"did not smooth it (it smoothed the {', '.join(smoothed)})"
        )
        text += f" The arm {name} {which}."
    return text


def group_effects(profile_dir: Path, runs: pd.DataFrame, control_factors: dict, n_boot: int = N_BOOT) -> pd.DataFrame:
    """Per smoothing ablation, group and metric (`METRICS`): whether the changed arm smooths the group, both arms'
    means over their paired seeds, the difference (changed - control) with its interval over seeds and test
    images, the verdict and the seeds."""
    test = runs[runs.split == "test"] if not runs.empty else runs
    stats, rows = TestStatistics(profile_dir), []
    for base, other in smoothing_ablations(test, control_factors):
        a, b = arm_rows(test, base), arm_rows(test, other)
        seeds = sorted(set(a.index) & set(b.index))
        if not seeds:
            continue
        arms = [[stats(frame.loc[s, "run"], frame.loc[s, "head"]) for s in seeds] for frame in (a, b)]
        smoothed = smoothed_groups(b, groups_of(test))
        label = ablation_label(ablation_row("smoothing", base, other, control_factors))
        for group in groups_of(test):
            for metric, name in METRICS.items():
                column = f"{metric}_{group}"
                result = bootstrap.paired_difference(
                    [s[column] for s in arms[0]], [s[column] for s in arms[1]], stats.n_images, n_boot=n_boot, seed=0
                )
                means = [np.mean([float(s[column](np.ones((1, stats.n_images)))[0]) for s in arm]) for arm in arms]
                rows.append(
                    {
                        "ablation": label,
                        "pseudo": dict(zip(FACTORS, base))["pseudo"],
                        "group": group,
                        "smoothed": group in smoothed,
                        "metric": name,
                        "control": means[0],
                        "changed": means[1],
                        **interval_entry(result, len(seeds)),
                    }
                )
    return pd.DataFrame(rows, columns=EFFECT_COLUMNS)


def interval_entry(result: dict, seeds: int) -> dict:
    """A difference's row entries: the difference, its 95% interval, the verdict and the paired seeds."""
    return {
        "difference": result["difference"],
        "interval low": result["ci_low"],
        "interval high": result["ci_high"],
        "verdict": bootstrap.verdict(result),
        "seeds": seeds,
    }


EFFECT_COLUMNS = [
    "ablation", "pseudo", "group", "smoothed", "metric", "control", "changed", "difference", "interval low",
    "interval high", "verdict", "seeds",
]  # fmt: skip


def interaction_pairs(test: pd.DataFrame, control_factors: dict) -> list[tuple[tuple, tuple, tuple, tuple]]:
    """(base, smoothed) with pseudo-labels on and the same two arms with them off, for every smoothing ablation
    whose arms both exist with pseudo-labels off."""
    arms = set(test[list(FACTORS)].apply(tuple, axis=1)) if not test.empty else set()
    at = FACTORS.index("pseudo")

    def off(arm: tuple) -> tuple:
        return arm[:at] + ("off",) + arm[at + 1 :]

    return [
        (base, other, off(base), off(other))
        for base, other in smoothing_ablations(test, control_factors)
        if base[at] == "on" and off(base) in arms and off(other) in arms
    ]


def interaction(profile_dir: Path, runs: pd.DataFrame, control_factors: dict, n_boot: int = N_BOOT) -> pd.DataFrame:
    """Per smoothing ablation with a counterpart without pseudo-labels, for the exact match and each group's
    accuracy and ECE: smoothing's effect with pseudo-labels on, with them off, and on minus off with its interval
    over seeds and test images (a difference of differences), its verdict and the seeds."""
    test = runs[runs.split == "test"] if not runs.empty else runs
    stats, rows = TestStatistics(profile_dir), []
    for four in interaction_pairs(test, control_factors):
        frames = [arm_rows(test, arm) for arm in four]
        seeds = sorted(set.intersection(*(set(f.index) for f in frames)))
        if not seeds:
            continue
        arms = [[stats(f.loc[s, "run"], f.loc[s, "head"]) for s in seeds] for f in frames]
        label = ablation_label(ablation_row("smoothing", four[0], four[1], control_factors))
        columns = {"exact_match": ("", "exact match")} | {
            f"{m}_{g}": (g, METRICS[m]) for g in groups_of(test) for m in INTERACTION_METRICS
        }
        for column, (group, name) in columns.items():
            functions = [[s[column] for s in arm] for arm in arms]
            result = bootstrap.difference_of_differences(*functions, stats.n_images, n_boot=n_boot)
            ones = np.ones((1, stats.n_images))
            value = [np.mean([float(f(ones)[0]) for f in arm]) for arm in functions]
            rows.append(
                {
                    "ablation": label,
                    "group": group,
                    "metric": name,
                    "effect with pseudo-labels": value[1] - value[0],
                    "effect without": value[3] - value[2],
                    **interval_entry(result, len(seeds)),
                }
            )
    return pd.DataFrame(rows, columns=INTERACTION_COLUMNS)


INTERACTION_COLUMNS = [
    "ablation", "group", "metric", "effect with pseudo-labels", "effect without", "difference", "interval low",
    "interval high", "verdict", "seeds",
]  # fmt: skip


def signed(table: pd.DataFrame) -> dict[str, str]:
    """Formats that show the differences of an effects or interaction table with their sign."""
    effects = {c: "{:+.3f}" for c in table.columns if c.startswith("effect")}
    return {**ablations.signed(table), **effects}


def over_text(seeds: int) -> str:
    """What an interval covers, for a sentence."""
    return (
        f"over test images only, {bootstrap.ONE_SEED}" if seeds == 1 else f"over seeds and test images, {seeds} seeds"
    )


def effect_sentences(effects: pd.DataFrame) -> list[str]:
    """Per smoothing ablation and group: accuracy and ECE of both arms, the difference with its interval, the
    verdict; whether the group was smoothed."""
    sentences = []
    for (label, group), part in effects.groupby(["ablation", "group"], sort=False):
        rows = part.set_index("metric")
        each = [
            f"{METRICS[m]} {rows.loc[METRICS[m], 'control']:.3f} -> {rows.loc[METRICS[m], 'changed']:.3f} "
            f"({rows.loc[METRICS[m], 'difference']:+.3f}, "
            f"{interval_text(rows.loc[METRICS[m], 'interval low'], rows.loc[METRICS[m], 'interval high'])}): "
            f"{rows.loc[METRICS[m], 'verdict']}"
            for m in SENTENCE_METRICS
        ]
        smoothed = "smoothed" if part.smoothed.iloc[0] else "not smoothed"
        sentences.append(
            f"{label}, {group} ({smoothed}): {'; '.join(each)} (test, {LEVEL:.0%} intervals "
            f"{over_text(int(part.seeds.iloc[0]))})."
        )
    return sentences


def interaction_verdict(verdict: str) -> str:
    """A difference of differences' verdict in words: how smoothing's effect changes with pseudo-labels on."""
    return {"higher": "higher with pseudo-labels on", "lower": "lower with pseudo-labels on"}.get(verdict, verdict)


def interaction_sentences(table: pd.DataFrame, has_smoothing: bool) -> list[str]:
    """Per smoothing ablation: its effect with pseudo-labels on minus off, per metric, with the interval; one
    sentence saying it is not measured where no ablation has its counterpart without pseudo-labels."""
    if table.empty:
        return [NOT_MEASURED] if has_smoothing else []
    sentences = []
    for label, part in table.groupby("ablation", sort=False):
        each = [
            f"{(r['group'] + ' ') if r['group'] else ''}{r['metric']} {r['effect with pseudo-labels']:+.3f} with, "
            f"{r['effect without']:+.3f} without, on minus off {r['difference']:+.3f} "
            f"{interval_text(r['interval low'], r['interval high'])}: {interaction_verdict(r['verdict'])}"
            for r in part.to_dict("records")
        ]
        sentences.append(
            f"{label}, its effect with pseudo-labels on minus off: {'; '.join(each)} (test, {LEVEL:.0%} intervals "
            f"{over_text(int(part.seeds.iloc[0]))})."
        )
    return sentences


def pseudo_sentences(runs: pd.DataFrame, control_factors: dict, n_unlabeled: int) -> tuple[pd.DataFrame, list[str]]:
    """(the pseudo-label counts of the arms of every smoothing ablation with pseudo-labels on, sentences: each such
    arm's counts, then how each of those ablations changed them against its control, per seed paired)."""
    test = runs[runs.split == "test"] if not runs.empty else runs
    pairs = [(b, o) for b, o in smoothing_ablations(test, control_factors) if dict(zip(FACTORS, b))["pseudo"] == "on"]
    names = {pseudo_counts.arm_name(arm, control_factors) for pair in pairs for arm in pair}
    counts = pseudo_counts.per_arm(runs, control_factors)
    counts = counts[counts.arm.isin(names)].reset_index(drop=True)
    sentences = [pseudo_counts.arm_sentence(r, n_unlabeled) for r in counts.to_dict("records")]
    for base, other in pairs:
        label = ablation_label(ablation_row("smoothing", base, other, control_factors))
        sentences.append(pseudo_counts.change_sentence(label, pseudo_counts.paired_changes(runs, base, other)))
    return counts, sentences


@dataclass(frozen=True)
class SmoothingReading:
    """What the report says about smoothing per group: its tables and its generated sentences."""

    effects: pd.DataFrame
    interaction: pd.DataFrame
    pseudo: pd.DataFrame
    overconfidence: str
    sentences: list[str] = field(default_factory=list)  # effects, then the interaction
    pseudo_sentences: list[str] = field(default_factory=list)

    @property
    def has_smoothing(self) -> bool:
        return not self.effects.empty

    def readings(self) -> list[str]:
        """Every sentence, in the order the report gives them; none without a smoothing ablation."""
        if not self.has_smoothing:
            return []
        return [self.overconfidence, *self.sentences, *self.pseudo_sentences]


def read(profile_dir: Path, runs: pd.DataFrame, control_factors: dict, n_boot: int = N_BOOT) -> SmoothingReading:
    """The smoothing reading of a profile's runs (`runs.runs_frame`) against its control's factors."""
    effects = group_effects(profile_dir, runs, control_factors, n_boot)
    table = interaction(profile_dir, runs, control_factors, n_boot)
    n_unlabeled = load_profile(Path(profile_dir) / layout.PROFILE).data.n_unlabeled
    counts, pseudo = pseudo_sentences(runs, control_factors, n_unlabeled)
    return SmoothingReading(
        effects=effects,
        interaction=table,
        pseudo=counts,
        overconfidence=overconfidence_text(runs, control_factors),
        sentences=effect_sentences(effects) + interaction_sentences(table, not effects.empty),
        pseudo_sentences=pseudo if not effects.empty else [],
    )
