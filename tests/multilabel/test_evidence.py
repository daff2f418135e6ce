"""The evidence sections, on run folders written with known effects."""

import json

import numpy as np
import pytest
from scipy.special import expit
from sklearn.metrics import brier_score_loss, log_loss

from lsml_core.calibration import binary_ece
from lsml_core.multilabel import evidence, plots, report, summary
from lsml_core.multilabel.calibration import calibration_metrics
from lsml_core.multilabel.config import run_name
from lsml_core.multilabel.decisions import decision_metrics
from lsml_core.multilabel.evaluate import Predictions, calibration_entry, read_predictions, write_predictions
from lsml_core.multilabel.metrics import ap_table, mean_average_precision
from lsml_core.records import write_json

CLASSES = ("a", "b", "c", "d")
ARMS = ["none", "uniform a=0.05", "uniform a=0.1", "uniform a=0.2", "positive a=0.1", "instance a=0.1"]
QUALITY = {
    "none": 1.0,
    "uniform": 3.0,
    "positive": 1.0,
    "instance": 3.0,
    "symmetric": 1.0,
}  # uniform and instance: far better rankings


def write_run(profile_dir, scheme, alpha, seed, noise=0.0, model="resnet18"):
    targets = (np.random.default_rng(0).random((300, 4)) < 0.3).astype(np.float32)  # one val split for every run
    rng = np.random.default_rng(100 + seed)
    masks = np.ones_like(targets)
    quality = QUALITY[scheme] * (1 - noise if scheme == "none" else 1)  # the baseline suffers from noise, smoothing not
    scores = (quality * (2 * targets - 1) + rng.normal(0, 1.5, targets.shape)).astype(np.float32)
    if scheme == "positive":
        scores = scores + 0.001 * np.random.default_rng(7 + seed).normal(size=scores.shape).astype(np.float32)
    name = run_name(model, scheme, alpha, seed, label_noise=noise)
    run = profile_dir / "runs" / name
    train = {"model": model, "scheme": scheme, "alpha": alpha, "seed": seed, "label_noise": noise}
    write_json(run / "config.json", {"train": train})
    splits = {}
    for split in ("val", "val_fivecrop"):
        write_predictions(
            run / f"predictions_{split}.csv",
            Predictions([f"i{i}" for i in range(300)], CLASSES, targets, masks, scores),
        )
        splits[split] = {
            **ap_table(targets, scores, list(CLASSES), masks),
            "decisions": decision_metrics(targets, scores, masks, [0.4] * 4),
            "calibration": calibration_entry(targets, masks, scores, 1.7, (0.6, -0.2)),
        }
    write_json(run / "metrics.json", {"run": name, "best_epoch": 1, "temperature": 1.7, "splits": splits})


