"""The grouped report's logic on a hand-made table of runs: which pairs are ablations, Table 1 beside THEIRS,
the summary and its figure, tables without missing or raw values."""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import yaml

from lsml_core import regime, results, tables
from lsml_core.grouped.ablations import (
    ablation_pairs,
    chance_flag,
    conclusions,
    identical_reason,
    same_outputs,
    signed,
    summary_table,
)
from lsml_core.grouped.config import DataConfig, Grid, Profile, TrainConfig
from lsml_core.grouped.plots import ablations_figure
from lsml_core.grouped.report import caveat, control_regime, dose_readings
from lsml_core.grouped.runs import FACTORS, control, pseudo_table, runs_on_test
from lsml_core.grouped.table_one import harder_text, table_one, table_one_text
from lsml_core.layout import PROFILE

CONTROL = dict(
    model="resnet18", head="grouped", sesemi="labeled", weights="digit 1, item 5", smoothing="nosmooth", pseudo="on"
)


def arm(**changes) -> dict:
    return {**CONTROL, **changes}


def weights(text: str) -> dict:
    """`digit 1, item 5` -> {"weight_digit": 1.0, "weight_item": 5.0}."""
    return {f"weight_{g}": float(w) for g, w in (part.split() for part in text.split(", "))}


def frame(arms: list[dict], accuracy: dict | None = None, regime_record: dict | None = None) -> pd.DataFrame:
    """Runs of the arms (one seed), every split; per-group accuracy `accuracy` (the item the harder by default)."""
    accuracy = accuracy or {"digit": 0.9, "item": 0.7}
    rows = []
    for i, a in enumerate(arms):
        for s in ("fit", "selection", "test"):
            rows.append(
                {"run": f"r{i}", **a, **weights(a["weights"]), "seed": 0, "epochs": 4, "split": s}
                | {"exact_match": 0.1 * (i + 1), **{f"accuracy_{g}": v for g, v in accuracy.items()}}
                | {"regime": regime_record}
            )
    return pd.DataFrame(rows)


def test_ablations_pair_each_arm_with_the_arm_holding_the_control_value():
    arms = [
        arm(),
        arm(sesemi="none"),
        arm(head="flat"),
        arm(head="flat", smoothing="uniform-a0.1"),
        arm(smoothing="uniform-a0.1"),
    ]
    index = {tuple(a[f] for f in FACTORS): i for i, a in enumerate(arms)}
    pairs = [(factor, index[base], index[other]) for factor, base, other in ablation_pairs(frame(arms), CONTROL)]
    assert pairs == [  # in the order of FACTORS, then of the runs
        ("head", 0, 2),
        ("head", 4, 3),  # grouped vs flat, both smoothed
        ("sesemi", 0, 1),
        ("smoothing", 0, 4),
        ("smoothing", 2, 3),  # smoothing within the flat arm
    ]
    assert not ablation_pairs(frame([arm(), arm(sesemi="none", pseudo="off")]), CONTROL)  # two factors differ


def test_table_one_stands_ours_beside_theirs_by_model_role():
    runs = frame([arm(), arm(weights="digit 1, item 1"), arm(model="mobilenet_v2"), arm(smoothing="uniform-a0.1")])
    table = table_one(runs, CONTROL)
    main = table[
        (table["ours model"] == "resnet18") & (table["weight of the harder group"] == 5.0) & (table.sesemi == "labeled")
    ]
    assert main["THEIRS model"].tolist() == ["MobileNetV2"] and main["THEIRS 20 ep val"].tolist() == [91.75]
    assert main["ours selection"].tolist() == ["10.00 (one seed)"]  # the smoothed arm is not a Table 1 row
    other = table[table["ours model"] == "mobilenet_v2"]
    assert other["THEIRS model"].tolist() == ["ResNet-50"]
    assert len(table) == 5  # their five rows; ours matched to three of them
    assert (table[table["THEIRS 20 ep val"] == 88.43][["ours model", "ours selection"]] == "not run").all().all()
    assert table.drop(columns=[c for c in table if c.startswith("THEIRS ") and "ep" in c]).notna().all().all()


def test_table_one_gives_mean_and_std_over_seeds():
    runs = pd.concat([frame([arm()]), frame([arm()]).assign(seed=1, exact_match=0.3)])
    main = table_one(runs, CONTROL).dropna(subset=["THEIRS 50 ep val"]).iloc[0]
    assert main["ours selection"] == "20.00 ± 14.14 (n=2)"


