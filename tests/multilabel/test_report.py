"""Report tables and generated sentences, on a summary whose answers are known."""

import json

import numpy as np
import pandas as pd
import pytest

from lsml_core.multilabel import report


def fake_summary(seeds=(0,)):
    rows = []
    for seed in seeds:
        for model in ("resnet18", "mobilenet_v2"):
            for scheme, alpha, shift in (("none", 0.0, 0.0), ("uniform", 0.1, 0.02), ("positive", 0.1, -0.01)):
                for split in ("fit", "val", "val_fivecrop"):
                    for metric, base in (("voc2010", 0.70), ("voc2007", 0.69), ("sklearn", 0.68), ("sample_ap", 0.80)):
                        rows.append(
                            {
                                "run": f"{model}-{scheme}-a{alpha:g}-s{seed}",
                                "model": model,
                                "loss": "bce",
                                "scheme": scheme,
                                "alpha": alpha,
                                "seed": seed,
                                "noise": 0.0,
                                "best_epoch": 3,
                                "split": split,
                                "metric": metric,
                                "value": base + shift + 0.001 * seed,
                            }
                        )
    return pd.DataFrame(rows)


def test_study_table_layout():
    table = report.study_table(fake_summary(), "voc2010")
    assert list(table.columns) == ["none", "uniform a=0.1", "positive a=0.1"]
    assert table.loc[("val", "resnet18"), "uniform a=0.1"] == pytest.approx(0.72)
    assert list(table.index.get_level_values(0).unique()) == ["fit", "val", "val_fivecrop"]


def test_metric_gap_sentence():
    sentence = report.metric_gap_sentence(fake_summary())
    assert "in 6 of 6 runs" in sentence and "+0.100" in sentence


def test_original_comparison_directions():
    comparison = report.original_comparison(fake_summary())
    row = comparison[
        (comparison.split == "val") & (comparison.model == "resnet18") & (comparison.arm == "uniform a=0.1")
    ]
    assert row["theirs: scheme - baseline"].item() == pytest.approx(0.005)
    assert bool(row["same direction"].item())


def test_empty_results_give_empty_tables_not_errors():
    empty = report.summary_frame("/nonexistent")
    assert empty.empty and report.study_table(empty, "voc2010").empty
    assert report.original_comparison(empty).empty
    assert report.metric_gap_sentence(empty) == "No runs yet."


def test_summary_frame_reads_run_folders(tmp_path):
    run = tmp_path / "runs" / "resnet18-none-a0-s0"
    run.mkdir(parents=True)
    (run / "config.json").write_text(
        json.dumps({"train": {"model": "resnet18", "scheme": "none", "alpha": 0.0, "seed": 0}})
    )
    table = {m: {"mAP": 0.5, "per_class": {}} for m in ("voc2010", "voc2007", "sklearn")}
    (run / "metrics.json").write_text(json.dumps({"best_epoch": 2, "splits": {"val": {**table, "sample_ap": None}}}))
    summary = report.summary_frame(tmp_path)
    assert len(summary) == 4 and np.isnan(summary[summary.metric == "sample_ap"].value.item())


def test_arms_are_named_by_loss_and_scheme_and_kept_in_a_fixed_order():
    frame = pd.DataFrame(
        [
            ("focal", "uniform", 0.1),
            ("asymmetric", "none", 0.0),
            ("bce", "symmetric", 0.1),
            ("bce", "uniform", 0.3),
            ("bce", "uniform", 0.1),
            ("focal", "none", 0.0),
            ("bce", "none", 0.0),
        ],
        columns=["loss", "scheme", "alpha"],
    )
    assert report.arm_order(frame) == [
        "none",
        "uniform a=0.1",
        "uniform a=0.3",
        "symmetric a=0.1",
        "focal",
        "focal + uniform a=0.1",
        "asymmetric",
    ]
