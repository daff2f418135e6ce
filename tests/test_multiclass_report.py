"""The single-label report's computed parts: replication verdicts paired by seed, Mueller et al.'s projection."""

import numpy as np
import pandas as pd
import pytest

from lsml_core.multiclass.report import conclusions, paired_difference, replication_table, template_plane


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
            "split": "test",
            "when": "before",
            **{"ece": 0.5, "accuracy": 0.5, value: v},
        }
        for (arm, seed), v in values.items()
    ]


def test_difference_is_paired_by_seed_over_the_seeds_both_arms_have():
    rows = pd.DataFrame(
        teacher_rows({("LS", 0): 0.10, ("LS", 1): 0.30, ("CE", 0): 0.12, ("CE", 1): 0.31, ("CE", 2): 9.0})
    )
    paired = paired_difference(rows, "ece", "LS", "CE").loc["resnet8"]
    assert paired.seeds == 2 and paired.ref == pytest.approx(0.215)  # CE's seed 2 has no LS partner
    assert paired.difference == pytest.approx(-0.015) and paired["std"] == pytest.approx(np.std([-0.02, -0.01], ddof=1))


def test_verdicts_follow_direction_spread_and_seed_count():
    ece = {("CE", 0): 0.05, ("CE", 1): 0.06, ("LS", 0): 0.01, ("LS", 1): 0.02, ("ILS", 0): 0.06, ("ILS", 1): 0.04}
    accuracy = {("LS", 0): 0.90, ("ILS", 0): 0.90}
    frame = pd.DataFrame(teacher_rows(ece) + teacher_rows(accuracy, "accuracy", model="resnet20"))
    table = replication_table(frame)
    assert table.loc[("LS lowers ECE vs CE", "resnet8"), "verdict"] == "reproduced"  # -0.04 +- 0
    assert (
        table.loc[("ILS lowers ECE vs CE", "resnet8"), "verdict"] == "reproduced (within seed std)"
    )  # -0.005 +- 0.021
    assert table.loc[("ILS at least as accurate as LS", "resnet20"), "verdict"] == "reproduced (one seed: no spread)"
    assert table.loc[("ILS at least as accurate as LS", "resnet20"), "seeds"] == 1  # a tie counts as "at least"
    student_claim = "LS teacher distils worse than CE teacher (student accuracy)"
    assert table.loc[(student_claim, "-"), "verdict"] == "not run"
    assert (
        "THEIR" in table.columns[0]
        and "DenseNet" in table.loc[("LS lowers ECE vs CE", "resnet8"), "theirs (THEIR numbers)"]
    )
    sentences = conclusions(table)
    assert f"{student_claim}: not run." in sentences
    assert (
        "LS lowers ECE vs CE (resnet8): reproduced (ours: difference -0.0400, seed std 0.0000 over 2 seeds)."
        in sentences
    )
    assert any(
        s.startswith("ILS at least as accurate as LS (resnet20)") and s.endswith("one seed).") for s in sentences
    )


def test_a_claim_against_its_direction_is_not_reproduced():
    frame = pd.DataFrame(
        teacher_rows(
            {("CE", 0): 0.01, ("LS", 0): 0.05, ("CE", 1): 0.01, ("LS", 1): 0.06, ("ILS", 0): 0.02, ("ILS", 1): 0.0}
        )
    )
    table = replication_table(frame)
    assert table.loc[("LS lowers ECE vs CE", "resnet8"), "verdict"] == "not reproduced"  # +0.045 +- 0.007
    assert table.loc[("ILS lowers ECE vs CE", "resnet8"), "verdict"] == "not reproduced (within seed std)"  # 0 +- 0.014
    one_seed = replication_table(pd.DataFrame(teacher_rows({("CE", 0): 0.01, ("LS", 0): 0.05})))
    assert one_seed.loc[("LS lowers ECE vs CE", "resnet8"), "verdict"] == "not reproduced (one seed: no spread)"


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