def test_conclusions_are_generated_from_the_numbers():
    table = pd.DataFrame(
        [
            {
                "factor": "sesemi",
                "control": "labeled",
                "changed to": "none",
                "where": "control",
                "seeds": 1,
                "exact match, control": 0.5,
                "exact match, changed": 0.42,
                "difference": -0.08,
                "interval low": -0.12,
                "interval high": -0.04,
                "verdict": "lower",
            }
        ]
    )
    assert conclusions(table) == [
        "sesemi labeled -> none: test exact match 0.500 -> 0.420 (-0.080, 95% interval [-0.120, -0.040] over test "
        "images only, one seed: training randomness not covered): lower."
    ]


def ablation_table() -> pd.DataFrame:
    """Two ablations as `ablations` gives them: SESEMI off at the control, smoothing within the flat head."""
    base = {"seeds": 2, "verdict": "no clear difference", "Δ accuracy item": 0.01}
    return pd.DataFrame(
        [
            {"factor": "sesemi", "control": "labeled", "changed to": "none", "where": "control", **base}
            | {"exact match, control": 0.5, "exact match, changed": 0.42, "difference": -0.08}
            | {"interval low": -0.12, "interval high": -0.04, "verdict": "lower"},
            {"factor": "smoothing", "control": "nosmooth", "changed to": "uniform", "where": "head flat", **base}
            | {"exact match, control": 0.3, "exact match, changed": 0.31, "difference": 0.01}
            | {"interval low": -0.02, "interval high": 0.05},
        ]
    )


def test_summary_table_names_each_ablation_with_its_interval():
    summary = summary_table(ablation_table())
    assert summary.ablation.tolist() == ["sesemi labeled -> none", "smoothing nosmooth -> uniform (with head flat)"]
    assert summary["95% interval"].tolist() == ["[-0.120, -0.040]", "[-0.020, +0.050]"]
    assert summary.verdict.tolist() == ["lower", "no clear difference"] and summary.difference.tolist() == [-0.08, 0.01]
    assert "Δ accuracy item" not in summary and "factor" not in summary
    html = tables.styled(summary).to_html()
    assert "nan" not in html.lower() and "None" not in html
    assert summary_table(ablation_table().iloc[:0]).columns.tolist() == summary.columns.tolist()


def test_ablations_figure_draws_each_difference_with_its_interval():
    figure = ablations_figure(ablation_table())
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == summary_table(ablation_table()).ablation.tolist()
    assert list(ax.get_yticks()) == [1, 0]  # the first ablation on top
    bars = ax.containers[0]
    assert np.allclose(bars.lines[0].get_xdata(), [-0.08, 0.01])
    segments = bars.lines[2][0].get_segments()  # the horizontal error bars: from low to high
    assert np.allclose([(s[0][0], s[1][0]) for s in segments], [(-0.12, -0.04), (-0.02, 0.05)])
    plt.close(figure)
    empty = ablations_figure(ablation_table().iloc[:0])
    assert "no ablation" in empty.axes[0].texts[0].get_text()
    plt.close(empty)


def test_test_and_pseudo_tables_hold_no_raw_missing_values():
    runs = frame([arm(), arm(pseudo="off")]).assign(
        pseudo_threshold=[0.9] * 3 + [None] * 3,
        pseudo_selection_count=[60] * 3 + [None] * 3,
        pseudo_kept=[40] * 3 + [None] * 3,
        pseudo_kept_right=[36] * 3 + [None] * 3,
        pseudo_fraction_kept=[0.5] * 3 + [None] * 3,
        pseudo_accuracy=None,
    )
    test = runs_on_test(runs)
    assert test.run.tolist() == ["r0", "r1"] and "pseudo" in test  # the factor stays
    assert not [c for c in test if c.startswith(("pseudo_", "weight_")) or c in ("split", "regime", "epochs")]
    pseudo = pseudo_table(runs)
    assert pseudo.run.tolist() == ["r0"]
    assert pseudo[["unlabeled images kept", "kept and exactly right"]].values.tolist() == [[40, 36]]
    html = tables.styled(pseudo, missing="n/a (none kept)").to_html()
    assert "n/a (none kept)" in html and "None" not in html and "nan" not in html.lower()


