"""The grouped report's logic on a hand-made table of runs: which pairs are ablations, Table 1 beside THEIRS."""

import pandas as pd

from lsml_core.grouped.report import FACTORS, ablation_pairs, conclusions, table_one

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
    pairs = sorted((factor, index[base], index[other]) for factor, base, other in ablation_pairs(frame(arms), CONTROL))
    assert pairs == [
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
    assert main["ours val"].tolist() == ["10.00 ± 0.00 (n=1)"]  # the smoothed arm is not a Table 1 row
    other = table[table["ours backbone"] == "mobilenet_v2"]
    assert other["THEIRS backbone"].tolist() == ["ResNet-50"]
    assert len(table) == 5  # their five rows; ours matched to three of them


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
                "95% interval": "[-0.120, -0.040]",
                "verdict": "lower",
            }
        ]
    )
    assert conclusions(table) == [
        "sesemi labeled -> none: test exact match 0.500 -> 0.420 (-0.080, 95% interval [-0.120, -0.040] over test "
        "images, one seed): lower."
    ]
