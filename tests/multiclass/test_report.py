"""The single-label report's computed parts: replication verdicts paired by seed, Mueller et al.'s projection,
the summary of differences from CE, arms in the study's order, tables without missing or raw values."""

import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from lsml_core import tables
from lsml_core.bootstrap import ONE_SEED
from lsml_core.multiclass.evaluate import write_predictions
from lsml_core.multiclass.plots import effects_figure
from lsml_core.multiclass.replication import conclusions, published_beside_ours, replication_table
from lsml_core.multiclass.report import template_plane
from lsml_core.multiclass.runs import (
    ARMS,
    arm_order,
    class_table,
    distillation_table,
    grid_table,
    representative_runs,
    selection_table,
    teacher_table,
)
from lsml_core.multiclass.summary import HEADLINE_METRICS, RunStatistics, arm_effects, paired_interval, summary_table
from lsml_core.multiclass.two_ways import two_ways_sentences, two_ways_table


def teacher_rows(values: dict[tuple[str, int], float], value: str = "ece", model: str = "resnet8") -> list[dict]:
    """Teacher rows of a runs frame: {(arm, seed): value} on test, before scaling."""
    return [
        {
            "run": f"{arm}-{seed}",
            "model": model,
            "arm": arm,
            "seed": seed,
            "student": False,
            "chosen": True,
            "teacher_model": model,
            "teacher_scaled": False,
            "kd_temperature": float("nan"),
            "split": "test",
            "when": "before",
            **{"accuracy": 0.5, "log_loss": 0.5, "ece": 0.5, "classwise_ece": 0.5, "brier": 0.5, value: v},
        }
        for (arm, seed), v in values.items()
    ]


def shown(table: pd.DataFrame, **style) -> str:
    """The table as the report shows it (HTML)."""
    return tables.styled(table, **style).to_html()


N_TEST = 400


def write_teachers(profile_dir, values: dict, model: str = "resnet8") -> pd.DataFrame:
    """Teacher rows of a runs frame with their test predictions: {(arm, seed): (accuracy, confidence)}; the first
    `accuracy` share of the images is right, every image predicted at top-label `confidence` (3 classes), so its
    top-label ECE is |confidence - accuracy|."""
    labels = np.arange(N_TEST) % 3
    rows = []
    for (arm, seed), (accuracy, confidence) in values.items():
        predicted = np.where(np.arange(N_TEST) < accuracy * N_TEST, labels, (labels + 1) % 3)
        logits = np.full((N_TEST, 3), np.log((1 - confidence) / 2))
        logits[np.arange(N_TEST), predicted] = np.log(confidence)
        run = f"{model}-{arm}-{seed}"
        write_predictions(profile_dir / "runs" / run / "predictions_test.csv", labels, logits, ("a", "b", "c"))
        row = teacher_rows({(arm, seed): accuracy}, "accuracy", model)[0]
        rows.append({**row, "run": run, "ece": abs(confidence - accuracy)})
    return pd.DataFrame(rows)


def test_difference_is_paired_by_seed_over_the_seeds_both_arms_have(tmp_path):
    values = {("LS", 0): (0.8, 0.9), ("LS", 1): (0.8, 0.7), ("CE", 0): (0.8, 0.92), ("CE", 1): (0.8, 0.71)}
    rows = write_teachers(tmp_path, {**values, ("CE", 2): (0.1, 0.99)})
    stats = RunStatistics(tmp_path)
    paired = paired_interval(stats, rows, "ece", "LS", "CE", n_boot=200).loc["resnet8"]
    assert paired.seeds == 2 and paired.ref == pytest.approx((0.12 + 0.09) / 2)  # CE's seed 2 has no LS partner
    assert paired.difference == pytest.approx(-0.005)  # (0.10 - 0.12 + 0.10 - 0.09) / 2
    assert paired.ci_low < paired.difference < paired.ci_high
    assert stats.value("resnet8-CE-0", "accuracy") == pytest.approx(0.8)
    assert stats.value("resnet8-CE-0", "log_loss") == pytest.approx(-(0.8 * np.log(0.92) + 0.2 * np.log(0.04)))