def regime_record(value: float, chance: float = 0.1, gap: float = 0.05) -> dict:
    """A run's regime record, converged and overfitting, with its digit accuracy `value` against `chance`."""
    trend = {
        "epochs": 20,
        "loss_gap": 0.4,
        "train_still_falling": False,
        "selection_loss_rising": True,
        "falling_at_high_rate": False,  # its loss flattened while the rate was high
        "fitted_gap": 0.1,
    }
    scores = {"accuracy_digit": {"value": value, "chance": chance}, "accuracy_item": {"value": 0.8, "chance": 0.1}}
    return regime.record(
        selection_split="selection", gaps={"selection": {"digit": gap, "item": 0.01}}, trend=trend, scores=scores
    )


def write_profile(folder, **train):
    profile = Profile(name="grouped-x", data=DataConfig(), train=TrainConfig(**train), grid=Grid())
    (folder / PROFILE).write_text(yaml.safe_dump(profile.to_dict(), sort_keys=False))


def test_the_control_regime_is_read_into_a_sentence(tmp_path):
    write_profile(tmp_path)
    runs = frame([arm(), arm(sesemi="none")], regime_record=regime_record(0.9))
    sentence, kind = control_regime(tmp_path, runs, CONTROL)
    assert kind == "overconfident" and sentence.startswith(
        "The control baseline is overconfident on the selection split"
    )
    assert caveat(kind) == regime.conclusion_caveat(["overconfident"])
    at_chance = frame([arm()], regime_record=regime_record(0.12))
    sentence, kind = control_regime(tmp_path, at_chance, CONTROL)
    assert kind == "chance" and "accuracy_digit 0.120 (chance 0.100)" in sentence
    assert "chance level" in caveat(kind)


def test_an_unrecorded_regime_names_the_command_that_redoes_it(tmp_path):
    write_profile(tmp_path)
    sentence, kind = control_regime(tmp_path, frame([arm()]), CONTROL)
    assert kind == "unrecorded" and "not recorded" in sentence
    assert "`./run_all.sh --profile grouped-x --force`" in sentence
    assert "cannot say whether" in caveat(kind)
    assert control(tmp_path) == {
        "model": "mobilenet_v2",
        "head": "grouped",
        "sesemi": "labeled",
        "weights": "digit 1, item 1",
        "smoothing": "nosmooth",
        "pseudo": "on",
    }


def test_comparisons_from_chance_level_arms_are_flagged():
    runs = frame([arm()], regime_record=regime_record(0.12))
    flag = chance_flag({"control": runs[runs.split == "test"], "changed arm": frame([arm()], regime_record=None)})
    assert flag == "control: accuracy_digit 0.120 (chance 0.100)"  # an arm without a record is not flagged
    row = ablation_table().iloc[0].to_dict() | {"chance level": flag}
    (sentence,) = conclusions(pd.DataFrame([row]))
    assert sentence.endswith(
        "lower. Flagged: at chance level on the selection part: control: accuracy_digit 0.120 (chance 0.100); "
        "this comparison says nothing."
    )
    assert summary_table(pd.DataFrame([row])).verdict.tolist() == ["lower (chance level)"]
    converged = frame([arm()], regime_record=regime_record(0.9))
    assert chance_flag({"control": converged, "changed arm": converged}) == ""


def write_outputs(run_dir: Path, logits: np.ndarray) -> Path:
    run_dir.mkdir(parents=True)
    labels = pd.DataFrame({"label_digit": [0, 1], "label_item": [1, 0]})
    columns = [f"logit_{g}_{c}" for g in ("digit", "item") for c in range(2)]
    results.write_predictions(run_dir / "predictions_test.csv", labels, logits, columns)
    return run_dir