@pytest.fixture(scope="module")
def profile_dir(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("profile")
    for seed in (0, 1):
        write_run(tmp_path, "none", 0.0, seed)
        for alpha in (0.05, 0.1, 0.2):
            write_run(tmp_path, "uniform", alpha, seed)
        write_run(tmp_path, "positive", 0.1, seed)
        write_run(tmp_path, "instance", 0.1, seed)
        for noise in (0.2, 0.4):
            write_run(tmp_path, "none", 0.0, seed, noise)
            write_run(tmp_path, "uniform", 0.1, seed, noise)
    return tmp_path


def test_runs_frame_and_arm_table(profile_dir):
    runs = evidence.runs_frame(profile_dir)
    assert len(runs) == 2 * 10 * 2 and set(runs.noise) == {0.0, 0.2, 0.4}
    table = evidence.arm_table(runs, "val")
    assert table.loc["ResNet-18", "none"].endswith("(n=2)") and "±" in table.loc["ResNet-18", "none"]


def test_effects_verdicts_follow_the_intervals(profile_dir):
    runs = evidence.runs_frame(profile_dir)
    effects, per_class = evidence.compare(
        profile_dir, runs, "val", evidence.baseline_pairs(runs[runs.noise == 0]), n_boot=200
    )
    by_arm = effects.set_index("arm")
    assert by_arm.loc["uniform a=0.1", "verdict"] == "higher" and by_arm.loc["uniform a=0.1", "seeds"] == 2
    assert by_arm.loc["positive a=0.1", "verdict"] == "no clear difference"
    assert per_class.shape == (len(effects), 4)
    sentences = evidence.effect_sentences(effects, "val")
    assert any("uniform a=0.1 - none" in s and s.endswith("higher.") for s in sentences)


def test_alpha_sweep_puts_the_baseline_at_alpha_zero(profile_dir):
    sweep = evidence.alpha_sweep(evidence.runs_frame(profile_dir), "val")
    uniform = sweep[sweep.scheme == "uniform"]
    assert list(uniform.alpha) == [0.0, 0.05, 0.1, 0.2]
    assert any("best mAP" in s for s in evidence.alpha_sentences(sweep, "val"))


def test_calibration_table_and_sentences(profile_dir):
    runs = evidence.runs_frame(profile_dir)
    table = evidence.calibration_table(runs, "val")
    assert (table["temperature"] == 1.7).all()
    sentences = evidence.calibration_sentences(table, "val")
    assert sentences[-1].startswith("Temperature scaling changed mAP by at most 0.0e+00")
    assert "after temperature scaling -> Platt scaling" in sentences[0] and "after Platt scaling" in sentences[1]
    old = table.assign(ece_pooled_after_platt=np.nan)  # runs evaluated before Platt scaling was recorded
    assert "cannot remove an offset" in evidence.calibration_sentences(old, "val")[1]
    curves = evidence.reliability_curves(profile_dir, runs, "val")
    assert list(curves["ResNet-18"]) == ARMS


def test_noise_effects_and_instance_pairs(profile_dir):
    runs = evidence.runs_frame(profile_dir)
    noisy = evidence.noise_effects(profile_dir, runs, "val", n_boot=100)
    assert set(noisy.noise) == {0.0, 0.2, 0.4}
    gains = evidence.noise_gains(profile_dir, runs, "val", n_boot=100)
    assert list(gains.noise) == [0.2, 0.4] and set(gains.arm) == {"uniform a=0.1"}
    # each gain is its own difference of the paired differences at that rate and on clean labels
    at = noisy.set_index(["arm", "noise"]).difference
    expected = at["uniform a=0.1", 0.4] - at["uniform a=0.1", 0.0]
    assert gains.set_index("noise").difference[0.4] == pytest.approx(expected)
    sentences = evidence.noise_sentences(gains, "val")
    assert len(sentences) == 2 and "gain under noise is larger than the gain on clean labels" in sentences[1]
    assert "over 2 seeds and the images" in sentences[1]
    assert evidence.instance_pairs(runs) == [("instance a=0.1", "uniform a=0.1")]


def test_baselines_at_noise_rates_alone_make_no_noise_section_and_no_reliability_figure(tmp_path):
    for seed in (0, 1):
        for noise in (0.2, 0.4):
            write_run(tmp_path, "none", 0.0, seed, noise)
    runs = evidence.runs_frame(tmp_path)
    found = evidence.findings(tmp_path, runs, n_boot=50)
    assert "noise" not in found and "noise" not in found["sentences"]
    assert "noise regime" in found["sentences"]  # each rate's baseline is still read
    assert evidence.reliability_curves(tmp_path, runs, "val") == {}  # clean-label runs only: none here


def test_findings_hold_every_section_the_profile_has(profile_dir):
    found = evidence.findings(profile_dir, evidence.runs_frame(profile_dir), n_boot=50)
    assert set(found["effects"]) == {"val", "val_fivecrop"}
    assert {"sweep", "calibration", "noise", "instance"} <= set(found)
    assert set(found["sentences"]) == {
        "effects val",
        "effects val_fivecrop",
        "alpha",
        "calibration",
        "noise",
        "noise regime",
        "instance",
    }
    assert "early stopping" not in found  # no run was read at its last epoch


def test_decision_table_keeps_the_arm_order_and_names_the_metrics(profile_dir):
    table = evidence.decision_table(evidence.runs_frame(profile_dir), "val", "t0.5")
    assert list(table.columns) == ["model", "arm", "mAP", "CP", "CR", "CF1", "OP", "OR", "OF1"]
    assert list(table.arm) == ARMS


def resampled(pred, rows):
    return type(pred)(
        [pred.ids[i] for i in rows], pred.classes, pred.targets[rows], pred.masks[rows], pred.scores[rows]
    )


def test_headline_statistics_equal_the_metrics_on_the_resampled_images(profile_dir):
    pred = read_predictions(profile_dir / "runs" / "resnet18-uniform-a0.1-s0" / "predictions_val.csv")
    pred.masks[::7, 1] = 0
    rows = np.random.default_rng(0).integers(0, len(pred.ids), len(pred.ids))
    counts = np.bincount(rows, minlength=len(pred.ids))[None, :].astype(float)
    again = resampled(pred, rows)
    stats = summary.statistics(pred)
    decisions = decision_metrics(again.targets, again.scores, again.masks)["t0.5"]
    assert stats["mAP"](counts)[0] == pytest.approx(
        mean_average_precision(again.targets, again.scores, mask=again.masks)
    )
    assert stats["CF1"](counts)[0] == pytest.approx(decisions["CF1"])
    assert stats["OF1"](counts)[0] == pytest.approx(decisions["OF1"])
    keep = again.masks > 0
    y, p = again.targets[keep], expit(again.scores[keep].astype(np.float64))
    assert stats[summary.ECE_WIDTH](counts)[0] == pytest.approx(binary_ece(y, p))
    all_images = np.ones((1, len(pred.ids)))
    observed = calibration_metrics(pred.targets, pred.scores, pred.masks)
    assert stats[summary.ECE_WIDTH](all_images)[0] == pytest.approx(observed["ece_pooled"])
    # Brier score and log loss over the flattened unmasked pairs, as scikit-learn computes them
    assert stats["Brier"](counts)[0] == pytest.approx(brier_score_loss(y, p))
    assert stats["log loss"](counts)[0] == pytest.approx(log_loss(y, p, labels=[0, 1]))
    assert stats["Brier"](all_images)[0] == pytest.approx(observed["brier"])
    # equal-mass bins: edges at the quantiles of the observed pairs, each bin about as full as the next
    y_all, p_all = pred.targets[pred.masks > 0], expit(pred.scores[pred.masks > 0].astype(np.float64))
    assert stats[summary.ECE_MASS](all_images)[0] == pytest.approx(binary_ece(y_all, p_all, equal_mass=True))


def test_headline_effects_table_and_sentences(profile_dir):
    runs = evidence.runs_frame(profile_dir)
    effects = summary.headline_effects(profile_dir, runs, "val", n_boot=100)
    assert len(effects) == 6 * len(summary.HEADLINE)
    base = effects[effects.arm == "none"]
    assert base.difference.isna().all()
    uniform = effects[(effects.arm == "uniform a=0.1")].set_index("metric")
    assert uniform.loc["mAP", "verdict"] == "higher" and uniform.loc["mAP", "paired_seeds"] == 2
    clean = runs[(runs.split == "val") & (runs.noise == 0) & (runs.arm == "uniform a=0.1")]
    assert uniform.loc["mAP", "value"] == pytest.approx(clean["map"].mean())
    assert uniform.loc["CF1", "value"] == pytest.approx(clean["CF1_t0.5"].mean())
    table = summary.headline_table(effects)
    assert list(table.columns[:4]) == ["model", "arm", "seeds", "mAP"]
    assert table.loc[0, "mAP - none [95% CI]"] == "baseline" and table.loc[0, "model"] == "ResNet-18"
    assert table.set_index("arm").loc["uniform a=0.1", "mAP - none [95% CI]"].startswith("+")
    figure = plots.headline(effects, "val")
    assert [ax.get_title().split(" - ")[0] for ax in figure.axes] == list(summary.HEADLINE)
    assert [t.get_text() for t in figure.axes[0].get_yticklabels()] == ARMS[1:]
    sentences = summary.headline_sentences(effects, "val")
    assert len(sentences) == len(summary.HEADLINE)
    assert "better: uniform a=0.05" in sentences[0]
    assert "(2 paired seeds; intervals over seeds and images)" in sentences[0]


def test_interval_text_says_what_is_missing():
    assert summary.interval_text("none", np.nan, np.nan, np.nan) == "baseline"
    assert summary.interval_text("focal", np.nan, np.nan, np.nan) == "n/a (no paired baseline run)"
    assert summary.interval_text("focal", 0.01, -0.002, 0.02) == "+0.010 [-0.002, +0.020]"


def test_headline_refuses_runs_evaluated_on_different_images(tmp_path):
    write_run(tmp_path, "none", 0.0, 0)
    write_run(tmp_path, "uniform", 0.1, 0)
    path = tmp_path / "runs" / "resnet18-uniform-a0.1-s0" / "predictions_val.csv"
    path.write_text(path.read_text().replace("i1,", "i1b,", 1))
    with pytest.raises(ValueError, match="evaluated on different images or labels"):
        summary.headline_effects(tmp_path, evidence.runs_frame(tmp_path), "val", n_boot=10)


def test_histories_come_in_the_reports_arm_order_with_model_names(tmp_path):
    for scheme, alpha, loss in (("uniform", 0.1, "focal"), ("uniform", 0.1, "bce"), ("none", 0.0, "bce")):
        run = tmp_path / "runs" / run_name("resnet18", scheme, alpha, 0, loss=loss)
        write_json(
            run / "config.json",
            {"train": {"model": "resnet18", "scheme": scheme, "alpha": alpha, "seed": 0, "loss": loss}},
        )
        (run / "history.csv").write_text("epoch,train_loss\n1,0.5\n2,0.4\n")
    stacked = report.histories(tmp_path)
    assert list(dict.fromkeys(stacked.arm)) == ["none", "uniform a=0.1", "focal + uniform a=0.1"]
    assert set(stacked.model) == {"ResNet-18"}
    assert all(list(group.epoch) == [1, 2] for _, group in stacked.groupby("arm"))


def test_doses_stand_beside_the_baselines_overconfidence(tmp_path):
    gaps = {"all": 0.076, "positives": 0.1, "negatives": 0.05}
    for scheme, alpha, value in (("none", 0.0, 0.0), ("uniform", 0.1, 0.025), ("symmetric", 0.1, 0.1)):
        write_run(tmp_path, scheme, alpha, 0)
        path = tmp_path / "runs" / run_name("resnet18", scheme, alpha, 0) / "metrics.json"
        metrics = json.loads(path.read_text())
        regime_entry = {"selection_split": "selection", "confidence_gap": {"selection": gaps}}
        write_json(path, {**metrics, "dose": value, "regime": regime_entry})
    write_run(tmp_path, "positive", 0.1, 0)  # trained by an older revision: no dose
    assert report.dose_readings(tmp_path) == [
        "ResNet-18 BCE, uniform a=0.1: dose 0.025, below the baseline's overconfidence 0.076: room to calibrate.",
        "ResNet-18 BCE, positive a=0.1: dose not recorded (its runs were trained by an older revision).",
        "ResNet-18 BCE, symmetric a=0.1: dose 0.100, at or above the baseline's overconfidence 0.076: "
        "expect underconfidence.",
    ]
    table = evidence.calibration_table(evidence.runs_frame(tmp_path), "val").loc["ResNet-18"]
    assert table["dose"].to_dict() == pytest.approx(
        {"none": 0.0, "uniform a=0.1": 0.025, "positive a=0.1": np.nan, "symmetric a=0.1": 0.1}, nan_ok=True
    )
    assert (table["baseline overconfidence"] == 0.076).all()
