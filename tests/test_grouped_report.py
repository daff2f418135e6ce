"""The grouped report's logic on a hand-made table of runs: which pairs are ablations, Table 1 beside THEIRS,
the summary and its figure, tables without missing or raw values."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from lsml_core import tables
from lsml_core.grouped.report import (
    FACTORS,
    ablation_pairs,
    ablations_figure,
    conclusions,
    pseudo_table,
    runs_on_test,
    signed,
    summary_table,
    table_one,
)

CONTROL = dict(
    backbone="resnet18", head="grouped", sesemi="labeled", weights="digit 1, item 5", smoothing="nosmooth", pseudo="on"
)


def arm(**changes) -> dict:
    return {**CONTROL, **changes}


def frame(arms: list[dict], split: str = "test") -> pd.DataFrame:
    rows = []
    for i, a in enumerate(arms):
        weight = 1.0 if a["weights"].endswith("item 1") else 5.0
        for s in ("train", "val", "test"):
            rows.append(
                {"run": f"r{i}", **a, "harder_weight": weight, "seed": 0, "split": s, "exact_match": 0.1 * (i + 1)}
            )
    return pd.DataFrame(rows)


def test_ablations_pair_each_arm_with_the_arm_holding_the_control_value():
    arms = [
        arm(),
        arm(sesemi="none"),
        arm(head="flat"),
        arm(head="flat", smoothing="uniform-e0.1"),
        arm(smoothing="uniform-e0.1"),
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


def test_table_one_stands_ours_beside_theirs_by_backbone_role():
    runs = frame([arm(), arm(weights="digit 1, item 1"), arm(backbone="mobilenet_v2"), arm(smoothing="uniform-e0.1")])
    table = table_one(runs, CONTROL)
    main = table[
        (table["ours backbone"] == "resnet18")
        & (table["weight of the harder group"] == 5.0)
        & (table.sesemi == "labeled")
    ]
    assert main["THEIRS backbone"].tolist() == ["MobileNetV2"] and main["THEIRS 20 ep val"].tolist() == [91.75]
    assert main["ours val"].tolist() == ["10.00 (one seed)"]  # the smoothed arm is not a Table 1 row
    other = table[table["ours backbone"] == "mobilenet_v2"]
    assert other["THEIRS backbone"].tolist() == ["ResNet-50"]
    assert len(table) == 5  # their five rows; ours matched to three of them
    assert (table[table["THEIRS 20 ep val"] == 88.43][["ours backbone", "ours val"]] == "not run").all().all()
    assert table.drop(columns=[c for c in table if c.startswith("THEIRS ") and "ep" in c]).notna().all().all()


def test_table_one_gives_mean_and_std_over_seeds():
    runs = pd.concat([frame([arm()]), frame([arm()]).assign(seed=1, exact_match=0.3)])
    main = table_one(runs, CONTROL).dropna(subset=["THEIRS 50 ep val"]).iloc[0]
    assert main["ours val"] == "20.00 ± 14.14 (n=2)"


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
        "images, one seed): lower."
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
        pseudo_threshold=[0.9] * 3 + [None] * 3, pseudo_fraction_kept=[0.5] * 3 + [None] * 3, pseudo_accuracy=None
    )
    test = runs_on_test(runs)
    assert test.run.tolist() == ["r0", "r1"] and "pseudo" in test  # the factor stays
    assert not [c for c in test if c.startswith("pseudo_") or c in ("split", "harder_weight")]
    pseudo = pseudo_table(runs)
    assert pseudo.run.tolist() == ["r0"]
    html = tables.styled(pseudo, missing="n/a (none kept)").to_html()
    assert "n/a (none kept)" in html and "None" not in html and "nan" not in html.lower()


def test_differences_are_formatted_with_their_sign():
    table = pd.DataFrame({"factor": ["head"], "difference": [0.01], "interval low": [-0.02], "Δ ECE item": [0.003]})
    assert signed(table) == {c: "{:+.3f}" for c in ("difference", "interval low", "Δ ECE item")}
    html = tables.styled(table, signed(table)).to_html()
    assert "+0.010" in html and "-0.020" in html and "+0.003" in html