def test_arms_equal_to_the_bit_read_identical(tmp_path):
    logits = np.array([[1.0, 0.0, 0.5, 0.25], [0.0, 2.0, 0.0, 1.0]], np.float32)
    a, b = write_outputs(tmp_path / "a", logits), write_outputs(tmp_path / "b", logits)
    c = write_outputs(tmp_path / "c", logits + np.float32(1e-6) * np.eye(2, 4, dtype=np.float32))
    assert same_outputs(a, b) and not same_outputs(a, c)
    on = frame([arm()]).assign(pseudo_kept=0)
    off = frame([arm(pseudo="off")]).assign(pseudo_kept=None)
    assert identical_reason("pseudo", [on, off]) == "no pseudo-label was kept"
    assert identical_reason("pseudo", [on.assign(pseudo_kept=3), off]) == "their test outputs are equal to the bit"
    row = ablation_table().iloc[0].to_dict() | {"factor": "pseudo", "control": "on", "changed to": "off"}
    row |= {"verdict": "identical to the control: no pseudo-label was kept", "difference": 0.0}
    (sentence,) = conclusions(pd.DataFrame([row]))
    assert (
        sentence
        == "pseudo on -> off: identical to the control: no pseudo-label was kept (test exact match 0.500, 2 seeds)."
    )


def test_table_one_pairs_by_the_harder_group_and_says_what_it_pairs():
    # the digit is the harder group here; the control weights the item 5, which the source never ran
    runs = frame(
        [arm(), arm(weights="digit 1, item 1"), arm(weights="digit 5, item 1"), arm(model="mobilenet_v2")],
        accuracy={"digit": 0.4, "item": 0.8},
    )
    table = table_one(runs, CONTROL)
    control_row = table[(table["ours weights"] == "digit 1, item 5") & (table["ours model"] == "resnet18")]
    assert control_row["THEIRS model"].tolist() == ["not run by the source"]
    heavy = table[table["ours weights"] == "digit 5, item 1"]
    assert heavy["THEIRS 20 ep val"].tolist() == [91.75] and heavy["weight of the harder group"].tolist() == [5.0]
    text = table_one_text(runs, CONTROL)
    assert "our resnet18 (the control's backbone) stands beside THEIR MobileNetV2" in text
    assert "our mobilenet_v2 beside THEIR ResNet-50" in text
    assert "exact match (every group right, %) at the epoch chosen on selection exact match, of 4 epochs" in text
    assert (
        "The harder group here is the digit: the lower selection accuracy in the arm weighing the groups alike" in text
    )
    assert "digit 0.400, item 0.800" in text
    assert "the control weights the item 5 instead, unlike the source" in text
    assert "weights it 5, the heaviest" in harder_text(frame([arm(weights="digit 1, item 5")]), CONTROL)
    alike = frame([arm(), arm(weights="digit 1, item 1")]).assign(
        accuracy_digit=lambda f: np.where(f.run == "r0", 0.3, 0.8), accuracy_item=0.6
    )
    assert (
        "is the item: the lower selection accuracy in the arm weighing the groups alike (digit 0.800, item 0.600"
        in (harder_text(alike, CONTROL))
    )  # the control's own weights (item 5) leave its digit the lower: the arm weighing both alike decides


def test_differences_are_formatted_with_their_sign():
    table = pd.DataFrame({"factor": ["head"], "difference": [0.01], "interval low": [-0.02], "Δ ECE item": [0.003]})
    assert signed(table) == {c: "{:+.3f}" for c in ("difference", "interval low", "Δ ECE item")}
    html = tables.styled(table, signed(table)).to_html()
    assert "+0.010" in html and "-0.020" in html and "+0.003" in html


def test_each_smoothed_arm_reads_its_dose_per_group_beside_the_controls_gap():
    runs = frame([arm(), arm(smoothing="item_uniform-a0.1"), arm(sesemi="none")], regime_record=regime_record(0.9))
    runs["dose"] = [None] * 3 + [{"digit": 0.0, "item": 0.075}] * 3 + [None] * 3
    runs.loc[runs.index[:3], "dose"] = pd.Series([{"digit": 0.0, "item": 0.0}] * 3, index=runs.index[:3])
    digit, item = dose_readings(runs, CONTROL)
    assert digit == "smoothing item_uniform-a0.1, digit: dose 0 (hard targets)."
    gap = regime_record(0.9)["confidence_gap"]["selection"]["item"]  # 0.01: within the tolerance
    assert item == (
        f"smoothing item_uniform-a0.1, item: dose 0.075; the control is not overconfident (gap {gap:+.3f}): "
        "any dose pushes it toward underconfidence."
    )
    older = frame([arm(), arm(smoothing="uniform-a0.1")], regime_record=regime_record(0.9)).assign(dose=None)
    assert all("dose not recorded" in s for s in dose_readings(older, CONTROL))
