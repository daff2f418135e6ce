"""Smoothing per group in the grouped report, on hand-made runs: the more overconfident group, each smoothing
ablation's per-group effects with intervals, smoothing's effect with pseudo-labels on minus off, the
pseudo-label counts, and the sentences the report and its answer give."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from lsml_core import layout, regime, results, tracks
from lsml_core.grouped import pseudo_counts
from lsml_core.grouped.config import DataConfig, Grid, Profile, TrainConfig
from lsml_core.grouped.metrics import image_statistics, split_metrics
from lsml_core.grouped.smoothing_effects import (
    NOT_MEASURED,
    effect_sentences,
    group_effects,
    interaction,
    interaction_sentences,
    overconfidence_text,
    overconfident_group,
    pseudo_sentences,
    read,
)

GROUPS, SIZES, N = ("digit", "item"), (3, 3), 300
CONTROL = dict(
    model="resnet18", head="grouped", sesemi="labeled", weights="digit 1, item 2", smoothing="nosmooth", pseudo="on"
)
SCHEMES = {  # a factor's smoothing name -> the scheme of each group
    "nosmooth": {"digit": "none", "item": "none"},
    "uniform-a0.1": {"digit": "uniform", "item": "uniform"},
    "item_uniform-a0.1": {"digit": "none", "item": "uniform"},
    "digit_uniform-a0.1": {"digit": "uniform", "item": "none"},
}
LABELS = np.random.default_rng(0).integers(0, 3, (N, 2))


def arm(**changes) -> dict:
    return {**CONTROL, **changes}


def logits_of(seed: int, scale: float, right: float = 0.7) -> np.ndarray:
    """Logits that put `scale` on one class per group: the label's for a share `right` of the images."""
    rng = np.random.default_rng(seed)
    blocks = []
    for g in range(2):
        wrong = (LABELS[:, g] + rng.integers(1, 3, N)) % 3
        top = np.where(rng.random(N) < right, LABELS[:, g], wrong)
        blocks.append(scale * np.eye(3)[top] + 0.1 * rng.normal(size=(N, 3)))
    return np.concatenate(blocks, axis=1)


def gap_record(digit: float, item: float) -> dict:
    """A regime record whose selection confidence gaps are `digit` and `item`."""
    scores = {f"accuracy_{g}": {"value": 0.7, "chance": 0.34} for g in GROUPS}
    return regime.record(
        selection_split="selection", gaps={"selection": {"digit": digit, "item": item}}, trend={}, scores=scores
    )


def write_run(profile_dir: Path, name: str, logits: np.ndarray) -> None:
    run_dir = profile_dir / layout.RUNS / name
    run_dir.mkdir(parents=True)
    labels = pd.DataFrame({f"label_{g}": LABELS[:, i] for i, g in enumerate(GROUPS)})
    columns = [f"logit_{g}_{c}" for g in GROUPS for c in range(3)]
    results.write_predictions(run_dir / layout.predictions("test"), labels, logits, columns)
    metrics = {"groups": list(GROUPS), "classes": [[str(c) for c in range(3)]] * 2}
    (run_dir / layout.METRICS).write_text(json.dumps(metrics))