def test_verdicts_read_the_interval_in_the_published_direction(tmp_path):
    ece = {("CE", 0): (0.8, 0.9), ("CE", 1): (0.8, 0.91), ("LS", 0): (0.8, 0.82), ("LS", 1): (0.8, 0.83)}
    ece |= {("ILS", 0): (0.8, 0.95), ("ILS", 1): (0.8, 0.81)}  # one seed better, one worse than CE
    accuracy = {("LS", 0): (0.9, 0.9), ("ILS", 0): (0.6, 0.9)}
    frame = pd.concat([write_teachers(tmp_path, ece), write_teachers(tmp_path, accuracy, model="resnet20")])
    table = replication_table(tmp_path, frame, n_boot=300)
    assert table.loc[("LS lowers ECE vs CE", "resnet8"), "verdict"] == "reproduced"
    assert table.loc[("ILS lowers ECE vs CE", "resnet8"), "verdict"] == "inconclusive"
    one_seed = table.loc[("ILS at least as accurate as LS", "resnet20")]
    assert one_seed.verdict == f"contradicted ({ONE_SEED})" and one_seed.seeds == 1
    student_claim = "LS teacher distils worse than CE teacher (student accuracy)"
    assert table.loc[(student_claim, "-"), "verdict"] == "not run"
    assert (
        "THEIR" in table.columns[0]
        and "DenseNet" in table.columns[0]
        and table.loc[("LS lowers ECE vs CE", "resnet8"), table.columns[0]] == "0.0100 vs 0.0260"
    )
    sentences = conclusions(table)
    assert f"{student_claim}: not run." in sentences
    assert any(
        s.startswith("LS lowers ECE vs CE (resnet8): reproduced (ours: difference -0.0800, 95% interval [")
        and s.endswith("over 2 seeds and the test images).")
        for s in sentences
    )


def test_a_null_result_is_not_reproduced(tmp_path):
    same = {("CE", 0): (0.8, 0.9), ("CE", 1): (0.8, 0.91), ("LS", 0): (0.8, 0.9), ("LS", 1): (0.8, 0.91)}
    table = replication_table(tmp_path, write_teachers(tmp_path, same), n_boot=200)
    assert table.loc[("LS lowers ECE vs CE", "resnet8"), "verdict"] == "inconclusive"


def test_replication_table_says_one_seed_and_not_run_in_words(tmp_path):
    table = replication_table(tmp_path, write_teachers(tmp_path, {("CE", 0): (0.8, 0.81), ("LS", 0): (0.8, 0.95)}))
    assert table.loc[("LS lowers ECE vs CE", "resnet8"), "verdict"] == f"contradicted ({ONE_SEED})"
    not_run = table.loc[("ILS lowers ECE vs CE", "-")]
    assert not_run["ours (arm vs reference)"] == not_run["ours: 95% interval"] == "not run"
    assert not_run.seeds == 0 and np.isnan(not_run["ours: difference"])  # the only missing value: shown as `not run`
    assert table.drop(columns="ours: difference").notna().all().all()
    html = shown(table, missing="not run")
    assert "nan" not in html.lower() and "None" not in html and ONE_SEED in html


def write_students(profile_dir, values: dict, temperature: float) -> pd.DataFrame:
    """Shallow students of resnet8 teachers at one distillation temperature: {(teacher arm, seed): (accuracy,
    confidence)} as `write_teachers` writes them."""
    rows = write_teachers(profile_dir, values, model=f"shallow-T{temperature:g}")
    return rows.assign(model="shallow", student=True, teacher_model="resnet8", kd_temperature=temperature)


def test_each_teachers_students_are_read_against_the_student_trained_alone_per_temperature(tmp_path):
    alone = write_teachers(tmp_path, {("CE", s): (0.70, 0.8) for s in range(3)}, model="shallow")
    better = write_students(tmp_path, {(arm, s): (0.80 + 0.01 * s, 0.85) for arm in ("CE", "LS") for s in range(3)}, 2)
    worse = write_students(tmp_path, {(arm, s): (0.60 + 0.01 * s, 0.85) for arm in ("CE", "LS") for s in range(3)}, 20)
    table = replication_table(tmp_path, pd.concat([alone, better, worse]), n_boot=300)
    helps = "CE teacher's student more accurate than the student trained alone"
    assert table.loc[(helps, "shallow from resnet8, T=2"), "verdict"] == "reproduced"
    assert table.loc[(helps, "shallow from resnet8, T=20"), "verdict"] == "contradicted"
    assert table.loc[(helps, "shallow from resnet8, T=2"), "seeds"] == 3
    assert table.loc[(helps, "shallow from resnet8, T=2"), "ours: difference"] == pytest.approx(0.11)
    assert (
        table.loc[("ILS teacher's student more accurate than the student trained alone", "-"), "verdict"] == "not run"
    )
    ls_worse = table.loc[("LS teacher distils worse than CE teacher (student accuracy)", "shallow from resnet8, T=2")]
    assert ls_worse["ours: difference"] == pytest.approx(0.0) and ls_worse.verdict == "inconclusive"