def profile(tmp_path: Path, arms: list[tuple[dict, float]], seeds=(0, 1, 2), kept=None) -> pd.DataFrame:
    """Runs of `arms` ((factors, logit scale)) at `seeds` in `tmp_path`, as `runs.runs_frame` reads them (test
    rows); the control is overconfident in the item. `kept`: arm index -> (kept, right) per seed."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    data = DataConfig(image_size=32, symbol_size=16, n_unlabeled=1500)
    written = Profile(name="grouped-x", data=data, train=TrainConfig(model="resnet18"), grid=Grid())
    (tmp_path / layout.PROFILE).write_text(yaml.safe_dump(written.to_dict(), sort_keys=False))
    rows = []
    for i, (factors, scale) in enumerate(arms):
        for seed in seeds:
            name = f"a{i}-s{seed}"
            logits = logits_of(seed, scale)
            write_run(tmp_path, name, logits)
            counts = (kept or {}).get(i)
            pseudo = {"pseudo_kept": None, "pseudo_kept_right": None, "pseudo_threshold": None}
            if counts is not None:
                pseudo = {"pseudo_kept": counts[seed][0], "pseudo_kept_right": counts[seed][1], "pseudo_threshold": 0.5}
            metrics = split_metrics(LABELS, logits, GROUPS, SIZES, factors["head"])
            schemes = {f"scheme_{g}": s for g, s in SCHEMES[factors["smoothing"]].items()}
            rows.append(
                {"run": name, **factors, **schemes, "seed": seed, "split": "test", **metrics, **pseudo}
                | {"regime": gap_record(0.03, 0.15) if factors == CONTROL else None}
            )
    return pd.DataFrame(rows)


def test_image_statistics_on_every_image_once_are_the_split_metrics():
    for head in ("grouped", "flat"):
        logits = logits_of(0, 3.0)
        metrics, statistics = (
            split_metrics(LABELS, logits, GROUPS, SIZES, head),
            image_statistics(LABELS, logits, GROUPS, SIZES, head),
        )
        assert set(statistics) == set(metrics)
        for name, value in metrics.items():
            assert statistics[name](np.ones((1, N)))[0] == pytest.approx(value, abs=1e-12), (head, name)


def test_the_more_overconfident_group_is_named_and_each_partial_arm_says_whether_it_smoothed_it(tmp_path):
    runs = profile(
        tmp_path,
        [(arm(), 5.0), (arm(smoothing="item_uniform-a0.1"), 2.0), (arm(smoothing="digit_uniform-a0.1"), 2.0)],
    )
    group, gaps, seeds = overconfident_group(runs, CONTROL)
    assert (group, seeds) == ("item", 3) and gaps == pytest.approx({"digit": 0.03, "item": 0.15})
    assert overconfidence_text(runs, CONTROL) == (
        "The control is more overconfident in the item: confidence minus accuracy on the selection part item "
        "+0.150, digit +0.030 (mean over 3 seeds). The arm smoothing item_uniform-a0.1 smoothed that group. The arm "
        "smoothing digit_uniform-a0.1 did not smooth it (it smoothed the digit)."
    )
    unrecorded = runs.assign(regime=None)
    assert overconfident_group(unrecorded, CONTROL) is None and "not recorded" in overconfidence_text(
        unrecorded, CONTROL
    )


def test_each_smoothing_ablation_reads_every_groups_accuracy_and_calibration_with_intervals(tmp_path):
    runs = profile(tmp_path, [(arm(), 6.0), (arm(smoothing="item_uniform-a0.1"), 1.5), (arm(sesemi="none"), 6.0)])
    effects = group_effects(tmp_path, runs, CONTROL, n_boot=200)
    assert set(effects.ablation) == {
        "smoothing nosmooth -> item_uniform-a0.1"
    }  # the SESEMI arm is no smoothing ablation
    assert len(effects) == 2 * 4 and effects.seeds.eq(3).all()
    item = effects[effects.group == "item"].set_index("metric")
    control, smoothed = (runs[runs.smoothing == s] for s in ("nosmooth", "item_uniform-a0.1"))
    assert item.loc["ECE", "difference"] == pytest.approx(smoothed.ece_item.mean() - control.ece_item.mean())
    assert item.loc["ECE", "verdict"] == "lower" and item.loc["ECE", "interval high"] < 0  # less overconfident
    assert item.loc["accuracy", "difference"] == pytest.approx(0) and item.loc["accuracy", "verdict"] == (
        "no clear difference"
    )  # the same argmax
    assert effects.set_index("group").smoothed.to_dict() == {"digit": False, "item": True}
    digit, item_sentence = effect_sentences(effects)
    assert digit.startswith("smoothing nosmooth -> item_uniform-a0.1, digit (not smoothed): accuracy ")
    assert item_sentence.startswith("smoothing nosmooth -> item_uniform-a0.1, item (smoothed): accuracy ")
    e = item.loc["ECE"]
    assert (
        f"ECE {e.control:.3f} -> {e.changed:.3f} ({e.difference:+.3f}, [{e['interval low']:+.3f}, "
        f"{e['interval high']:+.3f}]): lower" in item_sentence
    )
    assert item_sentence.endswith("(test, 95% intervals over seeds and test images, 3 seeds).")


def test_smoothings_effect_with_pseudo_labels_on_minus_off_is_a_difference_of_differences(tmp_path):
    uniform = "uniform-a0.1"
    arms = [
        (arm(), 6.0),
        (arm(smoothing=uniform), 1.5),
        (arm(pseudo="off"), 6.0),
        (arm(pseudo="off", smoothing=uniform), 6.0),
    ]
    runs = profile(tmp_path, arms)
    table = interaction(tmp_path, runs, CONTROL, n_boot=200)
    assert table.ablation.unique().tolist() == ["smoothing nosmooth -> uniform-a0.1"]
    assert table[["group", "metric"]].apply(tuple, axis=1).tolist() == [
        ("", "exact match"),
        ("digit", "accuracy"),
        ("digit", "ECE"),
        ("item", "accuracy"),
        ("item", "ECE"),
    ]
    ece = table[(table.group == "item") & (table.metric == "ECE")].iloc[0]
    assert ece["effect without"] == pytest.approx(0)  # off, smoothing changed nothing here
    assert ece.difference == pytest.approx(ece["effect with pseudo-labels"])
    assert ece.verdict == "lower" and ece["interval high"] < 0
    (sentence,) = interaction_sentences(table, has_smoothing=True)
    assert sentence.startswith(
        "smoothing nosmooth -> uniform-a0.1, its effect with pseudo-labels on minus off: exact match "
    )
    assert "item ECE " in sentence and "lower with pseudo-labels on" in sentence
    effects = group_effects(tmp_path, runs, CONTROL, n_boot=200)
    assert effects.ablation.unique().tolist() == [
        "smoothing nosmooth -> uniform-a0.1",
        "smoothing nosmooth -> uniform-a0.1 (with pseudo off)",
    ]
    only_on = runs[runs.pseudo == "on"]
    assert interaction(tmp_path, only_on, CONTROL, n_boot=200).empty
    assert interaction_sentences(interaction(tmp_path, only_on, CONTROL, n_boot=200), True) == [NOT_MEASURED]
    assert interaction_sentences(pd.DataFrame(), has_smoothing=False) == []


def test_the_pseudo_labels_that_passed_are_counted_per_arm_and_against_the_control(tmp_path):
    kept = {0: [(251, 146), (447, 250), (176, 96)], 1: [(200, 150), (400, 260), (176, 120)]}
    runs = profile(tmp_path, [(arm(), 5.0), (arm(smoothing="uniform-a0.1"), 2.0)], kept=kept)
    counts, sentences = pseudo_sentences(runs, CONTROL, 1500)
    assert counts.arm.tolist() == ["control", "smoothing uniform-a0.1"]
    control = counts.iloc[0]
    assert (control["kept mean"], control["kept min"], control["kept max"]) == (pytest.approx(874 / 3), 176, 447)
    assert control["share right"] == pytest.approx(492 / 874)
    assert sentences[0] == (
        "control: 291 on average (range 176-447) of the 1,500 unlabeled images passed the threshold, 164 on average "
        "(range 96-250) of them exactly right (56% of all kept; 3 seeds)."
    )
    assert sentences[2] == (
        "smoothing nosmooth -> uniform-a0.1: 33 fewer passed the threshold (per seed -51 to +0), 13 more were "
        "exactly right (per seed +4 to +24); mean over 3 seeds paired."
    )
    none_kept = profile(tmp_path / "none", [(arm(), 5.0), (arm(smoothing="uniform-a0.1"), 2.0)], kept={0: [(0, 0)] * 3})
    counts, sentences = pseudo_sentences(none_kept, CONTROL, 1500)
    assert sentences[0].startswith("control: no unlabeled image passed the threshold (3 seeds)")
    assert sentences[1] == "smoothing uniform-a0.1: its pseudo-labels are not recorded (finished by an older revision)."
    assert sentences[2] == "smoothing nosmooth -> uniform-a0.1: no seed recorded the pseudo-labels of both arms."
    one = {"seeds": 1, "passed mean": 0, "passed min": 0, "passed max": 0}
    assert pseudo_counts.change_text(one, "passed", "passed") == "as many passed (the seed +0)"


def test_the_reading_gives_every_sentence_in_the_reports_order(tmp_path):
    runs = profile(
        tmp_path, [(arm(), 6.0), (arm(smoothing="item_uniform-a0.1"), 1.5)], kept={0: [(10, 8)] * 3, 1: [(9, 8)] * 3}
    )
    reading = read(tmp_path, runs, CONTROL, n_boot=200)
    assert reading.has_smoothing and reading.readings()[0] == reading.overconfidence
    assert reading.sentences[-1] == NOT_MEASURED and len(reading.pseudo_sentences) == 3
    assert reading.readings() == [reading.overconfidence, *reading.sentences, *reading.pseudo_sentences]
    assert reading.sentences[0].startswith("smoothing nosmooth -> item_uniform-a0.1, digit (not smoothed): accuracy")
    without = read(tmp_path, runs[runs.smoothing == "nosmooth"], CONTROL, n_boot=200)
    assert not without.has_smoothing and without.readings() == [] and without.pseudo_sentences == []


def test_the_grouped_smoothing_profile_is_grouped_convergeds_control_against_smoothing_arms():
    _, smoothing = tracks.load_profile("grouped-smoothing")
    _, converged = tracks.load_profile("grouped-converged")
    runs = smoothing.runs()
    assert len(runs) == 15 and smoothing.grid.seeds == [0, 1, 2]
    same = {key: value for key, value in runs[0].to_dict().items() if key != "profile"}
    assert same == {key: value for key, value in converged.runs()[0].to_dict().items() if key != "profile"}
    arms = [(r.train.smoothing, r.train.pseudo) for r in runs if r.train.seed == 0]
    both = {"digit": "uniform", "item": "uniform"}
    assert arms == [({}, True), (both, True), ({"item": "uniform"}, True), ({}, False), (both, False)]
    assert {r.train.alpha for r in runs} == {0.1}