def test_two_ways_of_smoothing_read_alike_unless_their_interval_excludes_zero(tmp_path):
    same = {(arm, s): (0.8, 0.9 + 0.01 * s) for arm in ("LS", "LS (explicit targets)") for s in range(3)}
    table = two_ways_table(tmp_path, write_teachers(tmp_path, same), n_boot=200)
    assert set(table.metric) == set(HEADLINE_METRICS.values()) and set(table.verdict) == {"no clear difference"}
    assert two_ways_sentences(table)[0].startswith("resnet8: explicit smoothed targets and smoothing in the loss show")
    apart = {("LS", s): (0.6, 0.9) for s in range(3)} | {("LS (explicit targets)", s): (0.8, 0.9) for s in range(3)}
    table = two_ways_table(tmp_path / "apart", write_teachers(tmp_path / "apart", apart, model="resnet20"), n_boot=200)
    accuracy = table[table.metric == "accuracy"].iloc[0]
    assert accuracy.verdict == "higher" and accuracy["explicit - in the loss [95% CI]"].startswith("+0.2000 [")
    sentence = two_ways_sentences(table)[0]
    assert sentence.startswith("resnet20: the two ways differ") and "accuracy higher with explicit targets" in sentence
    assert two_ways_table(tmp_path, write_teachers(tmp_path, {("LS", 0): (0.8, 0.9)}), n_boot=50).empty


def test_plane_is_orthonormal_and_keeps_the_templates_distances():
    templates = np.random.default_rng(0).normal(size=(3, 16))
    basis = template_plane(templates)
    assert basis.shape == (2, 16) and np.allclose(basis @ basis.T, np.eye(2))
    projected = templates @ basis.T
    for i, j in ((0, 1), (0, 2), (1, 2)):  # the templates lie in the plane: their distances are kept
        assert np.linalg.norm(projected[i] - projected[j]) == pytest.approx(np.linalg.norm(templates[i] - templates[j]))


def test_a_direction_orthogonal_to_the_plane_projects_to_zero():
    templates = np.eye(3, 5)
    assert np.allclose(np.array([0, 0, 0, 1.0, -2.0]) @ template_plane(templates).T, 0)
    with pytest.raises(ValueError, match="three class templates"):
        template_plane(np.eye(2, 5))


def test_arms_read_ce_ls_ils_then_the_others():
    assert ARMS[:3] == ("CE", "LS", "ILS") and "student" in ARMS
    assert arm_order(["student", "ILS", "zeta", "LS", "alpha", "CE", "LS (explicit targets)"]) == [
        "CE",
        "LS",
        "ILS",
        *[a for a in ARMS[3:] if a in ("student", "LS (explicit targets)")],
        "alpha",
        "zeta",
    ]


def test_tables_order_arms_within_each_model():
    values = {(arm, seed): 0.1 for arm in ("ILS", "zeta", "LS", "CE") for seed in (0, 1)}
    rows = pd.DataFrame(teacher_rows(values, model="resnet8") + teacher_rows(values, model="resnet20"))
    rows = rows.sample(frac=1, random_state=0)  # appearance order must not matter
    expected = ["CE", "LS", "ILS", "zeta"]
    teachers = teacher_table(rows).reset_index()
    assert teachers.model.tolist() == ["resnet20"] * 4 + ["resnet8"] * 4
    assert teachers.arm.tolist() == expected * 2
    assert published_beside_ours(rows).loc["resnet8"].index.tolist() == expected
    assert list(representative_runs(rows)) == expected
    students = rows.assign(student=True, model="shallow", kd_temperature=20.0).sample(frac=1, random_state=1)
    assert distillation_table(students).reset_index().arm.tolist() == expected * 2  # per teacher model


def test_mean_std_over_one_seed_says_so():
    rows = pd.DataFrame(teacher_rows({("CE", 0): 0.25, ("LS", 0): 0.5, ("LS", 1): 0.7}, "accuracy"))
    table = teacher_table(rows).loc[("resnet8", slice(None), "before"), "accuracy"]
    assert table.tolist() == ["0.2500 (one seed)", "0.6000 ± 0.1414 (n=2)"]


def effect_rows(profile_dir) -> pd.DataFrame:
    """resnet8: CE, LS, ILS over two seeds; resnet20: CE and LS over one seed; shallow: LS only."""
    accuracy = {("CE", 0): 0.80, ("CE", 1): 0.82, ("LS", 0): 0.83, ("LS", 1): 0.84, ("ILS", 0): 0.79, ("ILS", 1): 0.81}
    return pd.concat(
        [
            write_teachers(profile_dir, {k: (v, 0.9) for k, v in accuracy.items()}),
            write_teachers(profile_dir, {("CE", 0): (0.5, 0.9), ("LS", 0): (0.6, 0.9)}, model="resnet20"),
            write_teachers(profile_dir, {("LS", 0): (0.7, 0.9)}, model="shallow"),
        ]
    )


def test_effects_are_paired_differences_from_ce(tmp_path):
    effects = arm_effects(tmp_path, effect_rows(tmp_path), n_boot=200).set_index(["model", "arm", "metric"])
    ls = effects.loc[("resnet8", "LS", "accuracy")]
    assert ls["mean"] == pytest.approx(0.835) and ls.seeds == 2 and ls["paired seeds"] == 2
    assert ls.difference == pytest.approx(0.025) and ls.ci_low < 0.025 < ls.ci_high
    assert effects.loc[("resnet8", "ILS", "accuracy")].difference == pytest.approx(-0.01)
    assert effects.loc[("resnet8", "LS", "ece")].difference == pytest.approx(-0.025)  # |0.9 - acc|
    assert effects.loc[("resnet20", "LS", "accuracy")]["paired seeds"] == 1  # one seed
    assert effects.loc[("shallow", "LS", "accuracy")]["paired seeds"] == 0  # no CE run to pair with
    assert np.isnan(effects.loc[("resnet8", "CE", "accuracy")].difference)  # the baseline itself
    assert set(effects.index.get_level_values("metric")) == set(HEADLINE_METRICS)


def test_summary_table_reads_in_words_and_arm_order(tmp_path):
    effects = arm_effects(tmp_path, effect_rows(tmp_path), n_boot=200)
    summary = summary_table(effects)
    assert summary[["model", "arm"]].values.tolist() == [  # models by name, arms in the study's order
        ["resnet20", "CE"],
        ["resnet20", "LS"],
        ["resnet8", "CE"],
        ["resnet8", "LS"],
        ["resnet8", "ILS"],
        ["shallow", "LS"],
    ]
    delta = summary.set_index(["model", "arm"])["Δ accuracy vs CE [95% CI]"]
    ls = effects.set_index(["model", "arm", "metric"]).loc[("resnet8", "LS", "accuracy")]
    assert delta[("resnet8", "CE")] == "baseline"
    assert delta[("resnet8", "LS")] == f"+0.0250 [{ls.ci_low:+.4f}, {ls.ci_high:+.4f}]"
    assert delta[("resnet20", "LS")].startswith("+0.1000 [") and delta[("resnet20", "LS")].endswith(f"({ONE_SEED})")
    assert delta[("shallow", "LS")] == "n/a (no paired run)"
    assert summary.set_index(["model", "arm"]).loc[("resnet8", "LS"), "accuracy"] == pytest.approx(0.835)
    assert list(summary.columns[:5]) == ["model", "arm", "seeds", "accuracy", "Δ accuracy vs CE [95% CI]"]
    html = shown(summary)
    assert "nan" not in html.lower() and "None" not in html and "<th" in html


def test_effects_figure_plots_each_arms_difference_with_its_interval(tmp_path):
    figure = effects_figure(arm_effects(tmp_path, effect_rows(tmp_path), n_boot=100))
    accuracy = figure.axes[0]
    assert "accuracy" in accuracy.get_title() and [t.get_text() for t in accuracy.get_xticklabels()] == ["LS", "ILS"]
    resnet20, resnet8 = accuracy.containers  # one error bar series per model with a paired arm, by name
    assert resnet8.get_label() == "resnet8" and resnet20.get_label() == "resnet20"
    assert np.allclose(resnet8.lines[0].get_ydata(), [0.025, -0.01])
    assert np.allclose(resnet20.lines[0].get_ydata()[0], 0.1) and np.isnan(resnet20.lines[0].get_ydata()[1])
    plt.close(figure)
    empty = effects_figure(arm_effects(tmp_path, write_teachers(tmp_path, {("CE", 0): (0.5, 0.9)}, model="m")))
    assert "no arm paired with CE" in [t.get_text() for t in empty.axes[0].texts]
    plt.close(empty)


def test_selection_table_lists_every_grid_point_in_words(tmp_path):
    scores = {"resnet8-ils-T2-s0": -0.4, "resnet8-ils-T4-s0": -0.3}
    selection = {
        "metric": "log_loss",
        "per_model_seed": {"resnet8-s0": {"scores": scores, "chosen": "resnet8-ils-T4-s0"}},
    }
    (tmp_path / "selection.json").write_text(json.dumps(selection))
    table = selection_table(tmp_path)
    assert table["selection log loss (lowest chosen)"].tolist() == [0.4, 0.3]
    assert table.chosen.tolist() == [False, True] and table["model and seed"].tolist() == ["resnet8-s0"] * 2
    assert "<td" not in shown(selection_table(tmp_path / "missing"))  # no selection.json: no rows
    assert "yes" in shown(table) and "{'" not in shown(table) and "scores" not in shown(table)


def test_class_table_puts_accuracy_under_f1_score():
    metrics = {
        "classification_report": {
            "shirt": {"precision": 0.5, "recall": 1.0, "f1-score": 0.667, "support": 2.0},
            "bag": {"precision": 1.0, "recall": 0.5, "f1-score": 0.667, "support": 2.0},
            "accuracy": 0.75,
            "macro avg": {"precision": 0.75, "recall": 0.75, "f1-score": 0.667, "support": 4.0},
        }
    }
    table = class_table(metrics)
    assert table["class"].tolist() == ["shirt", "bag", "accuracy", "macro avg"]
    accuracy = table.set_index("class").loc["accuracy"]
    assert accuracy["f1-score"] == 0.75 and accuracy.support == 4 and np.isnan(accuracy.precision)
    assert table.support.dtype == int and "nan" not in shown(table, missing="").lower()
    assert ">4<" in shown(table) and "4.0" not in shown(table)  # counts read as counts


def test_grid_table_writes_the_grid_point_as_the_profile_does():
    rows = pd.DataFrame(teacher_rows({("ILS", 0): 0.8, ("ILS", 1): 0.6}, "accuracy")).assign(
        split="selection", alpha=0.1, ils_temperature=2.0, chosen=[True, False]
    )
    table = grid_table(rows)
    assert table.index.tolist() == [("resnet8", "0.1", "2")] and table.index.names == ["model", "alpha", "T"]
    assert table.selection_accuracy.tolist() == [pytest.approx(0.7)] and table.chosen_in_seeds.tolist() == [1]


def test_headline_statistics_match_scikit_learn_on_the_resampled_images():
    from scipy.special import softmax
    from sklearn.metrics import accuracy_score, log_loss

    from lsml_core.bootstrap import resample_counts
    from lsml_core.calibration import binary_ece
    from lsml_core.multiclass.summary import image_statistics

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 300)
    logits = rng.normal(0, 2, (300, 4)) + 2 * np.eye(4)[labels]
    counts = resample_counts(300, 1, seed=3)
    rows = np.repeat(np.arange(300), counts[0])
    probs = softmax(logits[rows], axis=1)
    stats = image_statistics(labels, logits)
    assert stats["accuracy"](counts)[0] == pytest.approx(accuracy_score(labels[rows], probs.argmax(1)))
    assert stats["log_loss"](counts)[0] == pytest.approx(log_loss(labels[rows], probs, labels=range(4)))
    brier = ((probs - np.eye(4)[labels[rows]]) ** 2).sum(1).mean()
    assert stats["brier"](counts)[0] == pytest.approx(brier)
    right = (probs.argmax(1) == labels[rows]).astype(float)
    assert stats["ece"](counts)[0] == pytest.approx(binary_ece(right, probs.max(1)))
